package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

const testAdminToken = "test-admin-token-0123456789"

// backends runs fn against the LRS in each topology (see eachTopology),
// started with the admin API and a short auth cache ttl.
func backends(t *testing.T, fn func(t *testing.T, addr string, adm adminClient, dsn string)) {
	eachTopology(t, func(t *testing.T, addr, dsn string) {
		fn(t, addr, adminClient{t: t, base: "http://" + addr + "/admin"}, dsn)
	}, "-admin-token", testAdminToken, "-auth-cache-ttl", authTTL.String())
}

// authTTL is the auth cache ttl of these tests' LRS: how long a credential
// change may take to apply.
const authTTL = 300 * time.Millisecond

// adminClient speaks to the admin API of one LRS.
type adminClient struct {
	t    *testing.T
	base string
}

func (a adminClient) do(method, path string, body any, want int, out any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// credential creates a credential through the admin API and returns a
// client that uses it.
func (a adminClient) credential(addr string, n admin.NewCredential) (*client, admin.Credential) {
	a.t.Helper()
	var c admin.Credential
	a.do(http.MethodPost, "/credentials", n, http.StatusCreated, &c)
	cl := newClient(a.t, addr)
	cl.key, cl.secret = c.Key, c.Secret
	return cl, c
}

type statementList struct {
	Statements []map[string]any `json:"statements"`
	More       string           `json:"more"`
}

func postIDs(t *testing.T, c *client, body string) []string {
	t.Helper()
	r := c.post(body)
	if r.status != http.StatusOK {
		t.Fatalf("POST as %s: %d %s", c.key, r.status, r.body)
	}
	var ids []string
	r.json(t, &ids)
	return ids
}

// postAttached posts withAttachment(content) with content as its part
// (multipart/mixed) and returns the statement's id.
func postAttached(t *testing.T, c *client, content []byte) []string {
	t.Helper()
	body, ct := attachmentRequest(withAttachment(content), content)
	r := c.do(http.MethodPost, "/statements", ct, body)
	if r.status != http.StatusOK {
		t.Fatalf("POST with an attachment as %s: %d %s", c.key, r.status, r.body)
	}
	var ids []string
	r.json(t, &ids)
	return ids
}

func listIDs(t *testing.T, c *client, query string) []string {
	t.Helper()
	r := c.get(query)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s as %s: %d %s", query, c.key, r.status, r.body)
	}
	var l statementList
	r.json(t, &l)
	out := []string{}
	for _, s := range l.Statements {
		out = append(out, s["id"].(string))
	}
	return out
}

func attachmentRequest(stmt string, content []byte) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	pw, _ := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	pw.Write([]byte(stmt))
	sum := sha256.Sum256(content)
	pw, _ = w.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain"}, "Content-Transfer-Encoding": {"binary"},
		"X-Experience-API-Hash": {hex.EncodeToString(sum[:])}})
	pw.Write(content)
	w.Close()
	return buf.Bytes(), "multipart/mixed; boundary=" + w.Boundary()
}

func withAttachment(content []byte) string {
	sum := sha256.Sum256(content)
	return `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/certified"},` +
		`"attachments":[{"usageType":"http://example.com/certificate","display":{"en-US":"cert"},"contentType":"text/plain","length":` +
		strconv.Itoa(len(content)) + `,"sha2":"` + hex.EncodeToString(sum[:]) + `"}]}`
}

