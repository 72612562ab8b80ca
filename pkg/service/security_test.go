package service

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// Black-box tests of issue 14's findings, each against a whole LRS.

const (
	lmsA = `{"objectType":"Agent","name":"LMS A","mbox":"mailto:lms-a@acme.test"}`
	lmsM = `{"objectType":"Agent","name":"LMS M","mbox":"mailto:lms-m@acme.test"}`
)

func refStatement(id, target, verb string) string {
	idPart := ""
	if id != "" {
		idPart = `"id":"` + id + `",`
	}
	return `{` + idPart + `"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/` + verb + `"},` +
		`"object":{"objectType":"StatementRef","id":"` + target + `"}}`
}

// Finding 1: statements/read/mine lists only the caller's statements, also
// when another credential's statement refers to one of them, or one of
// theirs refers to a statement the caller sends later.
func TestReadMineThroughStatementRefs(t *testing.T) {
	backends(t, func(t *testing.T, addr string, adm adminClient, _ string) {
		adm.do(http.MethodPost, "/tenants", map[string]string{"id": "acme"}, http.StatusCreated, nil)
		scopes := []string{"statements/write", "statements/read/mine"}
		a, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "A", Scopes: scopes, Authority: json.RawMessage(lmsA)})
		m, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "M", Scopes: scopes, Authority: json.RawMessage(lmsM)})
		m2, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "M2", Scopes: scopes})

		mine := postIDs(t, m, statement("bo", "completed", "c1"))
		postIDs(t, a, refStatement("", mine[0], "commented"))
		const x = "5d1a2b3c-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
		postIDs(t, m2, refStatement("", x, "commented"))
		if r := m.do(http.MethodPut, "/statements?statementId="+x, "application/json", []byte(statement("bo", "attempted", "c2"))); r.status != 204 {
			t.Fatalf("PUT %s: %d %s", x, r.status, r.body)
		}
		mine = append(mine, x)
		if ids := listIDs(t, m, ""); !sameIDs(ids, mine) {
			t.Fatalf("M lists %v, want only its own %v", ids, mine)
		}
	})
}

// securityLRS starts an embedded LRS with an admin API for the tests below.
func securityLRS(t *testing.T, extra ...string) (addr string, adm adminClient) {
	addr, _ = startLRS(t, t.TempDir(), append([]string{"-admin-token", testAdminToken, "-auth-cache-ttl", authTTL.String()}, extra...)...)
	return addr, adminClient{t: t, base: "http://" + addr + "/admin"}
}

// Finding 2: a huge array of tiny values is refused at the statement
// limit, before per-statement state is built for all of it.
func TestHostileBodiesAre413(t *testing.T) {
	addr, _ := securityLRS(t)
	c := newClient(t, addr)
	zeros := func(n int) string { return strings.TrimSuffix(strings.Repeat("0,", n), ",") }
	for name, body := range map[string]string{
		"5M statements":          "[" + zeros(5_000_000-1) + "]",
		"5M values in extension": `{"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"http://v.example/v"},"object":{"id":"http://a.example/a"},"result":{"extensions":{"http://e.example/e":[` + zeros(4_000_000) + `]}}}`,
	} {
		if r := c.post(body); r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: %d %.200s, want 413", name, r.status, r.body)
		}
	}
}

// Finding 4: a `more` cursor the LRS did not sign is a 400, whatever it holds.
func TestForgedCursorIs400(t *testing.T) {
	addr, _ := securityLRS(t)
	c := newClient(t, addr)
	postIDs(t, c, statementArray(3, "attempted"))
	var page statementList
	c.get("?limit=1").json(t, &page)
	if page.More == "" {
		t.Fatal("no more link")
	}
	if r := c.do(http.MethodGet, strings.TrimPrefix(page.More, "/xapi"), "", nil); r.status != 200 {
		t.Fatalf("the LRS's own more link: %d %s", r.status, r.body)
	}
	// Small enough to pass the 4 KiB request head (a larger head is 431 before any parsing).
	keys := make([]map[string]any, 150)
	for i := range keys {
		keys[i] = map[string]any{"k": fmt.Sprint("v:", i)}
	}
	raw, _ := json.Marshal(map[string]any{"t": "default", "l": 1, "k": keys, "p": map[string]any{"s": 1, "i": "x"}})
	for _, more := range []string{base64.RawURLEncoding.EncodeToString(raw), "x.y", strings.Repeat("A", 3000)} {
		if r := c.get("?more=" + url.QueryEscape(more)); r.status != 400 {
			t.Fatalf("forged cursor (%d bytes): %d %.200s, want 400", len(more), r.status, r.body)
		}
	}
}

