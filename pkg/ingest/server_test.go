package ingest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/conflict"
	"github.com/streamlrs/streamlrs/pkg/observability"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// The HTTP translation of the xAPI services (pkg/xapiservice decides the
// rules and has their tests): statuses, headers and error bodies, with
// in-memory parts behind the server.

const testID = "0d9f5a4e-6b1c-4a2d-8e3f-7a6b5c4d3e2f"

type fakeAuth map[string]auth.Principal

func (a fakeAuth) Authenticate(_ context.Context, key, secret string) (auth.Principal, error) {
	switch key {
	case "throttled":
		return auth.Principal{}, &auth.ThrottledError{Key: key, RetryAfter: 3 * time.Second}
	case "limited":
		return auth.Principal{Key: key, RateLimit: 7}, &auth.RateLimitedError{Key: key, RetryAfter: 2 * time.Second}
	case "down":
		return auth.Principal{}, auth.ErrUnavailable
	}
	p, ok := a[key]
	if !ok || secret != "secret" {
		return auth.Principal{}, auth.ErrUnauthorized
	}
	return p, nil
}

// fakeParts is the publisher, conflict checker, statement, attachment and
// document store at once: what is published is readable at once.
type fakeParts struct {
	mu         sync.Mutex
	publishErr error
	storeErr   error
	stmts      map[string]store.Statement
	atts       map[string]store.Attachment
	docs       map[store.DocumentKey]store.Document
}

func (f *fakeParts) Publish(_ context.Context, b stream.Batch) (int32, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.publishErr != nil {
		return 0, 0, f.publishErr
	}
	for _, st := range b.Statements {
		f.stmts[st.ID] = store.Statement{Tenant: b.Tenant, ID: st.ID, Stored: st.Stored, JSON: st.Statement}
	}
	return 0, 1, nil
}

func (f *fakeParts) Check(_ context.Context, _ string, stmts []conflict.Statement) (*conflict.Decision, error) {
	d := &conflict.Decision{New: make([]bool, len(stmts))}
	for i := range d.New {
		d.New[i] = true
	}
	return d, nil
}

func (f *fakeParts) GetStatement(_ context.Context, _, id string, voided bool) (store.Statement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.storeErr != nil {
		return store.Statement{}, f.storeErr
	}
	st, ok := f.stmts[id]
	if !ok || voided {
		return store.Statement{}, store.ErrNotFound
	}
	return st, nil
}