// TestTenantIsolation tries every statement operation of one tenant's
// credential on another tenant's data and finds nothing of it. (Document
// resources are covered once their API lands.)
func TestTenantIsolation(t *testing.T) {
	backends(t, func(t *testing.T, addr string, adm adminClient, _ string) {
		for _, id := range []string{"acme", "beta"} {
			adm.do(http.MethodPost, "/tenants", map[string]string{"id": id}, http.StatusCreated, nil)
		}
		acme, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "Acme LMS", Scopes: []string{"all"}})
		beta, _ := adm.credential(addr, admin.NewCredential{Tenant: "beta", Label: "Beta LMS", Scopes: []string{"all"}})

		// Write: the same statement id in both tenants is two statements.
		const shared = "3e0f1a7c-2b4d-4e6f-8a9b-0c1d2e3f4a5b"
		if r := acme.do("PUT", "/statements?statementId="+shared, "application/json", []byte(withID(shared, statement("ana", "completed", "course-1")))); r.status != 204 {
			t.Fatalf("acme PUT: %d %s", r.status, r.body)
		}
		if r := beta.do("PUT", "/statements?statementId="+shared, "application/json", []byte(withID(shared, statement("ana", "failed", "course-1")))); r.status != 204 {
			t.Fatalf("beta PUT of the id acme used, other content: %d %s (a 409 would leak acme's statement)", r.status, r.body)
		}
		acmeOnly := postIDs(t, acme, statement("ana", "passed", "course-2"))[0]
		content := []byte("acme certificate")
		attIDs := postAttached(t, acme, content)

		// Read by id: each tenant sees its own statement under the shared
		// id, and nothing under acme's other ids.
		var got map[string]any
		acme.get("?statementId="+shared).json(t, &got)
		if !strings.Contains(fmt.Sprint(got["verb"]), "completed") {
			t.Fatalf("acme reads %v under the shared id", got["verb"])
		}
		beta.get("?statementId="+shared).json(t, &got)
		if !strings.Contains(fmt.Sprint(got["verb"]), "failed") {
			t.Fatalf("beta reads %v under the shared id", got["verb"])
		}
		for _, q := range []string{"?statementId=" + acmeOnly, "?statementId=" + attIDs[0] + "&attachments=true", "?voidedStatementId=" + acmeOnly} {
			if r := beta.get(q); r.status != http.StatusNotFound {
				t.Fatalf("beta GET %s: %d %s, want 404", q, r.status, r.body)
			}
		}

		// Attachments: beta cannot borrow acme's stored body by its hash.
		if r := beta.post(withAttachment(content)); r.status != http.StatusBadRequest {
			t.Fatalf("beta statement naming acme's attachment hash without the part: %d %s, want 400", r.status, r.body)
		}

		// Void: beta's voiding statement for acme's id voids nothing of acme's.
		voiding := `{"actor":{"mbox":"mailto:admin@beta.test"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"` + acmeOnly + `"}}`
		postIDs(t, beta, voiding)
		if r := acme.get("?statementId=" + acmeOnly); r.status != http.StatusOK {
			t.Fatalf("acme's statement after beta voided its id: %d", r.status)
		}
		if r := acme.get("?voidedStatementId=" + acmeOnly); r.status != http.StatusNotFound {
			t.Fatalf("acme's statement shows as voided: %d", r.status)
		}

		// Listings and every filter stay in the tenant.
		if ids := listIDs(t, beta, ""); len(ids) != 2 {
			t.Fatalf("beta lists %v, want its PUT and its voiding statement", ids)
		}
		for _, q := range []string{
			"?verb=" + url.QueryEscape("http://adlnet.gov/expapi/verbs/passed"),
			"?activity=" + url.QueryEscape("http://example.com/activities/course-2"),
			"?agent=" + url.QueryEscape(`{"mbox":"mailto:ana@example.com"}`) + "&verb=" + url.QueryEscape("http://adlnet.gov/expapi/verbs/completed"),
		} {
			if ids := listIDs(t, beta, q); len(ids) != 0 {
				t.Fatalf("beta GET %s = %v, want nothing", q, ids)
			}
			if ids := listIDs(t, acme, q); len(ids) == 0 {
				t.Fatalf("acme GET %s found nothing: the filter itself is wrong", q)
			}
		}
		// A page cursor of acme's is no use to beta.
		var page statementList
		acme.get("?limit=1").json(t, &page)
		if page.More == "" {
			t.Fatal("acme's first page of one has no more link")
		}
		if r := beta.do("GET", strings.TrimPrefix(page.More, "/xapi"), "", nil); r.status != http.StatusBadRequest {
			t.Fatalf("beta following acme's more link: %d %s, want 400", r.status, r.body)
		}

		// About is the same for everyone and carries no tenant data.
		ra, rb := acme.do("GET", "/about", "", nil), beta.do("GET", "/about", "", nil)
		if ra.status != 200 || !bytes.Equal(ra.body, rb.body) || bytes.Contains(ra.body, []byte("acme")) {
			t.Fatalf("about: %d %s / %s", ra.status, ra.body, rb.body)
		}
	})
}

