package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

const (
	annJSON = `{"objectType":"Agent","mbox":"mailto:ann@example.com"}`
	regA    = "6f1a9a27-5a1f-4bb2-9f49-0d4cf3c1c8a1"
)

func actURL(name string) string { return "http://example.com/activities/" + name }

func testFilters(t *testing.T, open Factory) {
	s := open(t)
	// Each statement puts ann, or activity "x", in a different place.
	stmts := map[string]map[string]any{
		"actor": basic("ann", "did", "y"),
		"objectAgent": {
			"actor": mbox("bob"), "verb": verb("met"), "object": mbox("ann"),
		},
		"groupMember": {
			"actor": map[string]any{"objectType": "Group", "name": "team", "member": []any{mbox("cat"), mbox("ann")}},
			"verb":  verb("did"), "object": activity("y"),
		},
		"authority": {
			"actor": mbox("bob"), "verb": verb("did"), "object": activity("y"), "authority": mbox("ann"),
		},
		"instructor": {
			"actor": mbox("bob"), "verb": verb("did"), "object": activity("y"),
			"context": map[string]any{"instructor": mbox("ann"), "registration": regA},
		},
		"team": {
			"actor": mbox("bob"), "verb": verb("did"), "object": activity("y"),
			"context": map[string]any{"team": map[string]any{"objectType": "Group", "member": []any{mbox("ann")}}},
		},
		"contextAgent": {
			"actor": mbox("bob"), "verb": verb("did"), "object": activity("y"),
			"context": map[string]any{"contextAgents": []any{map[string]any{"objectType": "contextAgent", "agent": mbox("ann")}}},
		},
		"contextGroup": {
			"actor": mbox("bob"), "verb": verb("did"), "object": activity("y"),
			"context": map[string]any{"contextGroups": []any{map[string]any{"objectType": "contextGroup",
				"group": map[string]any{"objectType": "Group", "mbox": "mailto:ann@example.com"}}}},
		},
		"subActor": {
			"actor": mbox("bob"), "verb": verb("said"),
			"object": map[string]any{"objectType": "SubStatement", "actor": mbox("ann"), "verb": verb("did"), "object": activity("x")},
		},
		"object": basic("bob", "did", "x"),
		"parent": {
			"actor": mbox("bob"), "verb": verb("did"), "object": activity("y"),
			"context": map[string]any{"contextActivities": map[string]any{"parent": []any{activity("x")}}, "registration": regA},
		},
		"categorySingle": {
			"actor": mbox("bob"), "verb": verb("did"), "object": activity("y"),
			"context": map[string]any{"contextActivities": map[string]any{"category": activity("x")}},
		},
		"subContext": {
			"actor": mbox("bob"), "verb": verb("said"),
			"object": map[string]any{"objectType": "SubStatement", "actor": mbox("bob"), "verb": verb("did"), "object": activity("y"),
				"context": map[string]any{"contextActivities": map[string]any{"grouping": []any{activity("x")}}}},
		},
		"accountActor": {
			"actor": map[string]any{"account": map[string]any{"homePage": "http://example.com", "name": "ann"}},
			"verb":  verb("did"), "object": activity("z"),
		},
	}
	byName := map[string]store.Statement{}
	var batch []store.Statement
	sec := 0
	for _, name := range slices.Sorted(maps.Keys(stmts)) {
		sec++
		st := S("t1", newID(), at(sec), stmts[name])
		byName[name] = st
		batch = append(batch, st)
	}
	apply(t, s, batch...)
	named := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, byName[n].ID)
		}
		return out
	}
	cases := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"agent", store.Query{Agent: annJSON}, named("actor", "objectAgent", "groupMember")},
		{"agent by account", store.Query{Agent: `{"account":{"homePage":"http://example.com","name":"ann"}}`}, named("accountActor")},
		{"related agents", store.Query{Agent: annJSON, RelatedAgents: true},
			named("actor", "objectAgent", "groupMember", "authority", "instructor", "team", "contextAgent", "contextGroup", "subActor")},
		{"verb", store.Query{Verb: "http://example.com/verbs/met"}, named("objectAgent")},
		{"activity", store.Query{Activity: actURL("x")}, named("object")},
		{"related activities", store.Query{Activity: actURL("x"), RelatedActivities: true},
			named("object", "parent", "categorySingle", "subContext", "subActor")},
		{"registration", store.Query{Registration: regA}, named("instructor", "parent")},
		{"registration upper case", store.Query{Registration: "6F1A9A27-5A1F-4BB2-9F49-0D4CF3C1C8A1"}, named("instructor", "parent")},
		{"agent and verb", store.Query{Agent: annJSON, Verb: "http://example.com/verbs/did"}, named("actor", "groupMember")},
		{"related agents, activity and registration", store.Query{Agent: annJSON, RelatedAgents: true, Activity: actURL("y"), Registration: regA},
			named("instructor")},
		{"no match", store.Query{Verb: "http://example.com/verbs/none"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Tenant = "t1"
			tc.q.Limit = 2 // exercise paging with every filter
			if got := ids(t, s, tc.q); !sameSet(got, tc.want) {
				t.Fatalf("got %d statements %v, want %d %v", len(got), got, len(tc.want), tc.want)
			}
		})
	}
}