// rawRequests writes reqs on one keep-alive connection and returns the
// responses.
func rawRequests(t *testing.T, addr string, reqs ...string) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	var out []*http.Response
	for _, r := range reqs {
		if _, err := io.WriteString(conn, r); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read response to %q: %v", r, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out
}

// Finding 5: requests on one keep-alive connection cannot corrupt the
// metrics registry (the method label once pointed into a reused buffer).
// Finding 10: a malformed request's 400 does not echo the request head.
func TestMetricsAndErrorsResistHostileRequests(t *testing.T) {
	addr, _ := securityLRS(t)
	host := "Host: " + addr + "\r\n"
	rawRequests(t, addr,
		"PUT /xapi/statements HTTP/1.1\r\n"+host+"Content-Length: 0\r\n\r\n",
		"GET /xapi/about HTTP/1.1\r\n"+host+"\r\n",
		"DELETE /xapi/activities/state HTTP/1.1\r\n"+host+"\r\n",
		"GET /xapi/about HTTP/1.1\r\n"+host+"\r\n")
	for range 2 {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(b), `method="GETT"`) {
			t.Fatalf("/metrics after keep-alive requests: %d %.300s", resp.StatusCode, b)
		}
	}
	const secret = "Basic c2VjcmV0LWtleTpzZWNyZXQtdmFsdWU="
	resp := rawRequests(t, addr, "POST /xapi/statements HTTP/1.1\r\n"+host+"Authorization: "+secret+"\r\nCookie: session=s3cr3t\r\nContent-Length: -1\r\n\r\n")[0]
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || strings.Contains(string(b), "c2VjcmV0") || strings.Contains(string(b), "s3cr3t") {
		t.Fatalf("malformed request: %d %s: want a 400 that does not quote the request", resp.StatusCode, b)
	}
}

// Finding 7: under the default voiding policy a credential voids only the
// statements of its own authority; a credential with scope all any of its
// tenant's.
func TestVoidingPolicy(t *testing.T) {
	addr, adm := securityLRS(t)
	adm.do(http.MethodPost, "/tenants", map[string]string{"id": "acme"}, http.StatusCreated, nil)
	a, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "A", Scopes: []string{"statements/write", "statements/read"}})
	b, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "B", Scopes: []string{"statements/write"}})
	op, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "operator", Scopes: []string{"all"}})
	ids := postIDs(t, a, statementArray(2, "attempted"))
	listIDs(t, a, "") // the store has applied them
	if r := b.post(refStatement("", ids[0], "voided")); r.status != http.StatusForbidden {
		t.Fatalf("B voids A's statement: %d %s, want 403", r.status, r.body)
	}
	postIDs(t, a, refStatement("", ids[0], "voided"))
	postIDs(t, op, refStatement("", ids[1], "voided"))
	if got := listIDs(t, a, ""); len(got) != 2 || slicesHave(got, ids[0]) || slicesHave(got, ids[1]) {
		t.Fatalf("after voiding by A and by the operator A lists %v: want only the two voiding statements", got)
	}

	// A tenant whose policy is "tenant" lets any of its writers void; the
	// deployment's policy still holds in the others.
	adm.do(http.MethodPost, "/tenants", map[string]string{"id": "open", "voidingPolicy": "tenant"}, http.StatusCreated, nil)
	oa, _ := adm.credential(addr, admin.NewCredential{Tenant: "open", Label: "A", Scopes: []string{"statements/write", "statements/read"}})
	ob, _ := adm.credential(addr, admin.NewCredential{Tenant: "open", Label: "B", Scopes: []string{"statements/write"}})
	open := postIDs(t, oa, statementArray(2, "attempted"))
	listIDs(t, oa, "")
	postIDs(t, ob, refStatement("", open[0], "voided"))
	more := postIDs(t, a, statementArray(1, "attempted"))
	listIDs(t, a, "")
	if r := b.post(refStatement("", more[0], "voided")); r.status != http.StatusForbidden {
		t.Fatalf("in acme, B voids A's statement after another tenant opened its policy: %d %s, want 403", r.status, r.body)
	}
	// Closing it again applies from the next request.
	adm.do(http.MethodPatch, "/tenants/open", map[string]string{"voidingPolicy": "authority"}, http.StatusOK, nil)
	if r := ob.post(refStatement("", open[1], "voided")); r.status != http.StatusForbidden {
		t.Fatalf("B voids A's statement after the tenant's policy became authority: %d %s, want 403", r.status, r.body)
	}
	if got := listIDs(t, oa, ""); len(got) != 2 || slicesHave(got, open[0]) || !slicesHave(got, open[1]) {
		t.Fatalf("in tenant open A lists %v: want its second statement and B's voiding statement", got)
	}
}