// TestScopesAndAuthority: each scope allows what it names and nothing else
// (403), bad credentials get 401 with WWW-Authenticate, and the credential's
// authority replaces a statement's own.
func TestScopesAndAuthority(t *testing.T) {
	backends(t, func(t *testing.T, addr string, adm adminClient, _ string) {
		adm.do(http.MethodPost, "/tenants", map[string]string{"id": "acme"}, http.StatusCreated, nil)
		cred := func(label string, authority string, scopes ...string) *client {
			cl, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: label, Scopes: scopes, Authority: json.RawMessage(authority)})
			return cl
		}
		writer := cred("writer", "", "statements/write")
		reader := cred("reader", "", "statements/read")
		allRead := cred("all-read", "", "all/read")
		state := cred("state", "", "state")
		mineA := cred("LMS A", `{"objectType":"Agent","name":"LMS A","mbox":"mailto:lms-a@acme.test"}`, "statements/write", "statements/read/mine")
		mineB := cred("LMS B", "", "statements/write", "statements/read/mine")

		stmt := statement("ana", "completed", "course-1")
		tests := []struct {
			name   string
			c      *client
			method string
			status int
		}{
			{"write-only posts", writer, "POST", 200},
			{"write-only cannot read", writer, "GET", 403},
			{"read-only reads", reader, "GET", 200},
			{"read-only cannot post", reader, "POST", 403},
			{"read-only cannot put", reader, "PUT", 403},
			{"all/read reads", allRead, "GET", 200},
			{"all/read cannot post", allRead, "POST", 403},
			{"state cannot read statements", state, "GET", 403},
			{"state cannot post statements", state, "POST", 403},
			{"read/mine reads", mineA, "GET", 200},
		}
		for _, tt := range tests {
			var r response
			switch tt.method {
			case "POST":
				r = tt.c.post(stmt)
			case "PUT":
				r = tt.c.do("PUT", "/statements?statementId=0f6d1c1e-3a77-4c0e-9a1e-5b7b3c2d1e0f", "application/json", []byte(stmt))
			default:
				r = tt.c.get("")
			}
			if r.status != tt.status {
				t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.body, tt.status)
			}
			if r.status == 403 && !bytes.Contains(r.body, []byte("scope")) {
				t.Errorf("%s: 403 does not name the scope: %s", tt.name, r.body)
			}
		}
		for _, bad := range []struct{ key, secret string }{{mineA.key, "wrong"}, {"no-such-key", mineA.secret}, {mineA.key, ""}} {
			c := *mineA
			c.t, c.key, c.secret = t, bad.key, bad.secret
			r := c.get("")
			if r.status != 401 || r.header.Get("WWW-Authenticate") != `Basic realm="xAPI"` {
				t.Errorf("key %q secret %q: %d, WWW-Authenticate %q; want 401 asking for Basic", bad.key, bad.secret, r.status, r.header.Get("WWW-Authenticate"))
			}
		}

		// Authority: the credential's replaces whatever the statement says;
		// a malformed one is still rejected.
		forged := `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/activities/course-1"},` +
			`"authority":{"objectType":"Agent","mbox":"mailto:someone-else@example.com"}}`
		aIDs := postIDs(t, mineA, forged)
		aIDs = append(aIDs, postIDs(t, mineA, statementArray(2, "attempted"))...)
		var got map[string]any
		reader.get("?statementId="+aIDs[0]).json(t, &got)
		if a, _ := json.Marshal(got["authority"]); string(a) != `{"mbox":"mailto:lms-a@acme.test","name":"LMS A","objectType":"Agent"}` {
			t.Fatalf("stored authority %s, want LMS A's", a)
		}
		badAuthority := strings.Replace(forged, `{"objectType":"Agent","mbox":"mailto:someone-else@example.com"}`, `{"objectType":"Agent","name":"no identifier"}`, 1)
		if r := mineA.post(badAuthority); r.status != 400 {
			t.Fatalf("statement with an invalid authority: %d %s, want 400", r.status, r.body)
		}
		bIDs := postIDs(t, mineB, statement("bo", "completed", "course-1"))
		reader.get("?statementId="+bIDs[0]).json(t, &got)
		if a := fmt.Sprint(got["authority"]); !strings.Contains(a, mineB.key) {
			t.Fatalf("default authority %s does not name the credential %s", a, mineB.key)
		}

	})
}