// testStatementRefFilters: a statement whose object is a StatementRef
// matches the filters its target (recursively) matches, whatever the order
// of arrival; time filters apply to the referring statement itself.
func testStatementRefFilters(t *testing.T, open Factory) {
	for _, order := range []string{"target first", "referrers first", "one batch"} {
		t.Run(order, func(t *testing.T) {
			s := open(t)
			target := S("t1", newID(), at(1), basic("ann", "passed", "explosives"))
			confirm := S("t1", newID(), at(2), ref("bob", "confirmed", target.ID))
			endorse := S("t1", newID(), at(3), ref("cat", "endorsed", confirm.ID))
			unrelated := S("t1", newID(), at(4), basic("dan", "did", "other"))
			switch order {
			case "target first":
				apply(t, s, target)
				apply(t, s, confirm)
				apply(t, s, endorse, unrelated)
			case "referrers first":
				apply(t, s, endorse)
				apply(t, s, confirm, unrelated)
				apply(t, s, target)
			default:
				apply(t, s, endorse, unrelated, confirm, target)
			}
			cases := []struct {
				name string
				q    store.Query
				want []string
			}{
				{"agent", store.Query{Agent: annJSON}, []string{endorse.ID, confirm.ID, target.ID}},
				{"activity", store.Query{Activity: actURL("explosives")}, []string{endorse.ID, confirm.ID, target.ID}},
				{"verb of the middle", store.Query{Verb: "http://example.com/verbs/confirmed"}, []string{endorse.ID, confirm.ID}},
				{"own agent", store.Query{Agent: `{"mbox":"mailto:cat@example.com"}`}, []string{endorse.ID}},
				{"since applies to the referrer", store.Query{Agent: annJSON, Since: at(2)}, []string{endorse.ID}},
			}
			for _, tc := range cases {
				tc.q.Tenant = "t1"
				if got := ids(t, s, tc.q); !slices.Equal(got, tc.want) {
					t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
				}
			}
		})
	}
}