func slicesHave(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// Finding 8: the alternate syntax from a browser takes its credentials from
// the form only (a browser adds remembered Basic credentials to a
// cross-site form POST), and responses are never MIME-sniffed.
func TestAlternateSyntaxCSRFAndNosniff(t *testing.T) {
	addr, _ := securityLRS(t)
	c := newClient(t, addr)
	form := url.Values{"content": {statement("ana", "completed", "csrf")}, "X-Experience-API-Version": {"1.0.3"}}
	for _, hdr := range [][]string{{"Origin", "https://evil.example.com"}, {"Sec-Fetch-Site", "cross-site"}} {
		if r := c.do(http.MethodPost, "/statements?method=POST", "application/x-www-form-urlencoded", []byte(form.Encode()), hdr...); r.status != http.StatusUnauthorized {
			t.Fatalf("alternate syntax from a browser (%s) with the credentials only in the Authorization header: %d %s, want 401", hdr[0], r.status, r.body)
		}
	}
	// A client that is not a browser may use the header (xAPI 1.0.3, and the ADL suite, do).
	if r := c.do(http.MethodPost, "/statements?method=POST", "application/x-www-form-urlencoded", []byte(form.Encode())); r.status != http.StatusOK {
		t.Fatalf("alternate syntax from a non-browser client with an Authorization header: %d %s, want 200", r.status, r.body)
	}
	state := "/activities/state?" + url.Values{"activityId": {"http://example.com/a"}, "agent": {`{"mbox":"mailto:ana@example.com"}`}, "stateId": {"page"}}.Encode()
	if r := c.do(http.MethodPut, state, "text/html", []byte("<script>alert(1)</script>")); r.status != 204 {
		t.Fatalf("PUT html state: %d %s", r.status, r.body)
	}
	r := c.do(http.MethodGet, state, "", nil)
	if r.status != 200 || r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("GET html state: %d %v: want nosniff and a sandbox CSP", r.status, r.header)
	}
}

