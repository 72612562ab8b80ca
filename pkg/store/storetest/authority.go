package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// testAuthorityFilter: Query.Authority (statements/read/mine) keeps the
// statements whose authority is the given Agent or OAuth Group, by identity,
// also through paging, and a cursor cannot drop the filter.
func testAuthorityFilter(t *testing.T, open Factory) {
	s := open(t)
	lms := map[string]any{"objectType": "Agent", "name": "LMS", "account": map[string]any{"homePage": "https://lms.test", "name": "k1"}}
	other := mbox("other-lms")
	oauth := map[string]any{"objectType": "Group", "member": []any{mbox("consumer"), mbox("user")}}
	withAuthority := func(sec int, auth map[string]any, actor string) store.Statement {
		b := basic(actor, "did", "x")
		b["authority"] = auth
		return S("t1", newID(), at(sec), b)
	}
	mine1 := withAuthority(1, lms, "ann")
	mine2 := withAuthority(2, lms, "bob")
	mine3 := withAuthority(3, lms, "ann")
	theirs := withAuthority(4, other, "ann")
	// The LMS agent appears as the actor of someone else's statement: that
	// is not its statement.
	actorOnly := withAuthority(5, other, "x")
	actorOnly.JSON = []byte(`{"id":"` + actorOnly.ID + `","actor":{"objectType":"Agent","account":{"homePage":"https://lms.test","name":"k1"}},` +
		`"verb":{"id":"http://example.com/verbs/did"},"object":{"id":"http://example.com/activities/x"},"authority":{"mbox":"mailto:other-lms@example.com"}}`)
	viaOAuth := withAuthority(6, oauth, "ann")
	otherTenant := withAuthority(7, lms, "ann")
	otherTenant.Tenant = "t2"
	apply(t, s, mine1, mine2, mine3, theirs, actorOnly, viaOAuth, otherTenant)

	lmsJSON := `{"account":{"name":"k1","homePage":"https://lms.test"},"objectType":"Agent"}`
	oauthSwapped := `{"objectType":"Group","member":[{"mbox":"mailto:user@example.com"},{"mbox":"mailto:consumer@example.com"}]}`
	tests := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"agent authority, any member order", store.Query{Tenant: "t1", Authority: lmsJSON}, []string{mine3.ID, mine2.ID, mine1.ID}},
		{"with another filter", store.Query{Tenant: "t1", Authority: lmsJSON, Agent: annJSON}, []string{mine3.ID, mine1.ID}},
		{"paged", store.Query{Tenant: "t1", Authority: lmsJSON, Limit: 1, Ascending: true}, []string{mine1.ID, mine2.ID, mine3.ID}},
		{"OAuth group, members in another order", store.Query{Tenant: "t1", Authority: oauthSwapped}, []string{viaOAuth.ID}},
		{"other tenant", store.Query{Tenant: "t2", Authority: lmsJSON}, []string{otherTenant.ID}},
		{"nobody's", store.Query{Tenant: "t1", Authority: `{"mbox":"mailto:nobody@example.com"}`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(t, s, tc.q); !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}

	// A cursor from an unfiltered listing cannot continue a filtered one.
	p, err := s.QueryStatements(ctx(t), store.Query{Tenant: "t1", Limit: 1})
	if err != nil || p.More == "" {
		t.Fatalf("first page: more=%q err=%v", p.More, err)
	}
	if _, err := s.QueryStatements(ctx(t), store.Query{Tenant: "t1", Authority: lmsJSON, Cursor: p.More}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Fatalf("unfiltered cursor under an authority filter: %v, want ErrInvalidQuery", err)
	}
	if _, err := s.QueryStatements(ctx(t), store.Query{Tenant: "t1", Authority: `{"name":"no ifi"}`}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Fatalf("authority without an identifier: %v, want ErrInvalidQuery", err)
	}

	got, err := s.GetStatement(ctx(t), "t1", mine1.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !store.HasAuthority(got.JSON, []byte(lmsJSON)) || store.HasAuthority(got.JSON, []byte(`{"mbox":"mailto:other-lms@example.com"}`)) {
		t.Fatal("HasAuthority does not tell the statement's authority from another")
	}
}

// testCredentialRotation: the fields of a rotation and the rate limit
// survive a round trip, and clearing the previous secret clears its expiry.
func testCredentialRotation(t *testing.T, open Factory) {
	s := open(t)
	c := ctx(t)
	if err := s.CreateTenant(c, store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	until := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	cred := store.Credential{Key: "k1", SecretHash: "new", Tenant: "acme", PreviousSecretHash: "old", PreviousUntil: until, RateLimit: 25}
	if err := s.PutCredential(c, cred); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCredential(c, "k1")
	if err != nil || got.PreviousSecretHash != "old" || !got.PreviousUntil.Equal(until) || got.RateLimit != 25 {
		t.Fatalf("GetCredential = %+v, %v", got, err)
	}
	cred.PreviousSecretHash = ""
	if err := s.PutCredential(c, cred); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListCredentials(c, "acme")
	if err != nil || len(list) != 1 || list[0].PreviousSecretHash != "" || !list[0].PreviousUntil.IsZero() || list[0].RateLimit != 25 {
		t.Fatalf("ListCredentials = %+v, %v", list, err)
	}
	if err := s.PutCredential(c, store.Credential{Key: "k2", SecretHash: "h", Tenant: "acme", RateLimit: -1}); err == nil {
		t.Fatal("PutCredential accepted a negative rate limit")
	}
}