func testTimeAndOrder(t *testing.T, open Factory) {
	s := open(t)
	var all []string
	var batch []store.Statement
	for i := range 10 {
		st := S("t1", newID(), at(i), basic("ann", "did", "x"))
		batch = append(batch, st)
		all = append(all, st.ID)
	}
	// Two statements with the same stored time: the id breaks the tie.
	tieA := S("t1", "00000000-0000-4000-8000-000000000001", at(20), basic("ann", "did", "x"))
	tieB := S("t1", "00000000-0000-4000-8000-000000000002", at(20), basic("ann", "did", "x"))
	batch = append(batch, tieB, tieA)
	all = append(all, tieA.ID, tieB.ID)
	apply(t, s, batch...)
	rev := slices.Clone(all)
	slices.Reverse(rev)
	cases := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"descending", store.Query{}, rev},
		{"ascending", store.Query{Ascending: true}, all},
		{"since exclusive", store.Query{Since: at(7), Ascending: true}, all[8:]},
		{"until inclusive", store.Query{Until: at(2)}, []string{all[2], all[1], all[0]}},
		{"since and until", store.Query{Since: at(3), Until: at(5), Ascending: true}, all[4:6]},
		{"filtered range", store.Query{Agent: annJSON, Since: at(3), Until: at(5)}, []string{all[5], all[4]}},
		{"ties, one per page", store.Query{Since: at(19), Limit: 1, Ascending: true}, []string{tieA.ID, tieB.ID}},
	}
	for _, tc := range cases {
		for _, limit := range []int{0, 1, 3} {
			q := tc.q
			q.Tenant = "t1"
			if q.Limit == 0 {
				q.Limit = limit
			}
			if got := ids(t, s, q); !slices.Equal(got, tc.want) {
				t.Errorf("%s, limit %d: got %v, want %v", tc.name, q.Limit, got, tc.want)
			}
		}
	}
	p, err := s.QueryStatements(ctx(t), store.Query{Tenant: "t1", Limit: 3})
	if err != nil {
		t.Fatalf("QueryStatements: %v", err)
	}
	if len(p.Statements) != 3 || p.More == "" {
		t.Fatalf("first page of 3 = %d statements, more=%q", len(p.Statements), p.More)
	}
	if !p.Statements[0].Stored.Equal(at(20)) || p.Statements[0].Tenant != "t1" || len(p.Statements[0].JSON) == 0 {
		t.Fatalf("first statement = %+v, want stored %v with its JSON", p.Statements[0], at(20))
	}
	p, err = s.QueryStatements(ctx(t), store.Query{Tenant: "t1", Limit: len(all)})
	if err != nil || p.More != "" || len(p.Statements) != len(all) {
		t.Fatalf("a page that holds everything: %d statements, more=%q, err=%v", len(p.Statements), p.More, err)
	}
}

// testPagingUnderInserts pages through a listing while statements keep
// arriving, each with a stored time later than the listing's start (what
// the API guarantees): no statement is skipped or repeated.
func testPagingUnderInserts(t *testing.T, open Factory) {
	for _, asc := range []bool{false, true} {
		s := open(t)
		var before []string
		var batch []store.Statement
		for i := range 50 {
			st := S("t1", newID(), at(i), basic("ann", "did", "x"))
			batch = append(batch, st)
			before = append(before, st.ID)
		}
		apply(t, s, batch...)
		var seen, added []string
		q := store.Query{Tenant: "t1", Agent: annJSON, Limit: 7, Ascending: asc}
		for page := 0; ; page++ {
			p, err := s.QueryStatements(ctx(t), q)
			if err != nil {
				t.Fatalf("QueryStatements: %v", err)
			}
			for _, st := range p.Statements {
				seen = append(seen, st.ID)
			}
			// Arrivals with stored times that sort after the listing start,
			// one of them sharing the stored time of the newest statement.
			arrive := []store.Statement{S("t1", newID(), at(100+page), basic("ann", "did", "x"))}
			if page == 0 {
				arrive = append(arrive, S("t1", "ffffffff-ffff-4fff-bfff-ffffffffffff", at(49), basic("ann", "did", "x")))
			}
			apply(t, s, arrive...)
			for _, a := range arrive {
				added = append(added, a.ID)
			}
			if p.More == "" {
				break
			}
			q = store.Query{Tenant: "t1", Cursor: p.More}
		}
		if dup := firstRepeat(seen); dup != "" {
			t.Fatalf("ascending=%v: statement %s listed twice", asc, dup)
		}
		for _, id := range before {
			if !slices.Contains(seen, id) {
				t.Fatalf("ascending=%v: statement %s skipped", asc, id)
			}
		}
		if asc {
			// An ascending listing reaches the arrivals, except those that
			// came after its last page.
			if len(seen) < len(before)+len(added)-1 {
				t.Fatalf("ascending: saw %d statements, want at least %d", len(seen), len(before)+len(added)-1)
			}
		}
	}
}

