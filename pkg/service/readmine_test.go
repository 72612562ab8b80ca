package service

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/streamlrs/streamlrs/pkg/admin"
)

// TestReadMine: a credential with statements/read/mine sees only the
// statements sent under its authority: by id, in listings, through paging
// and filters; a cursor of a wider listing is refused.
func TestReadMine(t *testing.T) {
	backends(t, func(t *testing.T, addr string, adm adminClient, _ string) {
		adm.do(http.MethodPost, "/tenants", map[string]string{"id": "acme"}, http.StatusCreated, nil)
		reader, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "reader", Scopes: []string{"statements/read"}})
		mineA, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "LMS A", Scopes: []string{"statements/write", "statements/read/mine"},
			Authority: json.RawMessage(`{"objectType":"Agent","name":"LMS A","mbox":"mailto:lms-a@acme.test"}`)})
		mineB, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "LMS B", Scopes: []string{"statements/write", "statements/read/mine"}})
		// LMS B's learner is LMS A's agent: being in a statement is not owning it.
		aIDs := postIDs(t, mineA, statementArray(3, "attempted"))
		bIDs := postIDs(t, mineB, `{"actor":{"mbox":"mailto:lms-a@acme.test"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/activities/course-1"}}`)

		// read/mine: only the caller's statements, by id, in listings, through
		// paging and filters; a cursor of a wider listing is refused.
		if ids := listIDs(t, mineA, ""); !sameIDs(ids, aIDs) {
			t.Fatalf("LMS A lists %v, want its own %v", ids, aIDs)
		}
		if ids := listIDs(t, mineB, ""); !sameIDs(ids, bIDs) {
			t.Fatalf("LMS B lists %v, want its own %v", ids, bIDs)
		}
		if r := mineB.get("?statementId=" + aIDs[0]); r.status != 404 {
			t.Fatalf("LMS B reads LMS A's statement: %d", r.status)
		}
		if r := mineA.get("?statementId=" + aIDs[0]); r.status != 200 {
			t.Fatalf("LMS A reads its statement: %d", r.status)
		}
		verb := "?verb=" + url.QueryEscape("http://adlnet.gov/expapi/verbs/completed")
		if ids := listIDs(t, mineB, verb); !sameIDs(ids, bIDs) {
			t.Fatalf("LMS B filtered by verb: %v, want %v", ids, bIDs)
		}
		asAgent := "?agent=" + url.QueryEscape(`{"mbox":"mailto:lms-a@acme.test"}`)
		if ids := listIDs(t, mineA, asAgent); len(ids) != 0 {
			t.Fatalf("LMS A filtered by its own agent as actor: %v, want nothing (LMS B's statement)", ids)
		}
		if ids := listIDs(t, reader, asAgent); !sameIDs(ids, bIDs) {
			t.Fatalf("statements/read filtered by agent: %v, want %v", ids, bIDs)
		}
		var seen []string
		next := "?limit=1"
		for next != "" {
			var page statementList
			mineA.get(next).json(t, &page)
			for _, s := range page.Statements {
				seen = append(seen, s["id"].(string))
			}
			next = strings.TrimPrefix(page.More, "/xapi/statements")
		}
		if !sameIDs(seen, aIDs) {
			t.Fatalf("LMS A paging one by one saw %v, want %v", seen, aIDs)
		}
		if ids := listIDs(t, reader, ""); len(ids) != len(aIDs)+len(bIDs) {
			t.Fatalf("statements/read lists %d statements, want every one (%d)", len(ids), len(aIDs)+len(bIDs))
		}
		var wide statementList
		reader.get("?limit=1").json(t, &wide)
		if r := mineB.do("GET", strings.TrimPrefix(wide.More, "/xapi"), "", nil); r.status != 400 {
			t.Fatalf("read/mine following an unrestricted more link: %d %s, want 400", r.status, r.body)
		}
	})
}

func sameIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
