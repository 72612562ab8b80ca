package service

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// The document resources, /activities and /agents, end to end through the
// all-in-one LRS, on SQLite and on PostgreSQL.

// docBackends runs fn against the LRS in each topology (see
// eachTopology); st is a second handle on the same store, for creating
// tenants and credentials.
func docBackends(t *testing.T, fn func(t *testing.T, addr string, st store.Store)) {
	eachTopology(t, func(t *testing.T, addr, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, addr, st)
	})
}

// docCredential creates a credential of tenant (created if need be) with
// scopes and returns a client using it.
func docCredential(t *testing.T, st store.Store, addr, tenant string, scopes ...string) *client {
	t.Helper()
	ctx := context.Background()
	if err := st.CreateTenant(ctx, store.Tenant{ID: tenant, Name: tenant}); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	nc, err := auth.CreateCredential(ctx, st, auth.CredentialSpec{Tenant: tenant, Label: tenant + " " + strings.Join(scopes, " "), Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, addr)
	c.key, c.secret = nc.Key, nc.Secret
	return c
}

const (
	docActivityID = "http://example.com/activities/doc-test"
	docAgentJSON  = `{"objectType":"Agent","account":{"homePage":"http://example.com/lms","name":"ana"}}`
	docReg        = "7f0b2a9e-3c4d-4e5f-8a6b-9c0d1e2f3a4b"
)

// docPaths are the three resources with the parameters that address one
// document, id aside.
var docPaths = []struct {
	name, path, idParam, scope string
}{
	{"state", "/activities/state", "stateId", "activityId=" + url.QueryEscape(docActivityID) + "&agent=" + url.QueryEscape(docAgentJSON)},
	{"activity profile", "/activities/profile", "profileId", "activityId=" + url.QueryEscape(docActivityID)},
	{"agent profile", "/agents/profile", "profileId", "agent=" + url.QueryEscape(docAgentJSON)},
}

func quotedSHA1(b []byte) string {
	sum := sha1.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %s", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestDocumentResources walks each resource through its life cycle in
// both xAPI versions: create, read, preconditions, merge, list, delete.
func TestDocumentResources(t *testing.T) {
	docBackends(t, func(t *testing.T, addr string, _ store.Store) {
		c := newClient(t, addr)
		for _, ver := range []string{"1.0.3", "2.0.0"} {
			for _, res := range docPaths {
				t.Run(ver+" "+res.name, func(t *testing.T) {
					c := *c
					c.t, c.version = t, ver
					id := "doc-" + ver
					one := res.path + "?" + res.scope + "&" + res.idParam + "=" + id
					do := func(method, ct, body string, want int, hdr ...string) response {
						t.Helper()
						r := c.do(method, one, ct, []byte(body), hdr...)
						if r.status != want {
							t.Fatalf("%s %s: %d %s, want %d", method, one, r.status, r.body, want)
						}
						return r
					}
					do("GET", "", "", 404)
					if ver == "1.0.3" && res.name != "state" {
						// 1.0.3 profiles want a precondition even to create.
						do("PUT", "application/json", `{"a":1}`, 400)
					}
					before := time.Now().Add(-time.Second).Truncate(time.Second)
					first := `{"a":1,"b":{"x":1}}`
					r := do("PUT", "application/json", first, 204, "If-None-Match", "*")
					if r.header.Get("ETag") != quotedSHA1([]byte(first)) {
						t.Errorf("PUT answered ETag %q, want the quoted SHA-1 of the document", r.header.Get("ETag"))
					}
					r = do("GET", "", "", 200)
					if string(r.body) != first || r.header.Get("Content-Type") != "application/json" {
						t.Fatalf("GET = %s (%s), want the document as sent", r.body, r.header.Get("Content-Type"))
					}
					etag := r.header.Get("ETag")
					if etag != quotedSHA1([]byte(first)) {
						t.Fatalf("ETag %q, want %q", etag, quotedSHA1([]byte(first)))
					}
					lm, err := http.ParseTime(r.header.Get("Last-Modified"))
					if err != nil || lm.Before(before) || lm.After(time.Now().Add(time.Second)) {
						t.Fatalf("Last-Modified %q: %v, want about now", r.header.Get("Last-Modified"), err)
					}
					if r := do("HEAD", "", "", 200); len(r.body) != 0 || r.header.Get("ETag") != etag {
						t.Fatalf("HEAD = %q with ETag %q", r.body, r.header.Get("ETag"))
					}

					do("PUT", "application/json", `{"z":1}`, 412, "If-None-Match", "*")
					do("PUT", "application/json", `{"z":1}`, 412, "If-Match", `"0000000000000000000000000000000000000000"`)
					do("POST", "application/json", `{"z":1}`, 412, "If-Match", `"0000000000000000000000000000000000000000"`)
					if ver == "1.0.3" && res.name == "state" {
						// 1.0.3 lets a State be overwritten without a precondition.
						do("PUT", "application/json", first, 204)
					} else {
						r := do("PUT", "application/json", `{"z":1}`, 409)
						if !bytes.Contains(r.body, []byte("If-Match")) {
							t.Errorf("409 does not say what to send: %s", r.body)
						}
					}
					if r := do("GET", "", "", 200); string(r.body) != first {
						t.Fatalf("a rejected write changed the document to %s", r.body)
					}

					// POST merges one level deep: b is replaced, not merged.
					do("POST", "application/json", `{"b":{"y":2},"c":"<&>"}`, 204, "If-Match", etag)
					r = do("GET", "", "", 200)
					jsonEqual(t, r.body, `{"a":1,"b":{"y":2},"c":"<&>"}`)
					if r.header.Get("ETag") != quotedSHA1(r.body) || r.header.Get("ETag") == etag {
						t.Fatalf("ETag after merge %q, want the SHA-1 of %s", r.header.Get("ETag"), r.body)
					}
					etag = r.header.Get("ETag")
					do("POST", "text/plain", `plain`, 400)
					do("POST", "application/json", `[1,2]`, 400)
					do("POST", "application/json", `{"a":`, 400)
					if r := do("GET", "", "", 200); r.header.Get("ETag") != etag {
						t.Fatal("a rejected POST changed the document")
					}

					// The id list, with and without since.
					var ids []string
					r = c.do("GET", res.path+"?"+res.scope, "", nil)
					r.json(t, &ids)
					if r.status != 200 || !reflect.DeepEqual(ids, []string{id}) {
						t.Fatalf("id list = %d %s, want [%s]", r.status, r.body, id)
					}
					r = c.do("GET", res.path+"?"+res.scope+"&since="+url.QueryEscape(time.Now().Add(time.Minute).Format(time.RFC3339)), "", nil)
					r.json(t, &ids)
					if r.status != 200 || len(ids) != 0 {
						t.Fatalf("id list since a minute ahead = %d %s, want []", r.status, r.body)
					}

					do("DELETE", "", "", 412, "If-Match", `"1234"`)
					do("DELETE", "", "", 204, "If-Match", etag)
					do("GET", "", "", 404)
					do("DELETE", "", "", 412, "If-Match", "*")
				})
			}
		}
	})
}

// TestDocumentContentTypesAndStateScopes: any content is stored and
// returned as sent; State documents are per registration, and a
// delete-all covers one registration or all.
func TestDocumentContentTypesAndStateScopes(t *testing.T) {
	docBackends(t, func(t *testing.T, addr string, _ store.Store) {
		c := newClient(t, addr)
		c.version = "2.0.0"
		base := "/activities/state?" + docPaths[0].scope
		binary := []byte{0x89, 'P', 'N', 'G', 0, 0xff, '\r', '\n'}
		if r := c.do("PUT", base+"&stateId=img", "image/png", binary); r.status != 204 {
			t.Fatalf("PUT binary: %d %s", r.status, r.body)
		}
		r := c.do("GET", base+"&stateId=img", "", nil)
		if !bytes.Equal(r.body, binary) || r.header.Get("Content-Type") != "image/png" || r.header.Get("ETag") != quotedSHA1(binary) {
			t.Fatalf("GET binary = %q (%s, %s)", r.body, r.header.Get("Content-Type"), r.header.Get("ETag"))
		}
		if r := c.do("POST", base+"&stateId=img", "application/json", []byte(`{"a":1}`)); r.status != 400 {
			t.Fatalf("POST JSON onto a binary document: %d, want 400", r.status)
		}
		// A POST of a new document stores it as sent, JSON or not.
		if r := c.do("POST", base+"&stateId=note", "text/plain; charset=utf-8", []byte("hello")); r.status != 204 {
			t.Fatalf("POST new text: %d %s", r.status, r.body)
		}
		if r := c.do("GET", base+"&stateId=note", "", nil); string(r.body) != "hello" || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("GET text = %q (%s)", r.body, r.header.Get("Content-Type"))
		}

		withReg := base + "&registration=" + docReg
		for _, id := range []string{"r1", "r2"} {
			if r := c.do("PUT", withReg+"&stateId="+id, "application/json", []byte(`{"reg":true}`)); r.status != 204 {
				t.Fatalf("PUT %s: %d %s", id, r.status, r.body)
			}
		}
		if r := c.do("GET", base+"&stateId=r1", "", nil); r.status != 404 {
			t.Fatalf("a registration's document without the registration: %d, want 404", r.status)
		}
		ids := func(q string) []string {
			var out []string
			c.do("GET", q, "", nil).json(t, &out)
			return out
		}
		if got := ids(withReg); !reflect.DeepEqual(got, []string{"r1", "r2"}) {
			t.Fatalf("ids of the registration = %v", got)
		}
		if got := ids(base); !reflect.DeepEqual(got, []string{"img", "note", "r1", "r2"}) {
			t.Fatalf("ids of every registration = %v", got)
		}
		if r := c.do("DELETE", withReg, "", nil); r.status != 204 {
			t.Fatalf("DELETE registration: %d %s", r.status, r.body)
		}
		if got := ids(base); !reflect.DeepEqual(got, []string{"img", "note"}) {
			t.Fatalf("after deleting the registration: %v", got)
		}
		if r := c.do("DELETE", base, "", nil); r.status != 204 {
			t.Fatalf("DELETE all: %d %s", r.status, r.body)
		}
		if got := ids(base); len(got) != 0 {
			t.Fatalf("after deleting all: %v", got)
		}
	})
}

func definedStatement(lang, name string) string {
	return `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attended"},` +
		`"object":{"objectType":"Activity","id":"http://example.com/activities/meeting","definition":{"type":"http://adlnet.gov/expapi/activities/meeting","name":{"` +
		lang + `":"` + name + `"}}}}`
}

// TestDocumentTenantsAndScopes: no document, list, delete or Activity
// definition crosses tenants; scopes decide who reads and writes what.
func TestDocumentTenantsAndScopes(t *testing.T) {
	docBackends(t, func(t *testing.T, addr string, st store.Store) {
		acme := docCredential(t, st, addr, "acme", "all")
		beta := docCredential(t, st, addr, "beta", "all")
		for _, res := range docPaths {
			one := res.path + "?" + res.scope + "&" + res.idParam + "=shared"
			if r := acme.do("PUT", one, "application/json", []byte(`{"owner":"acme"}`), "If-None-Match", "*"); r.status != 204 {
				t.Fatalf("acme PUT %s: %d %s", res.name, r.status, r.body)
			}
			if r := beta.do("GET", one, "", nil); r.status != 404 {
				t.Fatalf("beta GET of acme's %s: %d %s, want 404", res.name, r.status, r.body)
			}
			var ids []string
			beta.do("GET", res.path+"?"+res.scope, "", nil).json(t, &ids)
			if len(ids) != 0 {
				t.Fatalf("beta lists acme's %s ids: %v", res.name, ids)
			}
			// If the document were shared, If-None-Match: * would fail.
			if r := beta.do("PUT", one, "application/json", []byte(`{"owner":"beta"}`), "If-None-Match", "*"); r.status != 204 {
				t.Fatalf("beta PUT %s: %d %s", res.name, r.status, r.body)
			}
		}
		if r := beta.do("DELETE", docPaths[0].path+"?"+docPaths[0].scope, "", nil); r.status != 204 {
			t.Fatalf("beta DELETE all states: %d", r.status)
		}
		for _, res := range docPaths {
			r := acme.do("GET", res.path+"?"+res.scope+"&"+res.idParam+"=shared", "", nil)
			if string(r.body) != `{"owner":"acme"}` {
				t.Fatalf("acme's %s after beta's writes: %d %s", res.name, r.status, r.body)
			}
		}

		// Activity definitions are per tenant too.
		postIDs(t, acme, definedStatement("en-US", "acme meeting"))
		var act map[string]any
		beta.do("GET", "/activities?activityId="+url.QueryEscape("http://example.com/activities/meeting"), "", nil).json(t, &act)
		if _, ok := act["definition"]; ok {
			t.Fatalf("beta sees acme's definition: %v", act)
		}

		// Scopes: state, profile, all/read.
		stateOnly := docCredential(t, st, addr, "acme", auth.ScopeState)
		profileOnly := docCredential(t, st, addr, "acme", auth.ScopeProfile)
		reader := docCredential(t, st, addr, "acme", auth.ScopeAllRead)
		writer := docCredential(t, st, addr, "acme", auth.ScopeStatementsWrite)
		cases := []struct {
			who            *client
			method, path   string
			want           int
			withDocPayload bool
		}{
			{stateOnly, "PUT", docPaths[0].path, 204, true},
			{stateOnly, "GET", docPaths[0].path, 200, false},
			{stateOnly, "PUT", docPaths[1].path, 403, true},
			{stateOnly, "GET", docPaths[2].path, 403, false},
			{profileOnly, "POST", docPaths[1].path, 204, true},
			{profileOnly, "POST", docPaths[2].path, 204, true},
			{profileOnly, "GET", docPaths[0].path, 403, false},
			{reader, "GET", docPaths[0].path, 200, false},
			{reader, "GET", docPaths[2].path, 200, false},
			{reader, "POST", docPaths[1].path, 403, true},
			{reader, "DELETE", docPaths[0].path, 403, false},
			{writer, "GET", docPaths[0].path, 403, false},
			{writer, "GET", "/agents", 403, false},
		}
		for _, tc := range cases {
			q := "?agent=" + url.QueryEscape(docAgentJSON)
			for _, res := range docPaths {
				if res.path == tc.path {
					q = "?" + res.scope + "&" + res.idParam + "=scoped"
				}
			}
			var body []byte
			if tc.withDocPayload {
				body = []byte(`{"x":1}`)
			}
			var hdr []string
			if tc.method == "PUT" {
				hdr = []string{"If-None-Match", "*"}
			}
			r := tc.who.do(tc.method, tc.path+q, "application/json", body, hdr...)
			if r.status != tc.want {
				t.Errorf("%s %s %s: %d %s, want %d", tc.who.key, tc.method, tc.path, r.status, r.body, tc.want)
			}
		}
	})
}

// TestActivitiesAndAgents: GET /activities returns the definition merged
// from the statements just sent (read your writes through the topic), or
// the bare Activity; GET /agents returns a Person.
func TestActivitiesAndAgents(t *testing.T) {
	docBackends(t, func(t *testing.T, addr string, _ store.Store) {
		c := newClient(t, addr)
		c.version = "2.0.0"
		postIDs(t, c, definedStatement("en-US", "meeting"))
		postIDs(t, c, definedStatement("fr-FR", "réunion"))
		r := c.do("GET", "/activities?activityId="+url.QueryEscape("http://example.com/activities/meeting"), "", nil)
		if r.status != 200 {
			t.Fatalf("GET /activities: %d %s", r.status, r.body)
		}
		jsonEqual(t, r.body, `{"objectType":"Activity","id":"http://example.com/activities/meeting","definition":`+
			`{"type":"http://adlnet.gov/expapi/activities/meeting","name":{"en-US":"meeting","fr-FR":"réunion"}}}`)
		if r := c.do("HEAD", "/activities?activityId="+url.QueryEscape("http://example.com/activities/meeting"), "", nil); r.status != 200 || len(r.body) != 0 {
			t.Fatalf("HEAD /activities: %d %q", r.status, r.body)
		}
		r = c.do("GET", "/activities?activityId="+url.QueryEscape("http://example.com/never-seen"), "", nil)
		jsonEqual(t, r.body, `{"objectType":"Activity","id":"http://example.com/never-seen"}`)

		for _, tc := range []struct{ agent, want string }{
			{`{"objectType":"Agent","name":"Ana","mbox":"mailto:ana@example.com"}`, `{"objectType":"Person","name":["Ana"],"mbox":["mailto:ana@example.com"]}`},
			{`{"account":{"homePage":"http://example.com/lms","name":"ana"}}`, `{"objectType":"Person","account":[{"homePage":"http://example.com/lms","name":"ana"}]}`},
			{`{"openid":"http://openid.example.com/ana"}`, `{"objectType":"Person","openid":["http://openid.example.com/ana"]}`},
			{`{"mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}`, `{"objectType":"Person","mbox_sha1sum":["ebd31e95054c018b10727ccffd2ef2ec3a016ee9"]}`},
		} {
			r := c.do("GET", "/agents?agent="+url.QueryEscape(tc.agent), "", nil)
			if r.status != 200 {
				t.Fatalf("GET /agents %s: %d %s", tc.agent, r.status, r.body)
			}
			jsonEqual(t, r.body, tc.want)
		}
	})
}

// TestDocumentBadInput: every malformed request is a 400 (or 413) that
// names the problem, and changes nothing.
func TestDocumentBadInput(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir(), "-max-body-bytes", "4096")
	c := newClient(t, addr)
	c.version = "2.0.0"
	state := docPaths[0].path + "?" + docPaths[0].scope + "&stateId=s"
	if r := c.do("PUT", state, "application/json", []byte(`{"big":"`+strings.Repeat("x", 3000)+`"}`)); r.status != 204 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	agent := func(a string) string { return "agent=" + url.QueryEscape(a) }
	act := "activityId=" + url.QueryEscape(docActivityID)
	tests := []struct {
		name, method, path, ct, body string
		status                       int
		mention                      string
	}{
		{"no activityId", "GET", "/activities/state?" + agent(docAgentJSON), "", "", 400, "activityId"},
		{"activityId not an IRI", "GET", "/activities/profile?activityId=not%20an%20iri", "", "", 400, "IRI"},
		{"no agent", "GET", "/activities/state?" + act, "", "", 400, "agent"},
		{"agent not JSON", "GET", "/agents/profile?agent=ana", "", "", 400, "JSON"},
		{"agent without IFI", "GET", "/agents/profile?" + agent(`{"name":"ana"}`), "", "", 400, "exactly one"},
		{"agent with two IFIs", "GET", "/agents/profile?" + agent(`{"mbox":"mailto:a@b.c","openid":"http://o.example.com/a"}`), "", "", 400, "exactly one"},
		{"agent bad mbox", "GET", "/agents/profile?" + agent(`{"mbox":"a@b.c"}`), "", "", 400, "mailto"},
		{"agent bad sha1", "GET", "/agents/profile?" + agent(`{"mbox_sha1sum":"abc"}`), "", "", 400, "mbox_sha1sum"},
		{"agent bad account", "GET", "/agents/profile?" + agent(`{"account":{"name":"a"}}`), "", "", 400, "homePage"},
		{"agent unknown property", "GET", "/agents/profile?" + agent(`{"mbox":"mailto:a@b.c","age":3}`), "", "", 400, "age"},
		{"agent wrong objectType", "GET", "/agents/profile?" + agent(`{"objectType":"Activity","mbox":"mailto:a@b.c"}`), "", "", 400, "objectType"},
		{"registration not a UUID", "GET", "/activities/state?" + act + "&" + agent(docAgentJSON) + "&registration=abc", "", "", 400, "registration"},
		{"since not a timestamp", "GET", "/activities/state?" + act + "&" + agent(docAgentJSON) + "&since=yesterday", "", "", 400, "since"},
		{"unknown parameter", "GET", state + "&foo=1", "", "", 400, "foo"},
		{"wrong case", "GET", "/activities/profile?ActivityId=" + url.QueryEscape(docActivityID), "", "", 400, "ActivityId"},
		{"repeated parameter", "GET", state + "&stateId=t", "", "", 400, "more than once"},
		{"since on a write", "PUT", state + "&since=2024-01-01T00:00:00Z", "application/json", `{}`, 400, "since"},
		{"PUT without stateId", "PUT", "/activities/state?" + act + "&" + agent(docAgentJSON), "application/json", `{}`, 400, "stateId"},
		{"DELETE profile without profileId", "DELETE", "/activities/profile?" + act, "", "", 400, "profileId"},
		{"POST JSON that is not an object", "POST", state, "application/json", `"text"`, 400, "JSON object"},
		{"POST onto JSON with another type", "POST", state, "application/xml", `<a/>`, 400, "Content-Type"},
		{"body too large", "PUT", state, "application/json", `{"x":"` + strings.Repeat("y", 5000) + `"}`, 413, ""},
		{"merge too large", "POST", state, "application/json", `{"more":"` + strings.Repeat("y", 2000) + `"}`, 413, "merged"},
		{"activities without activityId", "GET", "/activities", "", "", 400, "activityId"},
		{"activities bad IRI", "GET", "/activities?activityId=nope", "", "", 400, "IRI"},
		{"agents without agent", "GET", "/agents", "", "", 400, "agent"},
		{"agents with a Group", "GET", "/agents?" + agent(`{"objectType":"Group","mbox":"mailto:g@b.c"}`), "", "", 400, "Group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := *c
			cc.t = t
			r := cc.do(tt.method, tt.path, tt.ct, []byte(tt.body))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if !bytes.Contains(r.body, []byte(`"error"`)) || !bytes.Contains(r.body, []byte(tt.mention)) {
				t.Errorf("error does not name %q: %s", tt.mention, r.body)
			}
		})
	}
	if r := c.do("GET", state, "", nil); r.status != 200 || !bytes.HasPrefix(r.body, []byte(`{"big":"xxx`)) || bytes.Contains(r.body, []byte("more")) {
		t.Fatalf("the rejected requests changed the document: %d %.40s", r.status, r.body)
	}
}