func firstRepeat(ids []string) string {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return id
		}
		seen[id] = true
	}
	return ""
}

func testTenantIsolation(t *testing.T, open Factory) {
	s := open(t)
	shared := newID()
	a := S("t1", shared, at(1), basic("ann", "did", "x"))
	a2 := S("t1", newID(), at(0), basic("bob", "made", "y"))
	b := S("t2", shared, at(2), basic("ann", "undid", "x"))
	// A voiding statement in t2 must not void t1's statement of the same id.
	v := S("t2", newID(), at(3), voiding("admin", shared))
	res := apply(t, s, a, a2, b, v)
	if res.Inserted != 4 || len(res.Conflicts) != 0 {
		t.Fatalf("same id in two tenants = %+v, want 3 inserted", res)
	}
	if plain, _ := visible(t, s, "t1", shared); !plain {
		t.Fatal("t2's voiding statement voided t1's statement")
	}
	got, err := s.GetStatement(ctx(t), "t1", shared, false)
	if err != nil || got.Fingerprint != a.Fingerprint {
		t.Fatalf("GetStatement t1 = %+v, %v; want t1's statement", got, err)
	}
	if got := ids(t, s, store.Query{Tenant: "t1"}); !slices.Equal(got, []string{shared, a2.ID}) {
		t.Fatalf("t1 listing = %v, want t1's two statements", got)
	}
	for _, q := range []store.Query{{Agent: annJSON}, {Verb: "http://example.com/verbs/did"}, {Activity: actURL("x")}} {
		q.Tenant = "t1"
		if got := ids(t, s, q); !slices.Equal(got, []string{shared}) {
			t.Fatalf("t1 listing %+v = %v, want only t1's statement", q, got)
		}
	}
	if got := ids(t, s, store.Query{Tenant: "t3"}); len(got) != 0 {
		t.Fatalf("t3 listing = %v, want empty", got)
	}
	if got := ids(t, s, store.Query{Tenant: "t2"}); !slices.Equal(got, []string{v.ID}) {
		t.Fatalf("t2 listing = %v, want only its voiding statement", got)
	}
	p, err := s.QueryStatements(ctx(t), store.Query{Tenant: "t1", Limit: 1})
	if err != nil || p.More == "" {
		t.Fatalf("t1 first page: more=%q err=%v", p.More, err)
	}
	if _, err := s.QueryStatements(ctx(t), store.Query{Tenant: "t2", Cursor: p.More}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Fatalf("t1's cursor used by t2: %v, want ErrInvalidQuery", err)
	}
}

func testBadQueries(t *testing.T, open Factory) {
	s := open(t)
	for _, q := range []store.Query{
		{},
		{Tenant: "t1", Agent: `{"name":"no ifi"}`},
		{Tenant: "t1", Agent: `not json`},
		{Tenant: "t1", Cursor: "%%%"},
		{Tenant: "t1", Cursor: "e30"}, // "{}"
	} {
		if _, err := s.QueryStatements(ctx(t), q); !errors.Is(err, store.ErrInvalidQuery) {
			t.Errorf("QueryStatements(%+v) = %v, want ErrInvalidQuery", q, err)
		}
	}
}

