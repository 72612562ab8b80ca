package xapiservice

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

func TestDocETagMatches(t *testing.T) {
	const etag = "9f4e3a1b2c3d4e5f60718293a4b5c6d7e8f90a1b"
	cases := []struct {
		header string
		want   bool
	}{
		{`"` + etag + `"`, true},
		{etag, true},
		{`W/"` + etag + `"`, true},
		{`"9F4E3A1B2C3D4E5F60718293A4B5C6D7E8F90A1B"`, true},
		{`"1234", "` + etag + `"`, true},
		{`*`, true},
		{`"1234"`, false},
		{`"` + etag[:39] + `"`, false},
		{`""`, false},
	}
	for _, tc := range cases {
		if got := docETagMatches(tc.header, etag); got != tc.want {
			t.Errorf("docETagMatches(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestDocMerge(t *testing.T) {
	cases := []struct{ cur, next, want string }{
		{`{"a":1,"b":{"x":1}}`, `{"b":{"y":2}}`, `{"a":1,"b":{"y":2}}`},
		{`{}`, `{"a":[1,2]}`, `{"a":[1,2]}`},
		{`{"a":"<&>"}`, `{"b":null}`, `{"a":"<&>","b":null}`},
	}
	for _, tc := range cases {
		got, err := docMerge([]byte(tc.cur), []byte(tc.next))
		if err != nil {
			t.Fatalf("docMerge(%s, %s): %v", tc.cur, tc.next, err)
		}
		if string(got) != tc.want {
			t.Errorf("docMerge(%s, %s) = %s, want %s", tc.cur, tc.next, got, tc.want)
		}
	}
}

func TestDocValidIRI(t *testing.T) {
	cases := map[string]bool{
		"http://example.com/a":        true,
		"urn:uuid:0d4bd0a4-0b8b-4b7e": true,
		"tag:example.com,2024:ä":      true,
		"example.com/a":               false,
		":nothing":                    false,
		"http:":                       false,
		"1http://example.com":         false,
		"http://example.com/a b":      false,
		"http://example.com/<a>":      false,
		"true":                        false,
	}
	for iri, want := range cases {
		if got := docValidIRI(iri); got != want {
			t.Errorf("docValidIRI(%q) = %v, want %v", iri, got, want)
		}
	}
}

func TestAgentParse(t *testing.T) {
	valid := []struct{ agent, ifi string }{
		{`{"objectType":"Agent","mbox":"mailto:ana@example.com","name":"Ana"}`, "mbox:mailto:ana@example.com"},
		{`{"mbox_sha1sum":"EBD31E95054C018B10727CCFFD2EF2EC3A016EE9"}`, "sha1:ebd31e95054c018b10727ccffd2ef2ec3a016ee9"},
		{`{"openid":"http://openid.example.com/ana"}`, "openid:http://openid.example.com/ana"},
		{`{"account":{"homePage":"http://lms.example.com","name":"ana"}}`, "account:http://lms.example.com\nana"},
		{`{"objectType":"Group","mbox":"mailto:team@example.com","member":[]}`, "mbox:mailto:team@example.com"},
	}
	for _, tc := range valid {
		a, err := agentParse([]byte(tc.agent))
		if err != nil || a.ifi != tc.ifi {
			t.Errorf("agentParse(%s) = %q, %v; want %q", tc.agent, a.ifi, err, tc.ifi)
		}
	}
	invalid := []string{
		``, `null`, `[]`, `"ana"`, `{"name":"ana"}`, `{"mbox":"ana@example.com"}`, `{"mbox":"mailto:"}`,
		`{"mbox":"mailto:a@b.c","openid":"http://o.example.com"}`, `{"mbox":1}`, `{"mbox_sha1sum":"xyz"}`,
		`{"openid":"not a uri"}`, `{"account":{"homePage":"http://lms.example.com"}}`, `{"account":{"name":"a"}}`,
		`{"account":{"homePage":"http://h.example.com","name":"a","id":1}}`, `{"account":"a"}`,
		`{"objectType":"Person","mbox":"mailto:a@b.c"}`, `{"mbox":"mailto:a@b.c","member":[]}`, `{"mbox":"mailto:a@b.c","x":1}`,
		`{"mbox":"mailto:a@b.c"}trailing`,
	}
	for _, agent := range invalid {
		if a, err := agentParse([]byte(agent)); err == nil {
			t.Errorf("agentParse(%s) accepted it as %q", agent, a.ifi)
		}
	}
}

const (
	activity = "http://example.com/course"
	agent    = `{"mbox":"mailto:ana@example.com"}`
)

var docWriter = principal("ana", auth.ScopeState, auth.ScopeProfile)

func stateParams(id string) Params {
	ps := Params{{"activityId", activity}, {"agent", agent}}
	if id != "" {
		ps = append(ps, Param{"stateId", id})
	}
	return ps
}

func docReq(v xapi.Version, ps Params, body string, headers ...string) DocumentRequest {
	r := DocumentRequest{Principal: docWriter, Version: v, Params: ps, Body: []byte(body), ContentType: "application/json"}
	for i := 0; i+1 < len(headers); i += 2 {
		switch headers[i] {
		case "If-Match":
			r.IfMatch = headers[i+1]
		case "If-None-Match":
			r.IfNoneMatch = headers[i+1]
		case "Content-Type":
			r.ContentType = headers[i+1]
		}
	}
	return r
}

func TestDocumentRoundTrip(t *testing.T) {
	st := &fakeDocuments{}
	d := NewDocuments(st, 1<<20)
	ctx := context.Background()
	etag, err := d.Put(ctx, State, docReq(xapi.V2_0_0, stateParams("s1"), `{"a":1}`))
	if err != nil || etag == "" {
		t.Fatalf("put: %q %v", etag, err)
	}
	a, err := d.Get(ctx, State, docReq(xapi.V2_0_0, stateParams("s1"), ""))
	if err != nil || a.Document == nil || string(a.Document.Content) != `{"a":1}` || a.Document.ETag != etag || a.Document.ContentType != "application/json" {
		t.Fatalf("get: %+v %v", a, err)
	}
	etag2, err := d.Post(ctx, State, docReq(xapi.V2_0_0, stateParams("s1"), `{"b":2}`))
	if err != nil || etag2 == etag {
		t.Fatalf("post: %q %v", etag2, err)
	}
	a, _ = d.Get(ctx, State, docReq(xapi.V2_0_0, stateParams("s1"), ""))
	if string(a.Document.Content) != `{"a":1,"b":2}` {
		t.Fatalf("merged %s", a.Document.Content)
	}
	if _, err := d.Put(ctx, State, docReq(xapi.V2_0_0, append(stateParams("s2"), Param{"registration", "6F1B6F4C-1E9A-4E0B-9C5E-2B7A3D8C9E10"}), `x`, "Content-Type", "")); err != nil {
		t.Fatal(err)
	}
	a, err = d.Get(ctx, State, docReq(xapi.V2_0_0, append(stateParams("s2"), Param{"registration", "6f1b6f4c-1e9a-4e0b-9c5e-2b7a3d8c9e10"}), ""))
	if err != nil || a.Document.ContentType != "application/octet-stream" {
		t.Fatalf("registration is one UUID in any case; no Content-Type is octet-stream: %+v %v", a.Document, err)
	}
	a, err = d.Get(ctx, State, docReq(xapi.V2_0_0, stateParams(""), ""))
	if err != nil || len(a.IDs) != 1 || a.IDs[0] != "s1" {
		t.Fatalf("list: %+v %v", a, err)
	}
	a, err = d.Get(ctx, State, docReq(xapi.V2_0_0, append(stateParams(""), Param{"since", st.now.Format(time.RFC3339Nano)}), ""))
	if err != nil || len(a.IDs) != 0 {
		t.Fatalf("list since the last write: %+v %v", a, err)
	}
	if err := d.Delete(ctx, State, docReq(xapi.V2_0_0, stateParams("s1"), "", "If-Match", `"`+etag2+`"`)); err != nil {
		t.Fatal(err)
	}
	_, err = d.Get(ctx, State, docReq(xapi.V2_0_0, stateParams("s1"), ""))
	wantStatus(t, err, http.StatusNotFound, `no state document "s1"`)
	d.Put(ctx, State, docReq(xapi.V2_0_0, stateParams("s3"), `{}`))
	if err := d.Delete(ctx, State, docReq(xapi.V2_0_0, stateParams(""), "")); err != nil || len(st.docs) != 1 {
		t.Fatalf("delete all of the activity and agent: %v, %d left (the other registration's)", err, len(st.docs))
	}
	st.err = errBroken
	for _, err := range []error{
		func() error { _, err := d.Get(ctx, State, docReq(xapi.V2_0_0, stateParams("s1"), "")); return err }(),
		func() error { _, err := d.Get(ctx, State, docReq(xapi.V2_0_0, stateParams(""), "")); return err }(),
		func() error { _, err := d.Put(ctx, State, docReq(xapi.V2_0_0, stateParams("s1"), "{}")); return err }(),
		d.Delete(ctx, State, docReq(xapi.V2_0_0, stateParams(""), "")),
	} {
		if !errors.Is(err, errBroken) {
			t.Errorf("store down: %v", err)
		}
	}
}

// The concurrency rules (xAPI Communication 3.1, RFC 7232).
func TestDocumentPreconditions(t *testing.T) {
	ctx := context.Background()
	profile := func(id string) Params { return Params{{"activityId", activity}, {"profileId", id}} }
	st := &fakeDocuments{}
	d := NewDocuments(st, 1<<20)
	etag, err := d.Put(ctx, ActivityProfile, docReq(xapi.V2_0_0, profile("p"), `{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		res     Resource
		v       xapi.Version
		ps      Params
		headers []string
		status  int // 0: written
		message string
	}{
		{"2.0 PUT over a document without a precondition", ActivityProfile, xapi.V2_0_0, profile("p"), nil, 409, "send If-Match"},
		{"2.0 PUT of a new document without a precondition", ActivityProfile, xapi.V2_0_0, profile("new1"), nil, 0, ""},
		{"1.0.3 profile PUT of a new document without a precondition", ActivityProfile, xapi.V1_0_3, profile("new2"), nil, 400, "needs If-Match or If-None-Match"},
		{"1.0.3 profile PUT over a document without a precondition", ActivityProfile, xapi.V1_0_3, profile("p"), nil, 409, "exists"},
		{"1.0.3 state PUT over a document without a precondition", State, xapi.V1_0_3, stateParams("s"), nil, 0, ""},
		{"If-Match with the ETag", ActivityProfile, xapi.V2_0_0, profile("p"), []string{"If-Match", `"` + etag + `"`}, 0, ""},
		{"If-Match with an old ETag", ActivityProfile, xapi.V2_0_0, profile("p"), []string{"If-Match", `"` + etag + `"`}, 412, "it changed since it was read"},
		{"If-Match on no document", ActivityProfile, xapi.V2_0_0, profile("none"), []string{"If-Match", "*"}, 412, `there is no activity profile document "none"`},
		{"If-None-Match * over a document", ActivityProfile, xapi.V2_0_0, profile("p"), []string{"If-None-Match", "*"}, 412, "exists"},
		{"If-None-Match * for a new document", ActivityProfile, xapi.V2_0_0, profile("new3"), []string{"If-None-Match", "*"}, 0, ""},
	}
	for _, tc := range cases {
		_, err := d.Put(ctx, tc.res, docReq(tc.v, tc.ps, `{"b":2}`, tc.headers...))
		if tc.status == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != tc.status || !strings.Contains(e.Message, tc.message) {
			t.Errorf("%s: got %v, want %d %q", tc.name, err, tc.status, tc.message)
		}
	}
	// POST and DELETE honour the headers too, and need none.
	_, err = d.Post(ctx, ActivityProfile, docReq(xapi.V2_0_0, profile("p"), `{"c":3}`, "If-Match", `"nope"`))
	wantStatus(t, err, 412, "If-Match")
	err = d.Delete(ctx, ActivityProfile, docReq(xapi.V2_0_0, profile("p"), "", "If-None-Match", "*"))
	wantStatus(t, err, 412, "If-None-Match")
	if err := d.Delete(ctx, ActivityProfile, docReq(xapi.V2_0_0, profile("p"), "")); err != nil {
		t.Fatal(err)
	}
}

func TestDocumentPostMerge(t *testing.T) {
	ctx := context.Background()
	profile := Params{{"agent", agent}, {"profileId", "p"}}
	d := NewDocuments(&fakeDocuments{}, 30)
	if _, err := d.Post(ctx, AgentProfile, docReq(xapi.V2_0_0, profile, `text`, "Content-Type", "text/plain")); err != nil {
		t.Fatalf("a new non-JSON document: %v", err)
	}
	_, err := d.Post(ctx, AgentProfile, docReq(xapi.V2_0_0, profile, `text`, "Content-Type", "text/plain"))
	wantStatus(t, err, 400, `the body's Content-Type is "text/plain"`)
	_, err = d.Post(ctx, AgentProfile, docReq(xapi.V2_0_0, profile, `{"a":1}`))
	wantStatus(t, err, 400, "the stored document is not a JSON object")
	_, err = d.Post(ctx, AgentProfile, docReq(xapi.V2_0_0, profile, `[1]`))
	wantStatus(t, err, 400, "not a JSON object")
	profile[1].Value = "q"
	if _, err := d.Post(ctx, AgentProfile, docReq(xapi.V2_0_0, profile, `{"a":"0123456789"}`)); err != nil {
		t.Fatal(err)
	}
	_, err = d.Post(ctx, AgentProfile, docReq(xapi.V2_0_0, profile, `{"b":"0123456789"}`))
	wantStatus(t, err, 413, "the limit is 30")
}

func TestDocumentBadInput(t *testing.T) {
	ctx := context.Background()
	d := NewDocuments(&fakeDocuments{}, 1<<20)
	get := func(res Resource, ps Params) error {
		_, err := d.Get(ctx, res, docReq(xapi.V2_0_0, ps, ""))
		return err
	}
	put := func(res Resource, ps Params) error {
		_, err := d.Put(ctx, res, docReq(xapi.V2_0_0, ps, "{}"))
		return err
	}
	post := func(res Resource, ps Params) error {
		_, err := d.Post(ctx, res, docReq(xapi.V2_0_0, ps, "{}"))
		return err
	}
	del := func(res Resource, ps Params) error { return d.Delete(ctx, res, docReq(xapi.V2_0_0, ps, "")) }
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"unknown parameter", get(State, append(stateParams("s"), Param{"stateid", "s"})), "stateid cannot be used here"},
		{"repeated parameter", get(State, append(stateParams("s"), Param{"stateId", "t"})), "stateId given more than once"},
		{"NUL", get(State, stateParams("s\x00")), "stateId holds a NUL character"},
		{"no activityId", get(State, Params{{"agent", agent}, {"stateId", "s"}}), "the activityId parameter is required"},
		{"activityId not an IRI", get(ActivityProfile, Params{{"activityId", "course"}}), `activityId "course" is not an IRI`},
		{"no agent", get(AgentProfile, Params{{"profileId", "p"}}), "the agent parameter is required"},
		{"bad agent", get(AgentProfile, Params{{"agent", `{"name":"ana"}`}}), "agent parameter: has 0 inverse functional identifiers"},
		{"bad registration", get(State, append(stateParams("s"), Param{"registration", "r1"})), `registration "r1" is not a UUID`},
		{"bad since", get(State, append(stateParams(""), Param{"since", "today"})), `since "today"`},
		{"since on a write", put(State, append(stateParams("s"), Param{"since", "2020-01-01T00:00:00Z"})), "since cannot be used here"},
		{"PUT without an id", put(State, stateParams("")), "the stateId parameter is required"},
		{"POST without an id", post(AgentProfile, Params{{"agent", agent}}), "the profileId parameter is required"},
		{"POST bad parameter", post(AgentProfile, Params{{"agent", "x"}}), "agent parameter"},
		{"DELETE bad parameter", del(AgentProfile, Params{{"agent", agent}, {"x", "1"}}), "x cannot be used here"},
		{"DELETE of all profiles", del(ActivityProfile, Params{{"activityId", activity}}), "the profileId parameter is required"},
	}
	for _, tc := range cases {
		var e *Error
		if !errors.As(tc.err, &e) || e.Status != 400 || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: got %v, want 400 %q", tc.name, tc.err, tc.want)
		}
	}
}

func TestDocumentScopes(t *testing.T) {
	ctx := context.Background()
	d := NewDocuments(&fakeDocuments{}, 1<<20)
	req := func(p auth.Principal) DocumentRequest {
		r := docReq(xapi.V2_0_0, stateParams("s"), "{}")
		r.Principal = p
		return r
	}
	profileOnly := principal("p", auth.ScopeProfile)
	_, err := d.Put(ctx, State, req(profileOnly))
	wantStatus(t, err, http.StatusForbidden, "lacks scope state")
	_, err = d.Post(ctx, State, req(profileOnly))
	wantStatus(t, err, http.StatusForbidden, "lacks scope state")
	wantStatus(t, d.Delete(ctx, State, req(profileOnly)), http.StatusForbidden, "lacks scope state")
	_, err = d.Get(ctx, State, req(profileOnly))
	wantStatus(t, err, http.StatusForbidden, "state or all/read")
	if _, err := d.Put(ctx, State, req(principal("s", auth.ScopeState))); err != nil {
		t.Fatal(err)
	}
	reader := principal("r", auth.ScopeAllRead)
	if _, err := d.Get(ctx, State, req(reader)); err != nil {
		t.Fatalf("all/read: %v", err)
	}
	_, err = d.Put(ctx, State, req(reader))
	wantStatus(t, err, http.StatusForbidden, "lacks scope state")
	// Tenants do not share documents.
	other := principal("s", auth.ScopeState)
	other.Tenant = "t2"
	_, err = d.Get(ctx, State, req(other))
	wantStatus(t, err, http.StatusNotFound, "no state document")
}

func TestActivity(t *testing.T) {
	ctx := context.Background()
	updated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := &fakeDocuments{activities: map[string]store.Activity{"t1/" + activity: {ID: activity, Definition: []byte(`{"type":"http://x.example.com/t"}`), Updated: updated}}}
	d := NewDocuments(st, 1<<20)
	caughtUp := 0
	catchUp := func(context.Context) { caughtUp++ }
	reader := principal("r", auth.ScopeStatementsRead)
	a, err := d.Activity(ctx, reader, Params{{"activityId", activity}}, catchUp)
	if err != nil || a.ObjectType != "Activity" || a.ID != activity || string(a.Definition) != `{"type":"http://x.example.com/t"}` || !a.Updated.Equal(updated) || caughtUp != 1 {
		t.Fatalf("%+v %v (caught up %d)", a, err, caughtUp)
	}
	a, err = d.Activity(ctx, reader, Params{{"activityId", "http://example.com/other"}}, catchUp)
	if err != nil || a.Definition != nil || !a.Updated.IsZero() {
		t.Fatalf("undefined activity: %+v %v", a, err)
	}
	for _, tc := range []struct {
		p      auth.Principal
		ps     Params
		status int
		want   string
	}{
		{principal("w", auth.ScopeStatementsWrite), Params{{"activityId", activity}}, 403, "lacks scope"},
		{reader, Params{{"activityId", activity}, {"x", "1"}}, 400, "x cannot be used here"},
		{reader, Params{{"activityId", activity}, {"activityId", activity}}, 400, "more than once"},
		{reader, nil, 400, "the activityId parameter is required"},
		{reader, Params{{"activityId", "nope"}}, 400, "not an IRI"},
	} {
		_, err := d.Activity(ctx, tc.p, tc.ps, catchUp)
		wantStatus(t, err, tc.status, tc.want)
	}
	if caughtUp != 2 {
		t.Fatalf("a refused request waited for the store (%d waits)", caughtUp)
	}
	st.err = errBroken
	if _, err := d.Activity(ctx, reader, Params{{"activityId", activity}}, catchUp); !errors.Is(err, errBroken) {
		t.Fatalf("store down: %v", err)
	}
}

func TestPerson(t *testing.T) {
	reader := principal("r", auth.ScopeProfile)
	for agent, want := range map[string]string{
		`{"name":"Ana","mbox":"mailto:ana@example.com"}`:                 `{"objectType":"Person","name":["Ana"],"mbox":["mailto:ana@example.com"]}`,
		`{"mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}`:    `{"objectType":"Person","mbox_sha1sum":["ebd31e95054c018b10727ccffd2ef2ec3a016ee9"]}`,
		`{"openid":"http://openid.example.com/ana"}`:                     `{"objectType":"Person","openid":["http://openid.example.com/ana"]}`,
		`{"account":{"homePage":"http://lms.example.com","name":"ana"}}`: `{"objectType":"Person","account":[{"homePage":"http://lms.example.com","name":"ana"}]}`,
	} {
		p, err := Person(reader, Params{{"agent", agent}})
		b, _ := json.Marshal(p)
		if err != nil || string(b) != want {
			t.Errorf("%s: %s %v, want %s", agent, b, err, want)
		}
	}
	for _, tc := range []struct {
		p      auth.Principal
		ps     Params
		status int
		want   string
	}{
		{principal("w", auth.ScopeState), Params{{"agent", agent}}, 403, "lacks scope"},
		{reader, Params{{"agent", agent}, {"x", "1"}}, 400, "x cannot be used here"},
		{reader, Params{{"agent", agent}, {"agent", agent}}, 400, "more than once"},
		{reader, nil, 400, "the agent parameter is required"},
		{reader, Params{{"agent", `{"objectType":"Group","mbox":"mailto:t@example.com"}`}}, 400, "not a Group"},
	} {
		_, err := Person(tc.p, tc.ps)
		wantStatus(t, err, tc.status, tc.want)
	}
}