// Finding 11: knowing an attachment's SHA-256 does not give its content: a
// statement that names the hash with a fileUrl and no part gets no body back.
func TestAttachmentCannotBeProbedByHash(t *testing.T) {
	addr, adm := securityLRS(t)
	adm.do(http.MethodPost, "/tenants", map[string]string{"id": "acme"}, http.StatusCreated, nil)
	owner, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "owner", Scopes: []string{"statements/write"}})
	prober, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "prober", Scopes: []string{"statements/write", "statements/read/mine"}})
	content := []byte("the confidential transcript")
	h := sha(content)
	att := func(extra string) string {
		return `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/a"},
		"attachments":[{"usageType":"http://example.com/transcript","display":{"en-US":"t"},"contentType":"text/plain","length":27,` + extra + `"sha2":"` + h + `"}]}`
	}
	body, ct := multipartBody(t, att(""), map[string][]byte{h: content}, "text/plain")
	if r := owner.do(http.MethodPost, "/statements", ct, body); r.status != 200 {
		t.Fatalf("owner's multipart POST: %d %s", r.status, r.body)
	}
	ids := postIDs(t, prober, att(`"fileUrl":"http://example.com/x",`))
	r := prober.get("?statementId=" + ids[0] + "&attachments=true")
	if r.status != 200 || bytes.Contains(r.body, content) {
		t.Fatalf("prober reads its fileUrl statement with attachments: %d, body holds the owner's content: %v", r.status, bytes.Contains(r.body, content))
	}
	// A statement that names a fileUrl and still sends the body (the ADL
	// suite does) proved it holds the content: it gets the body back.
	mine := []byte("the prober's own notes, sent along")
	hm := sha(mine)
	own := strings.Replace(strings.Replace(att(`"fileUrl":"http://example.com/y",`), h, hm, 1), `"length":27`, fmt.Sprintf(`"length":%d`, len(mine)), 1)
	body, ct = multipartBody(t, own, map[string][]byte{hm: mine}, "text/plain")
	r = prober.do(http.MethodPost, "/statements", ct, body)
	var sent []string
	if r.status != 200 || json.Unmarshal(r.body, &sent) != nil || len(sent) != 1 {
		t.Fatalf("multipart POST of a fileUrl attachment with its part: %d %s", r.status, r.body)
	}
	if r := prober.get("?statementId=" + sent[0] + "&attachments=true"); r.status != 200 || !bytes.Contains(r.body, mine) {
		t.Fatalf("a statement that sent its fileUrl attachment's body gets it back: %d, holds it: %v", r.status, bytes.Contains(r.body, mine))
	}
}

// Finding 12: CORS for the configured origins on the xAPI only (413
// included), metrics and admin on their own listener, the SQLite file 0600.
func TestCORSOpsListenerAndFileModes(t *testing.T) {
	dir := t.TempDir()
	ops := testenv.FreeAddr(t)
	addr, _ := startLRS(t, dir, "-admin-token", testAdminToken, "-cors-origins", "https://lms.example.com", "-ops-addr", ops, "-max-body-bytes", "4096")
	get := func(url, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get("http://"+addr+"/xapi/about", "https://lms.example.com"); r.Header.Get("Access-Control-Allow-Origin") != "https://lms.example.com" {
		t.Fatalf("allowed origin: %v", r.Header)
	}
	if r := get("http://"+addr+"/xapi/about", "https://evil.example.com"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin allowed: %v", r.Header)
	}
	if r := get("http://"+addr+"/metrics", "https://lms.example.com"); r.StatusCode != 404 {
		t.Fatalf("/metrics on the xAPI listener: %d, want 404", r.StatusCode)
	}
	if r := get("http://"+ops+"/metrics", "https://lms.example.com"); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("/metrics on the ops listener: %d %v", r.StatusCode, r.Header)
	}
	if r := get("http://"+ops+"/admin/tenants", ""); r.StatusCode != 401 {
		t.Fatalf("admin API on the ops listener without a token: %d, want 401", r.StatusCode)
	}
	c := newClient(t, addr)
	r := c.do(http.MethodPost, "/statements", "application/json", bytes.Repeat([]byte(" "), 8192), "Origin", "https://lms.example.com")
	if r.status != 413 || r.header.Get("Access-Control-Allow-Origin") != "https://lms.example.com" {
		t.Fatalf("413: %d %v: want the CORS headers", r.status, r.header)
	}
	fi, err := os.Stat(filepath.Join(dir, "lrs.db"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("SQLite file: %v %v, want mode 0600", fi.Mode(), err)
	}
}