// TestCredentialLifecycle: disable, enable and rotate, through the CLI (a
// separate "process" on the same store, as an operator would) and the admin
// API, reach the running LRS within the auth cache ttl; a rate limit
// answers 429 with Retry-After.
func TestCredentialLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, addr string, adm adminClient, dsn string) {
		ctx := context.Background()
		adm.do(http.MethodPost, "/tenants", map[string]string{"id": "acme"}, http.StatusCreated, nil)
		lms, cred := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "Moodle EU-West", Scopes: []string{"all"}})
		cli := func(args ...string) string {
			t.Helper()
			var out bytes.Buffer
			if err := admin.RunCredentials(ctx, append([]string{args[0], "-store-dsn", dsn}, args[1:]...), &out); err != nil {
				t.Fatalf("lrs credentials %v: %v", args, err)
			}
			return out.String()
		}
		// eventually polls until the LRS answers want, and reports how long
		// the change took to apply.
		eventually := func(c *client, want int, what string) time.Duration {
			t.Helper()
			start := time.Now()
			for {
				r := c.get("?limit=1")
				if r.status == want {
					return time.Since(start)
				}
				if time.Since(start) > 10*authTTL+5*time.Second {
					t.Fatalf("%s: still %d after %v, want %d", what, r.status, time.Since(start), want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		eventually(lms, 200, "new credential")
		cli("disable", cred.Key)
		took := eventually(lms, 401, "disabled by the CLI")
		t.Logf("disable applied after %v (auth cache ttl %v)", took, authTTL)
		cli("enable", cred.Key)
		eventually(lms, 200, "enabled by the CLI")

		// Rotation with grace: no request fails, both secrets work.
		var rotated admin.Credential
		adm.do(http.MethodPost, "/credentials/"+cred.Key+"/rotate", map[string]string{"grace": "1h"}, http.StatusOK, &rotated)
		fresh := *lms
		fresh.secret = rotated.Secret
		for _, c := range []*client{lms, &fresh} {
			if r := c.get("?limit=1"); r.status != 200 {
				t.Fatalf("during the grace: %d", r.status)
			}
		}
		// Rotation without grace ends the old secret within the ttl.
		out := cli("rotate", cred.Key)
		newest := *lms
		newest.secret = out[strings.Index(out, "secret: ")+len("secret: "):]
		newest.secret = strings.TrimSpace(newest.secret)
		eventually(&fresh, 401, "secret replaced without grace")
		eventually(&newest, 200, "newest secret")

		// Disabled through the admin API.
		adm.do(http.MethodPost, "/credentials/"+cred.Key+"/disable", nil, http.StatusOK, nil)
		eventually(&newest, 401, "disabled by the admin API")

		// Rate limit: 2 requests per second, a burst of 6 gets 429s.
		limited, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "limited", Scopes: []string{"all"}, RateLimit: 2})
		var tooMany response
		for range 6 {
			if r := limited.get("?limit=1"); r.status == http.StatusTooManyRequests {
				tooMany = r
			}
		}
		if tooMany.status != http.StatusTooManyRequests {
			t.Fatal("6 requests at once under a limit of 2/s: no 429")
		}
		wait, err := strconv.Atoi(tooMany.header.Get("Retry-After"))
		if err != nil || wait < 1 || !bytes.Contains(tooMany.body, []byte("2 requests per second")) {
			t.Fatalf("429 with Retry-After %q: %s", tooMany.header.Get("Retry-After"), tooMany.body)
		}
		time.Sleep(time.Duration(wait) * time.Second)
		if r := limited.get("?limit=1"); r.status != 200 {
			t.Fatalf("after Retry-After: %d", r.status)
		}
		// Other credentials keep their own budget.
		other, _ := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "unlimited", Scopes: []string{"all"}})
		for range 6 {
			if r := other.get("?limit=1"); r.status != 200 {
				t.Fatalf("an unlimited credential next to a limited one: %d", r.status)
			}
		}
	})
}