func testTenantsAndCredentials(t *testing.T, open Factory) {
	s := open(t)
	c := ctx(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tn := range []store.Tenant{{ID: "acme", Name: "Acme", CreatedAt: created}, {ID: "beta", Name: "Beta"}} {
		if err := s.CreateTenant(c, tn); err != nil {
			t.Fatalf("CreateTenant(%s): %v", tn.ID, err)
		}
	}
	if err := s.CreateTenant(c, store.Tenant{ID: "acme", Name: "Again"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateTenant twice: %v, want ErrExists", err)
	}
	tenants, err := s.ListTenants(c)
	if err != nil {
		t.Fatalf("ListTenants: %v", err)
	}
	if len(tenants) != 2 || tenants[0].ID != "acme" || tenants[0].Name != "Acme" || !tenants[0].CreatedAt.Equal(created) || tenants[1].CreatedAt.IsZero() {
		t.Fatalf("ListTenants = %+v", tenants)
	}
	if tenants[0].VoidingPolicy != "" {
		t.Fatalf("a new tenant's voiding policy = %q, want \"\" (the deployment's)", tenants[0].VoidingPolicy)
	}
	if got, err := s.SetTenantVoidingPolicy(c, "beta", "tenant"); err != nil || got.ID != "beta" || got.VoidingPolicy != "tenant" || got.Name != "Beta" {
		t.Fatalf("SetTenantVoidingPolicy(beta) = %+v, %v", got, err)
	}
	if got, err := s.GetTenant(c, "beta"); err != nil || got.VoidingPolicy != "tenant" || got.CreatedAt.IsZero() {
		t.Fatalf("GetTenant(beta) = %+v, %v", got, err)
	}
	if got, err := s.GetTenant(c, "acme"); err != nil || got.VoidingPolicy != "" || !got.CreatedAt.Equal(created) {
		t.Fatalf("GetTenant(acme) = %+v, %v (another tenant's policy must not change)", got, err)
	}
	if _, err := s.GetTenant(c, "nosuch"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTenant(nosuch) = %v, want ErrNotFound", err)
	}
	if _, err := s.SetTenantVoidingPolicy(c, "nosuch", "tenant"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetTenantVoidingPolicy(nosuch) = %v, want ErrNotFound", err)
	}

	cred := store.Credential{Key: "k1", SecretHash: "h1", Tenant: "acme", Label: "LMS 1",
		Scopes: []string{"statements/write", "statements/read"}, Authority: []byte(`{"mbox":"mailto:lms@acme.test"}`)}
	if err := s.PutCredential(c, cred); err != nil {
		t.Fatalf("PutCredential: %v", err)
	}
	if err := s.PutCredential(c, store.Credential{Key: "k2", SecretHash: "h2", Tenant: "acme"}); err != nil {
		t.Fatalf("PutCredential: %v", err)
	}
	if err := s.PutCredential(c, store.Credential{Key: "k3", SecretHash: "h3", Tenant: "beta"}); err != nil {
		t.Fatalf("PutCredential: %v", err)
	}
	// Replace k1: a new secret, disabled.
	cred.SecretHash, cred.Disabled, cred.Scopes = "h1b", true, []string{"all"}
	if err := s.PutCredential(c, cred); err != nil {
		t.Fatalf("PutCredential replace: %v", err)
	}
	got, err := s.GetCredential(c, "k1")
	if err != nil {
		t.Fatalf("GetCredential: %v", err)
	}
	if got.SecretHash != "h1b" || !got.Disabled || !slices.Equal(got.Scopes, []string{"all"}) || got.Tenant != "acme" ||
		got.Label != "LMS 1" || string(got.Authority) != string(cred.Authority) || got.CreatedAt.IsZero() {
		t.Fatalf("GetCredential = %+v", got)
	}
	if _, err := s.GetCredential(c, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCredential(nope): %v, want ErrNotFound", err)
	}
	list, err := s.ListCredentials(c, "acme")
	if err != nil {
		t.Fatalf("ListCredentials: %v", err)
	}
	if len(list) != 2 || list[0].Key != "k1" || list[1].Key != "k2" || list[1].Scopes == nil {
		t.Fatalf("ListCredentials(acme) = %+v", list)
	}
	if err := s.PutCredential(c, store.Credential{Key: "k4", SecretHash: "h", Tenant: "ghost"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutCredential for a missing tenant: %v, want ErrNotFound", err)
	}
	if err := s.PutCredential(c, store.Credential{Key: "k5", Tenant: "acme"}); err == nil {
		t.Fatal("PutCredential accepted a credential without a secret hash")
	}
}
