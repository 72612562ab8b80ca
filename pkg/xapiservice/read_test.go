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
)

// stored accepts stmt as p and puts it in the fake store, as the
// store-writer would.
func (f *statementsFixture) stored(t *testing.T, p auth.Principal, stmt string, parts ...Part) store.Statement {
	t.Helper()
	ids, err := f.post(p, stmt, parts...)
	if err != nil {
		t.Fatal(err)
	}
	pub := f.log.published()
	last := pub[len(pub)-1]
	if last.ID != ids[0] {
		t.Fatalf("published %s, want %s", last.ID, ids[0])
	}
	st := store.Statement{Tenant: p.Tenant, ID: last.ID, Stored: last.Stored, JSON: last.Statement, Fingerprint: last.Fingerprint}
	f.store.put(st)
	return st
}

func (f *statementsFixture) read(p auth.Principal, query string) (StatementAnswer, error) {
	return f.svc.Read(context.Background(), StatementRead{Principal: p, Params: queryParams(query), AcceptLanguage: "en-US"})
}

func TestReadOneStatement(t *testing.T) {
	f := newStatements(t, StatementConfig{}, nil)
	st := f.stored(t, writer, withID(id1, statement("completed", "a")))
	a, err := f.read(writer, "statementId="+strings.ToUpper(id1))
	if err != nil {
		t.Fatal(err)
	}
	if string(a.JSON) != string(st.JSON) || !a.LastModified.Equal(st.Stored) || a.Multipart {
		t.Fatalf("answer %+v", a)
	}
	a, err = f.read(writer, "statementId="+id1+"&format=ids")
	if err != nil || strings.Contains(string(a.JSON), "mailto:") == false {
		t.Fatalf("format=ids: %s %v", a.JSON, err)
	}
	_, err = f.read(writer, "voidedStatementId="+id1)
	wantStatus(t, err, http.StatusNotFound, "no statement "+id1)
	f.store.voided = map[string]bool{"t1/" + id1: true}
	if _, err := f.read(writer, "voidedStatementId="+id1); err != nil {
		t.Fatalf("voided: %v", err)
	}
	_, err = f.read(writer, "statementId="+id1)
	wantStatus(t, err, http.StatusNotFound, "no statement")

	for query, want := range map[string]string{
		"statementId=" + id1 + "&voidedStatementId=" + id1: "cannot be used together",
		"statementId=" + id1 + "&verb=x":                   "verb cannot be used here",
		"statementid=" + id1:                               "unknown parameter(s) statementid",
		"format=pretty":                                    "format",
		"attachments=yes":                                  "attachments \"yes\": want true or false",
	} {
		_, err := f.read(writer, query)
		wantStatus(t, err, 400, want)
	}
	f.store.err = errBroken
	if _, err := f.read(writer, "statementId="+id1); !errors.Is(err, errBroken) {
		t.Fatalf("store down: %v", err)
	}
}

func TestReadNeedsReadScope(t *testing.T) {
	f := newStatements(t, StatementConfig{}, nil)
	_, err := f.read(principal("w", auth.ScopeStatementsWrite), "")
	wantStatus(t, err, http.StatusForbidden, "statements/read or statements/read/mine")
	for _, sc := range []string{auth.ScopeStatementsRead, auth.ScopeStatementsReadMine, auth.ScopeAll} {
		if err := f.svc.MayRead(principal("r", sc)); err != nil {
			t.Errorf("%s: %v", sc, err)
		}
	}
}