func (f *fakeParts) QueryStatements(context.Context, store.Query) (store.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.storeErr != nil {
		return store.Page{}, f.storeErr
	}
	var p store.Page
	for _, st := range f.stmts {
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

func (f *fakeParts) GetTenant(context.Context, string) (store.Tenant, error) {
	return store.Tenant{}, store.ErrNotFound
}

func (f *fakeParts) PutAttachments(_ context.Context, _ string, atts []store.Attachment) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range atts {
		f.atts[a.SHA2] = a
	}
	return nil
}

func (f *fakeParts) GetAttachments(_ context.Context, _ string, sha2s []string) ([]store.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Attachment
	for _, h := range sha2s {
		if a, ok := f.atts[h]; ok {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeParts) Granted(context.Context, string, []store.AttachmentGrant) (map[store.AttachmentGrant]bool, error) {
	return nil, nil
}

func (f *fakeParts) GetDocument(_ context.Context, k store.DocumentKey) (store.Document, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.docs[k]
	if !ok {
		return store.Document{}, store.ErrNotFound
	}
	return d, nil
}

func (f *fakeParts) ListDocumentIDs(context.Context, store.DocumentScope, time.Time) ([]string, error) {
	return []string{}, nil
}

func (f *fakeParts) UpdateDocument(_ context.Context, k store.DocumentKey, fn store.DocumentUpdate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cur *store.Document
	if d, ok := f.docs[k]; ok {
		cur = &d
	}
	next, err := fn(cur)
	if err != nil || next == nil {
		delete(f.docs, k)
		return err
	}
	sum := sha1.Sum(next.Content)
	next.ETag, next.Updated = hex.EncodeToString(sum[:]), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.docs[k] = *next
	return nil
}

func (f *fakeParts) DeleteDocuments(context.Context, store.DocumentScope) (int, error) { return 0, nil }

func (f *fakeParts) GetActivity(context.Context, string, string) (store.Activity, error) {
	return store.Activity{}, store.ErrNotFound
}

type noOffsets struct{}

func (noOffsets) Get(context.Context) (map[int32]int64, time.Time, error) {
	return map[int32]int64{}, time.Now(), nil
}

type testServer struct {
	*Server
	parts *fakeParts
}

func newTestServer(t testing.TB) testServer {
	t.Helper()
	parts := &fakeParts{stmts: map[string]store.Statement{}, atts: map[string]store.Attachment{}, docs: map[store.DocumentKey]store.Document{}}
	wm, err := NewWatermark(noOffsets{}, func(context.Context) (map[int32]int64, error) { return map[int32]int64{}, nil }, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	authority := []byte(`{"objectType":"Agent","account":{"homePage":"https://lrs.example.com","name":"ana"}}`)
	s, err := New(Config{Prefix: "/xapi", BodyLimit: 1 << 20, MaxBatchStatements: 10, PublishTimeout: time.Second,
		DefaultVersion: xapi.V2_0_0, CORSOrigins: "*", VoidingPolicy: auth.VoidByAuthority},
		Deps{Auth: fakeAuth{
			"ana":    {Tenant: "t1", Key: "ana", Scopes: []string{auth.ScopeAll}, Authority: authority},
			"reader": {Tenant: "t1", Key: "reader", Scopes: []string{auth.ScopeStatementsRead}, Authority: authority},
		}, Publisher: parts, Store: parts, Attachments: parts, Conflicts: parts, Watermark: wm,
			Health: observability.NewHealth(), Registry: observability.NewRegistry(), Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	return testServer{s, parts}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as key ("" for none) with xAPI 2.0.0 unless the
// headers say otherwise (pairs of name, value).
func (s testServer) do(t testing.TB, key, method, target, contentType string, body []byte, headers ...string) response {
	t.Helper()
	// The origin form with a Host header: fasthttp 1.79 refuses a request
	// whose Host is only in an absolute URI.
	req := httptest.NewRequest(method, "/xapi"+target, bytes.NewReader(body))
	req.Host = "lrs.test"
	req.Header.Set("X-Experience-API-Version", "2.0.0")
	if key != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(key+":secret")))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

// xapiError reads an xAPI error body, and checks it names the request.
func (r response) xapiError(t *testing.T) (status int, message string) {
	t.Helper()
	var e struct {
		Error struct {
			Status    int    `json:"status"`
			Message   string `json:"message"`
			RequestID string `json:"requestId"`
			Fields    []struct {
				Pointer string `json:"pointer"`
			} `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.RequestID != r.header.Get("X-Request-ID") || e.Error.Status != r.status {
		t.Fatalf("error body %s (%v), request id %q", r.body, err, r.header.Get("X-Request-ID"))
	}
	return e.Error.Status, e.Error.Message
}

const testStatement = `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/a"}}`

func TestStatementsOverHTTP(t *testing.T) {
	s := newTestServer(t)
	r := s.do(t, "ana", "POST", "/statements", "application/json", []byte(testStatement))
	var ids []string
	if r.status != 200 || json.Unmarshal(r.body, &ids) != nil || len(ids) != 1 || r.header.Get("X-Experience-API-Version") != "2.0.0" {
		t.Fatalf("POST: %d %s %v", r.status, r.body, r.header)
	}
	if r := s.do(t, "ana", "PUT", "/statements?statementId="+testID, "application/json", []byte(testStatement)); r.status != 204 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	r = s.do(t, "ana", "GET", "/statements?statementId="+testID, "", nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(testID)) || r.header.Get("Last-Modified") == "" ||
		r.header.Get("X-Experience-API-Consistent-Through") == "" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %s %v", r.status, r.body, r.header)
	}
	r = s.do(t, "ana", "GET", "/statements", "", nil)
	if r.status != 200 || !bytes.HasPrefix(r.body, []byte(`{"statements":[`)) {
		t.Fatalf("GET list: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		key, method, target, contentType, body string
		status                                 int
		message                                string
	}{
		{"ana", "PUT", "/statements", "application/json", testStatement, 400, "needs the statementId parameter"},
		{"ana", "PUT", "/statements?statementId=" + testID + "&x=1", "application/json", testStatement, 400, "x cannot be used here"},
		{"ana", "POST", "/statements", "text/plain", testStatement, 400, "Content-Type"},
		{"ana", "POST", "/statements", "application/json", `{"actor":{}}`, 400, ""},
		{"reader", "POST", "/statements", "text/plain", testStatement, 403, "lacks scope statements/write"},
		{"reader", "PUT", "/statements", "application/json", testStatement, 403, "lacks scope statements/write"},
		{"ana", "GET", "/statements?statementId=" + strings.Replace(testID, "0", "1", 1), "", "", 404, "no statement"},
		{"ana", "GET", "/statements?bogus=1", "", "", 400, "unknown parameter(s) bogus"},
		{"ana", "GET", "/nothing", "", "", 404, "no xAPI resource at /xapi/nothing"},
	} {
		r := s.do(t, tc.key, tc.method, tc.target, tc.contentType, []byte(tc.body))
		if status, msg := r.xapiError(t); status != tc.status || !strings.Contains(msg, tc.message) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.target, status, msg, tc.status, tc.message)
		}
		if tc.method == "GET" && strings.HasPrefix(tc.target, "/statements") && r.header.Get("X-Experience-API-Consistent-Through") == "" {
			t.Errorf("GET %s: no Consistent-Through on an error", tc.target)
		}
	}
	// A validation error names the offending fields.
	r = s.do(t, "ana", "POST", "/statements", "application/json", []byte(`{"actor":{"mbox":"ana"},"verb":{"id":"http://x.example.com/v"},"object":{"id":"http://x.example.com/a"}}`))
	if r.status != 400 || !bytes.Contains(r.body, []byte(`"pointer":"/actor/mbox"`)) {
		t.Fatalf("validation error: %d %s", r.status, r.body)
	}
}

func TestStatementWithAttachmentsOverHTTP(t *testing.T) {
	s := newTestServer(t)
	cert := []byte("certificate")
	sum := sha256.Sum256(cert)
	h := hex.EncodeToString(sum[:])
	stmt := `{"id":"` + testID + `",` + testStatement[1:len(testStatement)-1] + `,"attachments":[{"usageType":"http://example.com/c","display":{"en-US":"c"},"contentType":"text/plain","length":11,"sha2":"` + h + `"}]}`
	body := "--b\r\nContent-Type: application/json\r\n\r\n" + stmt + "\r\n--b\r\nContent-Type: text/plain\r\nX-Experience-API-Hash: " + h + "\r\n\r\ncertificate\r\n--b--\r\n"
	if r := s.do(t, "ana", "POST", "/statements", "multipart/mixed; boundary=b", []byte(body)); r.status != 200 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	r := s.do(t, "ana", "GET", "/statements?statementId="+testID+"&attachments=true", "", nil)
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if r.status != 200 || err != nil || mt != "multipart/mixed" {
		t.Fatalf("GET: %d %v %s", r.status, r.header, r.body)
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Type")+" "+p.Header.Get("X-Experience-API-Hash")+" "+string(b[:min(len(b), 11)]))
	}
	if len(parts) != 2 || parts[1] != "text/plain "+h+" certificate" || !strings.HasPrefix(parts[0], "application/json  {") {
		t.Fatalf("parts %q", parts)
	}
}

func TestErrorTranslation(t *testing.T) {
	s := newTestServer(t)
	for _, tc := range []struct {
		name       string
		key        string
		publishErr error
		storeErr   error
		method     string
		status     int
		retryAfter string
		message    string
	}{
		{"no credentials", "", nil, nil, "POST", 401, "", "missing or malformed HTTP Basic credentials"},
		{"wrong secret", "nobody", nil, nil, "POST", 401, "", "unknown key or wrong secret"},
		{"throttled", "throttled", nil, nil, "POST", 429, "3", "too many wrong secrets"},
		{"rate limited", "limited", nil, nil, "POST", 429, "2", "over its limit of 7 requests per second"},
		{"credentials unavailable", "down", nil, nil, "POST", 503, "5", "credentials cannot be checked now"},
		{"broker down", "ana", errors.New("no broker"), nil, "POST", 503, "5", "the statement stream is unavailable"},
		{"store unavailable", "ana", nil, &net.OpError{Op: "dial", Err: errors.New("refused")}, "GET", 503, "5", "the statement store does not answer now"},
		{"store failing", "ana", nil, errors.New("disk on fire"), "GET", 500, "", "internal error; see the server log for request"},
	} {
		s.parts.publishErr, s.parts.storeErr = tc.publishErr, tc.storeErr
		r := s.do(t, tc.key, tc.method, "/statements", "application/json", []byte(testStatement))
		status, msg := r.xapiError(t)
		if status != tc.status || r.header.Get("Retry-After") != tc.retryAfter || !strings.Contains(msg, tc.message) || strings.Contains(msg, "disk on fire") {
			t.Errorf("%s: %d %q Retry-After %q, want %d %q %q", tc.name, status, msg, r.header.Get("Retry-After"), tc.status, tc.message, tc.retryAfter)
		}
		if (status == 401) != (r.header.Get("WWW-Authenticate") != "") {
			t.Errorf("%s: WWW-Authenticate %q", tc.name, r.header.Get("WWW-Authenticate"))
		}
	}
	r := s.do(t, "ana", "POST", "/statements", "application/json", []byte(testStatement), "X-Experience-API-Version", "0.9")
	if status, msg := r.xapiError(t); status != 400 || !strings.Contains(msg, "X-Experience-API-Version header") || r.header.Get("X-Experience-API-Version") != "2.0.0" {
		t.Fatalf("bad version: %d %q %v", status, msg, r.header)
	}
}

func TestDocumentsOverHTTP(t *testing.T) {
	s := newTestServer(t)
	const state = "/activities/state?activityId=http%3A%2F%2Fexample.com%2Fa&agent=%7B%22mbox%22%3A%22mailto%3Aana%40example.com%22%7D&stateId=s"
	r := s.do(t, "ana", "PUT", state, "application/json", []byte(`{"a":1}`))
	etag := r.header.Get("ETag")
	if r.status != 204 || len(etag) != 42 {
		t.Fatalf("PUT: %d %s ETag %q", r.status, r.body, etag)
	}
	r = s.do(t, "ana", "GET", state, "", nil)
	if r.status != 200 || string(r.body) != `{"a":1}` || r.header.Get("ETag") != etag || r.header.Get("Content-Type") != "application/json" ||
		r.header.Get("Last-Modified") != "Fri, 02 Jan 2026 03:04:05 GMT" {
		t.Fatalf("GET: %d %s %v", r.status, r.body, r.header)
	}
	if r := s.do(t, "ana", "POST", state, "application/json", []byte(`{"b":2}`), "If-Match", etag); r.status != 204 || r.header.Get("ETag") == etag {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	r = s.do(t, "ana", "PUT", state, "application/json", []byte(`{}`), "If-Match", etag)
	if status, msg := r.xapiError(t); status != 412 || !strings.Contains(msg, "If-Match") {
		t.Fatalf("stale If-Match: %d %q", status, msg)
	}
	if r := s.do(t, "ana", "HEAD", state+"x", "", nil); r.status != 404 || len(r.body) != 0 {
		t.Fatalf("HEAD of no document: %d %q", r.status, r.body)
	}
	if r := s.do(t, "ana", "DELETE", state, "", nil); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if r := s.do(t, "ana", "GET", strings.Replace(state, "&stateId=s", "", 1), "", nil); r.status != 200 || string(r.body) != "[]" {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	r = s.do(t, "ana", "GET", "/activities?activityId=http%3A%2F%2Fexample.com%2Fa", "", nil)
	if r.status != 200 || string(r.body) != `{"objectType":"Activity","id":"http://example.com/a"}` {
		t.Fatalf("activities: %d %s", r.status, r.body)
	}
	r = s.do(t, "ana", "GET", "/agents?agent=%7B%22mbox%22%3A%22mailto%3Aana%40example.com%22%7D", "", nil)
	if r.status != 200 || string(r.body) != `{"objectType":"Person","mbox":["mailto:ana@example.com"]}` {
		t.Fatalf("agents: %d %s", r.status, r.body)
	}
	r = s.do(t, "ana", "GET", "/agents", "", nil)
	if status, msg := r.xapiError(t); status != 400 || !strings.Contains(msg, "the agent parameter is required") {
		t.Fatalf("agents without agent: %d %q", status, msg)
	}
	r = s.do(t, "ana", "GET", "/activities", "", nil)
	if status, _ := r.xapiError(t); status != 400 {
		t.Fatalf("activities without activityId: %d", status)
	}
}