// TestAdminAPIDisabledWithoutToken: no LRS_ADMIN_TOKEN, no admin API.
func TestAdminAPIDisabledWithoutToken(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir())
	resp, err := http.Get("http://" + addr + "/admin/tenants")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /admin/tenants without an admin token configured: %d, want 404", resp.StatusCode)
	}
}

// runInProcess runs a service's Run function until the test ends.
func runInProcess(t *testing.T, run func(ctx context.Context, args []string) error, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with %v", err)
		}
	})
}

// TestTenantAndAuthorityInClickHouse: the analytics rows of two tenants'
// statements carry each statement's tenant and its credential's authority,
// and a statement's own authority does not survive into them. It runs
// ingest and the analytics-writer as the separate services they are in
// production, on the real Kafka, PostgreSQL and ClickHouse.
func TestTenantAndAuthorityInClickHouse(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, ch string) {
		brokers, pg := testenv.KafkaBrokers(t), testenv.PostgresDSN(t)
		topic := testenv.UniqueName("xapi")
		common := []string{"-kafka-brokers", strings.Join(brokers, ","), "-kafka-topic", topic, "-kafka-partitions", "1",
			"-log-format", "console", "-log-level", "warn"}
		addr, awAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
		runInProcess(t, func(ctx context.Context, args []string) error { return RunIngest(ctx, args, io.Discard) },
			append(common, "-http-addr", addr, "-store-dsn", pg, "-admin-token", testAdminToken)...)
		runInProcess(t, RunAnalyticsWriter, append(common, "-http-addr", awAddr, "-clickhouse-dsn", ch,
			"-analytics-group", topic+"-analytics", "-analytics-batch-wait", "100ms")...)
		waitReady(t, addr, nil)
		waitReady(t, awAddr, nil)
		adm := adminClient{t: t, base: "http://" + addr + "/admin"}
		want := map[string]string{} // tenant -> credential key
		forged := `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/activities/course-1"},` +
			`"authority":{"objectType":"Agent","mbox":"mailto:forged@example.com"}}`
		for _, tenant := range []string{"acme", "beta"} {
			adm.do(http.MethodPost, "/tenants", map[string]string{"id": tenant}, http.StatusCreated, nil)
			c, cred := adm.credential(addr, admin.NewCredential{Tenant: tenant, Label: tenant + " LMS", Scopes: []string{"statements/write"}})
			postIDs(t, c, "["+forged+","+statement("bo", "attempted", "course-2")+"]")
			want[tenant] = cred.Key
		}

		conn := testenv.ClickHouseConn(t, ch)
		type group struct {
			tenant, authority string
			n                 uint64
		}
		var got []group
		deadline := time.Now().Add(60 * time.Second)
		for {
			rows, err := conn.Query(context.Background(), "SELECT tenant, authority, count() FROM statements GROUP BY tenant, authority ORDER BY tenant")
			if err != nil {
				t.Fatalf("query ClickHouse: %v", err)
			}
			got = got[:0]
			for rows.Next() {
				var g group
				if err := rows.Scan(&g.tenant, &g.authority, &g.n); err != nil {
					t.Fatal(err)
				}
				got = append(got, g)
			}
			rows.Close()
			if len(got) == 2 && got[0].n == 2 && got[1].n == 2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(got) != 2 {
			t.Fatalf("ClickHouse groups by tenant and authority: %+v, want one per tenant", got)
		}
		for _, g := range got {
			if g.n != 2 || !strings.Contains(g.authority, want[g.tenant]) || strings.Contains(g.authority, "forged") {
				t.Errorf("tenant %q: %d rows with authority %q; want 2 with the authority of credential %s", g.tenant, g.n, g.authority, want[g.tenant])
			}
		}
	})
}
