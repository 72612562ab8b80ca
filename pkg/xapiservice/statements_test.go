package xapiservice

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

const (
	id1 = "0d9f5a4e-6b1c-4a2d-8e3f-7a6b5c4d3e2f"
	id2 = "1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0"
)

// statement is a valid statement of actor ana; verb and activity vary it.
func statement(verb, activity string) string {
	return `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/` + verb +
		`"},"object":{"id":"http://example.com/` + activity + `"}}`
}

func withID(id, stmt string) string { return `{"id":"` + id + `",` + stmt[1:] }

func voiding(target string) string {
	return `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"` + target + `"}}`
}

type statementsFixture struct {
	svc    *Statements
	log    *fakeLog
	store  *fakeStatements
	atts   *fakeAttachments
	count  *prometheus.CounterVec
	events []string
}

func newStatements(t *testing.T, cfg StatementConfig, backlog Backlog) *statementsFixture {
	t.Helper()
	f := &statementsFixture{store: &fakeStatements{}, count: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "n"}, []string{"result"})}
	f.log = &fakeLog{events: &f.events}
	f.atts = &fakeAttachments{events: &f.events}
	if cfg.MaxBatchStatements == 0 {
		cfg.MaxBatchStatements = 100
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = time.Second
	}
	if cfg.VoidingPolicy == "" {
		cfg.VoidingPolicy = auth.VoidByAuthority
	}
	svc, err := NewStatements(cfg, StatementDeps{Publisher: f.log, Store: f.store, Attachments: f.atts, Conflicts: f.log, Backlog: backlog, Counted: f.count})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

var writer = principal("ana", auth.ScopeStatementsWrite, auth.ScopeStatementsRead)

func (f *statementsFixture) post(p auth.Principal, body string, parts ...Part) ([]string, error) {
	return f.svc.Accept(context.Background(), StatementWrite{Principal: p, Version: xapi.V2_0_0, Statements: []byte(body), Parts: parts})
}

// wantStatus fails unless err is an xAPI error of status.
func wantStatus(t *testing.T, err error, status int, contains string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an xAPI error %d", err, status)
	}
	if e.Status != status || !strings.Contains(e.Message, contains) {
		t.Fatalf("got %d %q, want %d with %q", e.Status, e.Message, status, contains)
	}
	return e
}

func TestNewStatementsNeedsItsParts(t *testing.T) {
	if _, err := NewStatements(StatementConfig{}, StatementDeps{}); err == nil {
		t.Fatal("no dependencies: accepted")
	}
	f := newStatements(t, StatementConfig{}, nil)
	if _, err := NewStatements(StatementConfig{MaxBacklogBytes: 1}, StatementDeps{Publisher: f.log, Store: f.store, Attachments: f.atts, Conflicts: f.log, Counted: f.count}); err == nil {
		t.Fatal("a backlog bound without a gauge: accepted")
	}
}

func TestAcceptPublishesOneRecordInRequestOrder(t *testing.T) {
	f := newStatements(t, StatementConfig{}, nil)
	ids, err := f.post(writer, "["+statement("completed", "a")+","+withID(id1, statement("passed", "b"))+"]")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[1] != id1 || ids[0] == "" || ids[0] == id1 {
		t.Fatalf("ids %v", ids)
	}
	if len(f.log.batches) != 1 {
		t.Fatalf("%d records, want one per request", len(f.log.batches))
	}
	b := f.log.batches[0]
	if b.Tenant != "t1" || len(b.Statements) != 2 || b.Statements[0].ID != ids[0] || b.Statements[1].ID != id1 {
		t.Fatalf("record %+v", b)
	}
	for _, st := range b.Statements {
		if st.Stored.IsZero() || st.Fingerprint == "" || !bytes.Contains(st.Statement, []byte(`"authority"`)) || !bytes.Contains(st.Statement, []byte(`"stored"`)) {
			t.Fatalf("statement not prepared: %s", st.Statement)
		}
	}
	if n := counted(f.count, "accepted"); n != 2 {
		t.Fatalf("accepted %d", n)
	}
}