// statements/read/mine reads only the statements of its own authority:
// another's is "not found", and a listing is limited to its own.
func TestReadMine(t *testing.T) {
	f := newStatements(t, StatementConfig{}, nil)
	bob := principal("bob", auth.ScopeStatementsWrite)
	f.stored(t, bob, withID(id1, statement("completed", "a")))
	f.stored(t, writer, withID(id2, statement("completed", "b")))
	mine := principal("ana", auth.ScopeStatementsReadMine)
	_, err := f.read(mine, "statementId="+id1)
	wantStatus(t, err, http.StatusNotFound, "no statement")
	if _, err := f.read(mine, "statementId="+id2); err != nil {
		t.Fatalf("its own: %v", err)
	}
	if _, err := f.read(mine, "verb=http://adlnet.gov/expapi/verbs/completed"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.read(writer, ""); err != nil {
		t.Fatal(err)
	}
	if q := f.store.queries; len(q) != 2 || q[0].Authority != string(mine.Authority) || q[1].Authority != "" || q[0].Verb != "http://adlnet.gov/expapi/verbs/completed" {
		t.Fatalf("queries %+v", q)
	}
}

func TestReadPage(t *testing.T) {
	f := newStatements(t, StatementConfig{Prefix: "/xapi"}, nil)
	a := f.stored(t, writer, withID(id1, statement("completed", "a")))
	time.Sleep(2 * time.Millisecond)
	b := f.stored(t, writer, withID(id2, statement("completed", "b")))
	f.store.page = store.Page{Statements: []store.Statement{b, a}, More: "c/1 2"}
	ans, err := f.read(writer, "limit=2&ascending=false&since=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&related_agents=true&related_activities=true&registration=r&activity=http://example.com/a&agent=x")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Statements []map[string]any `json:"statements"`
		More       string           `json:"more"`
	}
	if err := json.Unmarshal(ans.JSON, &res); err != nil {
		t.Fatalf("%s: %v", ans.JSON, err)
	}
	if len(res.Statements) != 2 || res.More != "/xapi/statements?more=c%2F1+2" || !ans.LastModified.Equal(b.Stored) {
		t.Fatalf("%s, Last-Modified %v", ans.JSON, ans.LastModified)
	}
	q := f.store.queries[0]
	if q.Tenant != "t1" || q.Limit != 2 || !q.RelatedAgents || !q.RelatedActivities || q.Ascending || q.Since.Year() != 2020 || q.Until.Year() != 2100 ||
		q.Registration != "r" || q.Activity != "http://example.com/a" || q.Agent != "x" {
		t.Fatalf("query %+v", q)
	}
	if _, err := f.read(writer, "more=c/1&format=exact"); err != nil || f.store.queries[1].Cursor != "c/1" {
		t.Fatalf("more: %v %+v", err, f.store.queries[1])
	}
	f.store.page = store.Page{}
	ans, err = f.read(writer, "")
	if err != nil || string(ans.JSON) != `{"statements":[],"more":""}` || !ans.LastModified.IsZero() {
		t.Fatalf("empty: %s %v %v", ans.JSON, ans.LastModified, err)
	}
	for query, want := range map[string]string{
		"more=c&verb=x":             "verb cannot be used here",
		"limit=-1":                  "limit \"-1\": want a non-negative integer",
		"limit=ten":                 "limit \"ten\"",
		"since=yesterday":           "since \"yesterday\": want an RFC 3339 timestamp",
		"until=2020":                "until",
		"ascending=1":               "ascending",
		"related_agents=yes":        "related_agents",
		"related_activities=no":     "related_activities",
		"verb=x&attachments=always": "attachments",
	} {
		_, err := f.read(writer, query)
		wantStatus(t, err, 400, want)
	}
	f.store.err = store.ErrInvalidQuery
	_, err = f.read(writer, "more=forged")
	wantStatus(t, err, 400, "invalid query")
	f.store.err = errBroken
	if _, err := f.read(writer, ""); !errors.Is(err, errBroken) {
		t.Fatalf("store down: %v", err)
	}
}

// attachments=true answers the attachments a statement had to send
// itself, and the fileUrl ones only to the statement that sent the body:
// knowing a hash is not enough to read another's attachment.
func TestReadWithAttachments(t *testing.T) {
	f := newStatements(t, StatementConfig{}, nil)
	cert, secret := []byte("certificate"), []byte("secret")
	const usage = "http://example.com/certificate"
	own := f.stored(t, writer, withAttachment(withID(id1, statement("completed", "a")), usage, "text/plain", sha(cert), ""), Part{Hash: sha(cert), ContentType: "text/plain", Content: cert})
	bob := principal("bob", auth.ScopeStatementsWrite)
	f.stored(t, bob, withAttachment(statement("completed", "b"), usage, "text/plain", sha(secret), "http://example.com/s"), Part{Hash: sha(secret), ContentType: "text/plain", Content: secret})
	probe := f.stored(t, writer, withAttachment(withID(id2, statement("completed", "c")), usage, "text/plain", sha(secret), "http://example.com/s"))

	a, err := f.read(writer, "statementId="+id1+"&attachments=true")
	if err != nil || !a.Multipart || len(a.Attachments) != 1 || string(a.Attachments[0].Content) != "certificate" {
		t.Fatalf("own: %+v %v", a, err)
	}
	a, err = f.read(writer, "statementId="+id2+"&attachments=true")
	if err != nil || !a.Multipart || len(a.Attachments) != 0 {
		t.Fatalf("probe by hash: %+v %v", a.Attachments, err)
	}
	f.store.page = store.Page{Statements: []store.Statement{own, probe, own}}
	a, err = f.read(writer, "attachments=true")
	if err != nil || len(a.Attachments) != 1 {
		t.Fatalf("page: %+v %v", a.Attachments, err)
	}
	f.atts.err = errBroken
	if _, err := f.read(writer, "statementId="+id2+"&attachments=true"); !errors.Is(err, errBroken) {
		t.Fatalf("attachment store down: %v", err)
	}
	if _, err := f.read(writer, "statementId="+id1+"&attachments=true"); !errors.Is(err, errBroken) {
		t.Fatalf("attachment store down: %v", err)
	}
}

func TestParams(t *testing.T) {
	ps := queryParams("a=1&b=2&a=3")
	if ps.Get("a") != "1" || ps.Get("c") != "" {
		t.Fatalf("Get: %+v", ps)
	}
	wantStatus(t, ps.Once(), 400, "a given more than once")
	wantStatus(t, ps.Only("a"), 400, "parameter(s) b cannot be used here; allowed: a")
	if err := ps.Only("a", "b"); err != nil {
		t.Fatal(err)
	}
}