func TestAcceptPut(t *testing.T) {
	f := newStatements(t, StatementConfig{}, nil)
	w := StatementWrite{Principal: writer, Version: xapi.V1_0_3, StatementID: id1, Statements: []byte(statement("completed", "a"))}
	ids, err := f.svc.Accept(context.Background(), w)
	if err != nil || len(ids) != 1 || ids[0] != id1 {
		t.Fatalf("PUT: %v %v", ids, err)
	}
	w.Statements = []byte(" [" + statement("completed", "a") + "]")
	_, err = f.svc.Accept(context.Background(), w)
	wantStatus(t, err, 400, "not an array")
	w.Statements = []byte(withID(id2, statement("completed", "a")))
	if _, err = f.svc.Accept(context.Background(), w); err == nil {
		t.Fatal("PUT whose body names another id: accepted")
	}
}

// The statement comparison rules: the same statement again is accepted
// without a second copy, another one under the same id is a 409.
func TestAcceptConflictsAndSameContentRetries(t *testing.T) {
	f := newStatements(t, StatementConfig{}, nil)
	if _, err := f.post(writer, withID(id1, statement("completed", "a"))); err != nil {
		t.Fatal(err)
	}
	ids, err := f.post(writer, withID(id1, statement("completed", "a")))
	if err != nil || len(ids) != 1 || ids[0] != id1 {
		t.Fatalf("retry: %v %v", ids, err)
	}
	if len(f.log.batches) != 1 || counted(f.count, "duplicate") != 1 {
		t.Fatalf("retry published again: %d records, %d duplicates", len(f.log.batches), counted(f.count, "duplicate"))
	}
	// Half known: only the new one is published.
	if _, err := f.post(writer, "["+withID(id1, statement("completed", "a"))+","+withID(id2, statement("completed", "b"))+"]"); err != nil {
		t.Fatal(err)
	}
	if got := f.log.published(); len(got) != 2 || got[1].ID != id2 {
		t.Fatalf("published %+v", got)
	}
	_, err = f.post(writer, withID(id1, statement("failed", "a")))
	wantStatus(t, err, http.StatusConflict, id1)
	// Another tenant's id is its own.
	other := writer
	other.Tenant = "t2"
	if _, err := f.post(other, withID(id1, statement("failed", "a"))); err != nil {
		t.Fatalf("same id in another tenant: %v", err)
	}
	f.svc.conflicts = failingConflicts{errBroken}
	if _, err := f.post(writer, withID(id1, statement("completed", "a"))); !errors.Is(err, errBroken) {
		t.Fatalf("conflict check failing: %v", err)
	}
}

func TestAcceptRejectsBadStatements(t *testing.T) {
	f := newStatements(t, StatementConfig{MaxBatchStatements: 2}, nil)
	_, err := f.post(writer, `{"actor":{"mbox":"ana"},"verb":{"id":"http://x.example.com/v"},"object":{"id":"http://x.example.com/a"}}`)
	var ve *xapi.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) == 0 {
		t.Fatalf("invalid mbox: %v", err)
	}
	_, err = f.post(writer, "["+statement("a", "a")+","+statement("b", "b")+","+statement("c", "c")+"]")
	var le *xapi.LimitError
	var e *Error
	if !errors.As(err, &le) && !(errors.As(err, &e) && e.Status == http.StatusRequestEntityTooLarge) {
		t.Fatalf("3 statements over a limit of 2: %v", err)
	}
	if counted(f.count, "rejected") != 2 || len(f.log.batches) != 0 {
		t.Fatalf("rejected %d, published %d", counted(f.count, "rejected"), len(f.log.batches))
	}
}

func TestAcceptNeedsWriteScope(t *testing.T) {
	f := newStatements(t, StatementConfig{}, nil)
	_, err := f.post(principal("reader", auth.ScopeStatementsRead), statement("completed", "a"))
	wantStatus(t, err, http.StatusForbidden, "statements/write")
	if _, err := f.post(principal("admin", auth.ScopeAll), statement("completed", "a")); err != nil {
		t.Fatalf("scope all: %v", err)
	}
}

func TestAcceptPublishFailures(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		message string
	}{
		{stream.ErrTooLarge, http.StatusRequestEntityTooLarge, "larger than the topic accepts"},
		{fmt.Errorf("publish: %w", stream.ErrNotAcknowledged), http.StatusServiceUnavailable, "a retry never creates a duplicate"},
		{errBroken, http.StatusServiceUnavailable, "nothing was stored"},
	} {
		f := newStatements(t, StatementConfig{}, nil)
		f.log.err = tc.err
		var logged []string
		_, err := f.svc.Accept(context.Background(), StatementWrite{Principal: writer, Version: xapi.V2_0_0,
			Statements: []byte(statement("completed", "a")),
			Log:        func(_ zapcore.Level, msg string, _ ...zap.Field) { logged = append(logged, msg) }})
		e := wantStatus(t, err, tc.status, tc.message)
		if tc.status == http.StatusServiceUnavailable && (e.RetryAfter != 5 || len(logged) != 1) {
			t.Fatalf("%v: Retry-After %d, logged %v", tc.err, e.RetryAfter, logged)
		}
		if counted(f.count, "accepted") != 0 {
			t.Fatal("counted as accepted")
		}
	}
}

func TestAcceptRefusesWhileTheStoreIsTooFarBehind(t *testing.T) {
	f := newStatements(t, StatementConfig{MaxBacklogBytes: 10 << 20}, backlogOf(11<<20))
	_, err := f.post(writer, statement("completed", "a"))
	e := wantStatus(t, err, http.StatusServiceUnavailable, "11 MB behind the stream (the limit is 10 MB)")
	if e.RetryAfter != 5 || counted(f.count, "backlog") != 1 || len(f.log.batches) != 0 {
		t.Fatalf("Retry-After %d, backlog %d, published %d", e.RetryAfter, counted(f.count, "backlog"), len(f.log.batches))
	}
	f.svc.backlog = backlogOf(10 << 20)
	if _, err := f.post(writer, statement("completed", "a")); err != nil {
		t.Fatalf("at the bound: %v", err)
	}
}

func TestVoidingPolicy(t *testing.T) {
	bob := principal("bob", auth.ScopeStatementsWrite)
	setup := func(t *testing.T, policy auth.VoidingPolicy) *statementsFixture {
		f := newStatements(t, StatementConfig{VoidingPolicy: policy}, nil)
		if _, err := f.post(bob, withID(id1, statement("completed", "a"))); err != nil {
			t.Fatal(err)
		}
		st := f.log.published()[0]
		f.store.put(store.Statement{Tenant: "t1", ID: st.ID, JSON: st.Statement})
		return f
	}
	t.Run("authority", func(t *testing.T) {
		f := setup(t, auth.VoidByAuthority)
		_, err := f.post(writer, voiding(id1))
		wantStatus(t, err, http.StatusForbidden, "statement 0 voids "+id1)
		if _, err := f.post(bob, voiding(id1)); err != nil {
			t.Fatalf("its own authority: %v", err)
		}
		if _, err := f.post(principal("admin", auth.ScopeAll), voiding(id1)); err != nil {
			t.Fatalf("scope all: %v", err)
		}
		if _, err := f.post(writer, voiding(id2)); err != nil {
			t.Fatalf("a target the store does not hold: %v", err)
		}
	})
	t.Run("tenant", func(t *testing.T) {
		f := setup(t, auth.VoidByTenant)
		if _, err := f.post(writer, voiding(id1)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the tenant's own policy wins", func(t *testing.T) {
		f := setup(t, auth.VoidByAuthority)
		f.store.tenants = map[string]store.Tenant{"t1": {ID: "t1", VoidingPolicy: string(auth.VoidByTenant)}}
		if _, err := f.post(writer, voiding(id1)); err != nil {
			t.Fatal(err)
		}
		f = setup(t, auth.VoidByTenant)
		f.store.tenants = map[string]store.Tenant{"t1": {ID: "t1", VoidingPolicy: string(auth.VoidByAuthority)}}
		_, err := f.post(writer, voiding(id1))
		wantStatus(t, err, http.StatusForbidden, "another authority")
	})
	t.Run("store down", func(t *testing.T) {
		f := setup(t, auth.VoidByAuthority)
		f.store.err = errBroken
		if _, err := f.post(writer, voiding(id1)); !errors.Is(err, errBroken) {
			t.Fatalf("got %v", err)
		}
		f.store.err = nil
		f.store.tenants = map[string]store.Tenant{"t1": {ID: "t1"}}
		if _, err := f.post(writer, statement("completed", "a")); err != nil {
			t.Fatalf("no voiding, no store read: %v", err)
		}
	})
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// multipartBody is a statement request with attachment parts.
func multipartBody(t *testing.T, stmts string, parts ...Part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	pw, _ := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	pw.Write([]byte(stmts))
	for _, p := range parts {
		pw, _ := w.CreatePart(textproto.MIMEHeader{"Content-Type": {p.ContentType}, HeaderHash: {p.Hash}, HeaderTransferEncoding: {"binary"}})
		pw.Write(p.Content)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return "multipart/mixed; boundary=" + w.Boundary(), buf.Bytes()
}

func TestReadStatementBody(t *testing.T) {
	cert := []byte("certificate")
	ct, body := multipartBody(t, statement("completed", "a"), Part{Hash: sha(cert), ContentType: "text/plain", Content: cert})
	stmts, parts, err := ReadStatementBody(ct, body)
	if err != nil || string(stmts) != statement("completed", "a") || len(parts) != 1 || parts[0].Hash != sha(cert) || string(parts[0].Content) != "certificate" || parts[0].ContentType != "text/plain" {
		t.Fatalf("%s %+v %v", stmts, parts, err)
	}
	if stmts, parts, err := ReadStatementBody("application/json; charset=utf-8", []byte("{}")); err != nil || string(stmts) != "{}" || parts != nil {
		t.Fatalf("json: %s %v %v", stmts, parts, err)
	}
	raw := func(head string) []byte {
		return []byte("--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\r\n" + head + "\r\n\r\ncertificate\r\n--b--\r\n")
	}
	bad := []struct {
		ct, body, want string
	}{
		{"", "{}", "Content-Type"},
		{"text/plain", "{}", "application/json, or multipart/mixed"},
		{"multipart/mixed", "", "without a boundary"},
		{"multipart/mixed; boundary=b", "garbage", "cannot read the statement part"},
		{"multipart/mixed; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n", "first part must be the statement"},
		{"multipart/mixed; boundary=b", string(raw("Content-Type: text/plain")), "has no X-Experience-API-Hash"},
		{"multipart/mixed; boundary=b", string(raw("X-Experience-API-Hash: " + sha(cert) + "\r\nContent-Transfer-Encoding: base64")), "must be binary"},
		{"multipart/mixed; boundary=b", string(raw("X-Experience-API-Hash: " + sha([]byte("other")))), "does not hash to"},
		{"multipart/mixed; boundary=b", "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\r\nbroken", "multipart/mixed"},
	}
	for _, tc := range bad {
		_, _, err := ReadStatementBody(tc.ct, []byte(tc.body))
		wantStatus(t, err, 400, tc.want)
	}
	if _, parts, err := ReadStatementBody("multipart/mixed; boundary=b", raw("X-Experience-API-Hash: "+strings.ToUpper(sha(cert)))); err != nil || parts[0].Hash != sha(cert) {
		t.Fatalf("upper-case hash: %v", err)
	}
}

// withAttachment adds one attachment to a statement.
func withAttachment(stmt, usage, contentType, hash, fileURL string) string {
	var m map[string]any
	json.Unmarshal([]byte(stmt), &m)
	a := map[string]any{"usageType": usage, "display": map[string]any{"en-US": "a"}, "contentType": contentType, "length": 1, "sha2": hash}
	if fileURL != "" {
		a["fileUrl"] = fileURL
	}
	m["attachments"] = []any{a}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestAcceptAttachments(t *testing.T) {
	cert := []byte("certificate")
	part := Part{Hash: sha(cert), ContentType: "text/plain", Content: cert}
	const usage = "http://example.com/certificate"
	t.Run("stored before the statement is published", func(t *testing.T) {
		f := newStatements(t, StatementConfig{}, nil)
		if _, err := f.post(writer, withAttachment(statement("completed", "a"), usage, "text/plain", part.Hash, ""), part); err != nil {
			t.Fatal(err)
		}
		if strings.Join(f.events, ",") != "attachments,publish" {
			t.Fatalf("order %v", f.events)
		}
		if got := f.atts.bodies["t1/"+part.Hash]; string(got.Content) != "certificate" || len(got.SentWith) != 0 {
			t.Fatalf("stored %+v", got)
		}
	})
	t.Run("a fileUrl attachment sent with its body grants it", func(t *testing.T) {
		f := newStatements(t, StatementConfig{}, nil)
		if _, err := f.post(writer, withAttachment(withID(id1, statement("completed", "a")), usage, "text/plain", part.Hash, "http://example.com/c.txt"), part); err != nil {
			t.Fatal(err)
		}
		if got := f.atts.bodies["t1/"+part.Hash]; len(got.SentWith) != 1 || got.SentWith[0] != id1 {
			t.Fatalf("stored %+v", got)
		}
	})
	t.Run("a fileUrl attachment needs no part", func(t *testing.T) {
		f := newStatements(t, StatementConfig{}, nil)
		if _, err := f.post(writer, withAttachment(statement("completed", "a"), usage, "text/plain", part.Hash, "http://example.com/c.txt")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing part", func(t *testing.T) {
		f := newStatements(t, StatementConfig{}, nil)
		_, err := f.post(writer, withAttachment(statement("completed", "a"), usage, "text/plain", part.Hash, ""))
		e := wantStatus(t, err, 400, "has no fileUrl and no multipart/mixed part")
		if len(e.Fields) != 1 || e.Fields[0].Pointer != "/0/attachments/0/sha2" {
			t.Fatalf("fields %+v", e.Fields)
		}
		if counted(f.count, "rejected") != 1 || len(f.events) != 0 {
			t.Fatalf("rejected %d, events %v", counted(f.count, "rejected"), f.events)
		}
	})
	t.Run("a part no statement declares", func(t *testing.T) {
		f := newStatements(t, StatementConfig{}, nil)
		_, err := f.post(writer, statement("completed", "a"), part)
		wantStatus(t, err, 400, "matches no attachment")
	})
	t.Run("attachment store down", func(t *testing.T) {
		f := newStatements(t, StatementConfig{}, nil)
		f.atts.err = errBroken
		_, err := f.post(writer, withAttachment(statement("completed", "a"), usage, "text/plain", part.Hash, ""), part)
		if !errors.Is(err, errBroken) || len(f.log.batches) != 0 {
			t.Fatalf("got %v, %d published", err, len(f.log.batches))
		}
	})
}

// Void publishes a voiding statement made by the principal's authority,
// under the voiding policy like any other.
func TestVoid(t *testing.T) {
	f := newStatements(t, StatementConfig{VoidingPolicy: auth.VoidByAuthority}, nil)
	if _, err := f.post(principal("bob", auth.ScopeStatementsWrite), withID(id1, statement("completed", "a"))); err != nil {
		t.Fatal(err)
	}
	st := f.log.published()[0]
	f.store.put(store.Statement{Tenant: "t1", ID: st.ID, JSON: st.Statement})

	_, err := f.svc.Void(context.Background(), writer, id1)
	wantStatus(t, err, http.StatusForbidden, "statement 0 voids "+id1)
	console := principal("console", auth.ScopeAll)
	vid, err := f.svc.Void(context.Background(), console, id1)
	if err != nil {
		t.Fatal(err)
	}
	all := f.log.published()
	v := all[len(all)-1]
	var got struct {
		Actor  json.RawMessage
		Verb   struct{ ID string }
		Object struct{ ObjectType, ID string }
	}
	if err := json.Unmarshal(v.Statement, &got); err != nil {
		t.Fatal(err)
	}
	if v.ID != vid || got.Verb.ID != store.VerbVoided || got.Object.ObjectType != "StatementRef" || got.Object.ID != id1 || !strings.Contains(string(got.Actor), `"name":"console"`) {
		t.Fatalf("published %s (id %s), want the console's voiding of %s", v.Statement, v.ID, id1)
	}
	if _, err := f.svc.Void(context.Background(), auth.Principal{Tenant: "t1", Scopes: []string{auth.ScopeAll}}, id1); err == nil {
		t.Fatal("a principal without an authority voided")
	}
}
