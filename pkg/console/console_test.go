package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
)

const testToken = "an-admin-token-of-some-length"

func TestSessions(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	s := newSessions(testToken, time.Hour)
	s.now = func() time.Time { return now }
	v, exp, err := s.issue()
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("expires %v, want %v", exp, now.Add(time.Hour))
	}
	id, err := s.check(v)
	if err != nil {
		t.Fatalf("fresh session refused: %v", err)
	}
	other := newSessions("another-admin-token-entirely", time.Hour)
	parts := strings.Split(v, ".")
	for name, bad := range map[string]string{
		"empty":           "",
		"two parts":       parts[0] + "." + parts[1],
		"mac of another":  parts[0] + "." + parts[1] + "." + other.sign("session", parts[0]+"."+parts[1]),
		"expiry extended": b64.EncodeToString([]byte{0, 0, 0, 0, 0x7f, 0, 0, 0}) + "." + parts[1] + "." + parts[2],
		"nonce changed":   parts[0] + ".AAAAAAAAAAAAAAAAAAAAAA." + parts[2],
	} {
		if _, err := s.check(bad); err == nil {
			t.Errorf("%s: session %q accepted", name, bad)
		}
	}
	if _, err := other.check(v); err == nil {
		t.Error("a session survives a change of the admin token")
	}
	now = now.Add(time.Hour)
	if _, err := s.check(v); err == nil {
		t.Error("an expired session is accepted")
	}

	if !s.checkCSRF(id, s.csrf(id)) {
		t.Error("the session's own CSRF token is refused")
	}
	for name, tok := range map[string]string{"empty": "", "another session's": s.csrf("other"), "another key's": other.csrf(id)} {
		if s.checkCSRF(id, tok) {
			t.Errorf("%s CSRF token accepted", name)
		}
	}
	if !s.login(testToken) || s.login(testToken+"x") || s.login("") {
		t.Error("login compares the token wrongly")
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/console/t/acme":        "/console/t/acme",
		"":                       "/console/",
		"https://evil.example/":  "/console/",
		"//evil.example/console": "/console/",
		"/consolex":              "/console/",
		"/console/\\evil":        "/console/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestFilters(t *testing.T) {
	for in, want := range map[string]string{
		"ada@example.com":           `{"mbox":"mailto:ada@example.com"}`,
		"mailto:ada@example.com":    `{"mbox":"mailto:ada@example.com"}`,
		`{"account":{"name":"42"}}`: `{"account":{"name":"42"}}`,
		"":                          "",
	} {
		got, err := agentJSON(in)
		if err != nil || got != want {
			t.Errorf("agentJSON(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := agentJSON("ada"); err == nil {
		t.Error("agent \"ada\" accepted")
	}
	for in, want := range map[string]time.Time{
		"2026-12-02T08:30":          time.Date(2026, 12, 2, 8, 30, 0, 0, time.UTC),
		"2026-12-02T09:30:00+01:00": time.Date(2026, 12, 2, 8, 30, 0, 0, time.UTC),
		"2026-12-02":                time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
	} {
		got, err := parseTime("since", in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseTime("since", "yesterday"); err == nil || !strings.Contains(err.Error(), "since") {
		t.Errorf("parseTime(yesterday): %v, want an error naming the field", err)
	}
}

func TestSamplerRates(t *testing.T) {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: requestsMetric}, []string{"method", "route", "status"})
	stmts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: statementsMetric}, []string{"result"})
	reg.MustRegister(reqs, stmts)
	s := newSampler(reg, time.Minute, 10*time.Minute)
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	s.sample(t0)
	reqs.WithLabelValues("POST", "/xapi/statements", "200").Add(5)
	reqs.WithLabelValues("PUT", "/xapi/statements", "200").Add(1)
	reqs.WithLabelValues("GET", "/console/health", "200").Add(100) // the console's own pages do not count
	reqs.WithLabelValues("GET", "/metrics", "200").Add(100)
	stmts.WithLabelValues("accepted").Add(7)
	s.sample(t0.Add(time.Minute))
	reqs.WithLabelValues("POST", "/xapi/statements", "400").Add(2)
	// The last reading is taken when the rates are asked for.
	starts, rows := s.rates(2, t0.Add(2*time.Minute))
	if len(starts) != 2 || !starts[1].Equal(t0.Add(time.Minute)) {
		t.Fatalf("buckets start at %v", starts)
	}
	got := map[string][]float64{}
	for _, r := range rows {
		got[r.Series] = r.Counts
	}
	want := map[string][]float64{"status 200": {6, 0}, "status 400": {0, 2}, "statements accepted": {7, 0}}
	for k, w := range want {
		if g := got[k]; len(g) != 2 || g[0] != w[0] || g[1] != w[1] {
			t.Errorf("%s: %v, want %v", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want those of %v", got, want)
	}

	// The ring keeps the window it was given.
	for i := range 20 {
		s.sample(t0.Add(time.Duration(i+2) * time.Minute))
	}
	if n := len(s.ring); n != cap(s.ring) || !s.ring[0].at.Equal(t0.Add(11*time.Minute)) {
		t.Errorf("ring holds %d readings from %v", n, s.ring[0].at)
	}
}

// testConsole is a console on a real SQLite store, behind a Fiber app.
type testConsole struct {
	t   *testing.T
	app *fiber.App
	st  store.Store
	c   *Console
}

func newTestConsole(t *testing.T) *testConsole {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lrs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := admin.NewService(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing here reaches a broker: the client only dials when used.
	kcl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close)
	c, err := New(Config{Enabled: true, SessionTTL: time.Hour}, testToken, Deps{Admin: svc, Statements: st, Gatherer: prometheus.NewRegistry(), Log: zap.NewNop(),
		Kafka: Kafka{Client: kcl, Topic: "t", StoreGroup: "g",
			Dial: func(opts ...kgo.Opt) (*kgo.Client, error) {
				return kgo.NewClient(append(opts, kgo.SeedBrokers("127.0.0.1:1"))...)
			},
			Applied: func(context.Context) (map[int32]int64, error) { return nil, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	c.Register(app)
	return &testConsole{t: t, app: app, st: st, c: c}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (tc *testConsole) do(method, path, cookie string, form url.Values, hdr ...string) answer {
	tc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := tc.app.Test(req, -1)
	if err != nil {
		tc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// login returns a session cookie and its CSRF token.
func (tc *testConsole) login() (cookie, csrf string) {
	tc.t.Helper()
	a := tc.do("POST", "/console/login", "", url.Values{"token": {testToken}})
	if a.status != http.StatusSeeOther {
		tc.t.Fatalf("login: %d %s", a.status, a.body)
	}
	c := (&http.Response{Header: a.header}).Cookies()
	if len(c) != 1 {
		tc.t.Fatalf("login set cookies %v", c)
	}
	page := tc.do("GET", "/console/", c[0].Value, nil)
	m := csrfRE.FindStringSubmatch(page.body)
	if m == nil {
		tc.t.Fatalf("no CSRF token in %s", page.body)
	}
	return c[0].Value, m[1]
}

func TestLoginAndCSRF(t *testing.T) {
	tc := newTestConsole(t)

	a := tc.do("GET", "/console/t/acme?x=1", "", nil)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/login?next="+url.QueryEscape("/console/t/acme?x=1") {
		t.Fatalf("without a session: %d to %q, want 303 to the login", a.status, a.header.Get("Location"))
	}
	if a := tc.do("GET", "/console/health/panel", "", nil, "HX-Request", "true"); a.status != http.StatusUnauthorized || a.header.Get("HX-Redirect") != "/console/login" {
		t.Errorf("htmx refresh without a session: %d %v", a.status, a.header)
	}
	if a := tc.do("POST", "/console/login", "", url.Values{"token": {"wrong"}}); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "not the admin token") {
		t.Errorf("wrong token: %d", a.status)
	}
	if a := tc.do("POST", "/console/login", "", url.Values{"token": {testToken}}, "Origin", "https://evil.example"); a.status != http.StatusForbidden {
		t.Errorf("login from another origin: %d, want 403", a.status)
	}
	a = tc.do("POST", "/console/login", "", url.Values{"token": {testToken}, "next": {"//evil.example/"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/" {
		t.Errorf("login with next=//evil.example/: %d to %q", a.status, a.header.Get("Location"))
	}
	sc := a.header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Strict", "path=/console"} {
		if !strings.Contains(strings.ToLower(sc), strings.ToLower(attr)) {
			t.Errorf("session cookie %q lacks %s", sc, attr)
		}
	}

	cookie, csrf := tc.login()
	a = tc.do("GET", "/console/", cookie, nil)
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	for name, c := range map[string]struct {
		form url.Values
		hdr  []string
		want int
	}{
		"no token":          {url.Values{"id": {"forged"}}, nil, http.StatusForbidden},
		"another's token":   {url.Values{"id": {"forged"}, "_csrf": {tc.c.sess.csrf("x")}}, nil, http.StatusForbidden},
		"cross-site":        {url.Values{"id": {"forged"}, "_csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		"another origin":    {url.Values{"id": {"forged"}, "_csrf": {csrf}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		"bad id is a 400":   {url.Values{"id": {"Not An Id"}, "_csrf": {csrf}}, nil, http.StatusBadRequest},
		"same-origin, good": {url.Values{"id": {"acme"}, "_csrf": {csrf}}, []string{"Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"}, http.StatusSeeOther},
	} {
		if a := tc.do("POST", "/console/tenants", cookie, c.form, c.hdr...); a.status != c.want {
			t.Errorf("%s: %d, want %d (%s)", name, a.status, c.want, a.body)
		}
	}
	ts, err := tc.st.ListTenants(context.Background())
	if err != nil || len(ts) != 1 || ts[0].ID != "acme" {
		t.Fatalf("tenants %v, %v: want acme alone", ts, err)
	}
	if a := tc.do("POST", "/console/logout", cookie, url.Values{"_csrf": {csrf}}); a.status != http.StatusSeeOther || !strings.Contains(a.header.Get("Set-Cookie"), cookieName+"=;") {
		t.Errorf("logout: %d %q", a.status, a.header.Get("Set-Cookie"))
	}
}

func TestCredentialsAndStatements(t *testing.T) {
	tc := newTestConsole(t)
	cookie, csrf := tc.login()
	ctx := context.Background()
	if a := tc.do("POST", "/console/tenants", cookie, url.Values{"id": {"acme"}, "name": {"Acme"}, "_csrf": {csrf}}); a.status != http.StatusSeeOther {
		t.Fatalf("create tenant: %d %s", a.status, a.body)
	}
	a := tc.do("POST", "/console/t/acme/credentials", cookie, url.Values{"label": {"Moodle EU-West"}, "scope-statements/write": {"1"},
		"scope-statements/read/mine": {"1"}, "rateLimit": {"50"}, "_csrf": {csrf}})
	if a.status != http.StatusCreated {
		t.Fatalf("create credential: %d %s", a.status, a.body)
	}
	key := regexp.MustCompile(`id="cred-key">([^<]+)<`).FindStringSubmatch(a.body)
	secret := regexp.MustCompile(`id="cred-secret">([^<]+)<`).FindStringSubmatch(a.body)
	if key == nil || secret == nil || len(secret[1]) < 16 {
		t.Fatalf("the page does not show the key and secret: %s", a.body)
	}
	authn, err := auth.NewAuthenticator(tc.st, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p, err := authn.Authenticate(ctx, key[1], secret[1])
	if err != nil || p.Tenant != "acme" {
		t.Fatalf("the secret shown does not authenticate: %v %+v", err, p)
	}
	cred, _ := tc.st.GetCredential(ctx, key[1])
	if cred.RateLimit != 50 || strings.Join(cred.Scopes, ",") != "statements/write,statements/read/mine" || cred.Label != "Moodle EU-West" {
		t.Errorf("stored credential %+v", cred)
	}
	if a := tc.do("POST", "/console/t/acme/credentials", cookie, url.Values{"label": {"x"}, "_csrf": {csrf}}); a.status != http.StatusBadRequest || !strings.Contains(a.body, "no scopes") {
		t.Errorf("credential without scopes: %d", a.status)
	}
	if a := tc.do("POST", "/console/credentials/"+key[1]+"/disable", cookie, url.Values{"_csrf": {csrf}}); a.status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", a.status, a.body)
	}
	if c, _ := tc.st.GetCredential(ctx, key[1]); !c.Disabled {
		t.Error("credential not disabled")
	}
	a = tc.do("POST", "/console/credentials/"+key[1]+"/rotate", cookie, url.Values{"grace": {"1h"}, "_csrf": {csrf}})
	newSecret := regexp.MustCompile(`id="cred-secret">([^<]+)<`).FindStringSubmatch(a.body)
	if a.status != http.StatusOK || newSecret == nil || newSecret[1] == secret[1] || !strings.Contains(a.body, "old secret keeps working until") {
		t.Fatalf("rotate: %d %s", a.status, a.body)
	}
	if a := tc.do("POST", "/console/credentials/"+key[1]+"/rotate", cookie, url.Values{"grace": {"soon"}, "_csrf": {csrf}}); a.status != http.StatusBadRequest {
		t.Errorf("rotate with grace=soon: %d", a.status)
	}

	// A statement the store holds, with an attachment, and its voiding.
	authority := string(cred.Authority)
	id := "3f1d6c52-5d0b-4b53-9a4e-1f7c0d2e9a01"
	sha := "6e9e0c1f3f0c2c6b5d5a1f6d8c4e2b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	body := `{"id":"` + id + `","actor":{"mbox":"mailto:ada@example.com","name":"Ada"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},` +
		`"object":{"id":"http://example.com/c1","definition":{"name":{"en-US":"Course <1>"}}},"authority":` + authority + `,"stored":"2026-12-02T08:00:00Z",` +
		`"attachments":[{"usageType":"http://example.com/cert","display":{"en-US":"certificate"},"contentType":"text/html","length":4,"sha2":"` + sha + `"}]}`
	stored := time.Now().UTC()
	if _, err := tc.st.ApplyStatements(ctx, "g", []store.Statement{{Tenant: "acme", ID: id, Stored: stored, JSON: []byte(body), Fingerprint: "f1"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tc.st.PutAttachments(ctx, "acme", []store.Attachment{{SHA2: sha, ContentType: "text/html", Content: []byte("<b>x")}}); err != nil {
		t.Fatal(err)
	}
	a = tc.do("GET", "/console/t/acme/statements?agent=ada@example.com&verb=http://adlnet.gov/expapi/verbs/completed", cookie, nil)
	if a.status != http.StatusOK || !strings.Contains(a.body, id) || !strings.Contains(a.body, "Course &lt;1&gt;") {
		t.Fatalf("statement list: %d %s", a.status, a.body)
	}
	if a := tc.do("GET", "/console/t/acme/statements?agent=ada@example.org", cookie, nil); strings.Contains(a.body, id) {
		t.Error("the agent filter does not filter")
	}
	if a := tc.do("GET", "/console/t/acme/statements?since=tomorrow", cookie, nil); a.status != http.StatusBadRequest || !strings.Contains(a.body, "since") {
		t.Errorf("since=tomorrow: %d", a.status)
	}
	a = tc.do("GET", "/console/t/acme/statements/"+id, cookie, nil)
	if a.status != http.StatusOK || strings.Contains(a.body, `id="voided"`) || !strings.Contains(a.body, "/console/t/acme/attachments/"+sha) {
		t.Fatalf("statement page: %d %s", a.status, a.body)
	}
	a = tc.do("GET", "/console/t/acme/attachments/"+sha, cookie, nil)
	if a.status != http.StatusOK || a.body != "<b>x" || !strings.HasPrefix(a.header.Get("Content-Disposition"), "attachment") || a.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("attachment: %d %q %v", a.status, a.body, a.header)
	}
	if a := tc.do("GET", "/console/t/other/statements/"+id, cookie, nil); a.status != http.StatusNotFound {
		t.Errorf("statement of another tenant: %d", a.status)
	}

	// The tenant page and the LMS view see the credential's statement.
	if a := tc.do("GET", "/console/t/acme", cookie, nil); !strings.Contains(a.body, "just now") || !strings.Contains(a.body, "disabled") {
		t.Errorf("tenant page lacks the last statement or the disabled state: %s", a.body)
	}
	if a := tc.do("GET", "/console/t/acme/lms", cookie, nil); !strings.Contains(a.body, "oldest first: 0, 0") || !strings.Contains(a.body, "<td>1</td>") {
		t.Errorf("LMS view: %s", a.body)
	}

	voiding := `{"id":"4f1d6c52-5d0b-4b53-9a4e-1f7c0d2e9a02","actor":{"mbox":"mailto:ada@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},` +
		`"object":{"objectType":"StatementRef","id":"` + id + `"},"authority":` + authority + `}`
	if _, err := tc.st.ApplyStatements(ctx, "g", []store.Statement{{Tenant: "acme", ID: "4f1d6c52-5d0b-4b53-9a4e-1f7c0d2e9a02", Stored: time.Now().UTC(), JSON: []byte(voiding), Fingerprint: "f2"}}, nil); err != nil {
		t.Fatal(err)
	}
	if a := tc.do("GET", "/console/t/acme/statements/"+id, cookie, nil); a.status != http.StatusOK || !strings.Contains(a.body, `id="voided"`) {
		t.Errorf("voided statement page: %d %s", a.status, a.body)
	}
	if a := tc.do("GET", "/console/t/acme/statements?id="+strings.ToUpper(id), cookie, nil); a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/t/acme/statements/"+id {
		t.Errorf("look-up by id: %d %q", a.status, a.header.Get("Location"))
	}
	a = tc.do("GET", "/console/t/acme/statements", cookie, nil)
	if strings.Contains(a.body, "Course &lt;1&gt;") || !strings.Contains(a.body, "voiding") {
		t.Errorf("list after voiding: %s", a.body)
	}
}

func TestAnswers(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 30, 0, 0, time.UTC)
	a := NewAnswers()
	a.now = func() time.Time { return now }
	at := func(d time.Duration, status int) {
		now = now.Add(d)
		a.Answered("acme", "moodle", status)
	}
	at(-30*time.Hour, 500) // older than the window
	at(30*time.Hour, 200)
	at(0, 400)
	at(0, 400)
	at(-3*time.Hour, 413)
	at(3*time.Hour, 429)
	got, last := a.errors("moodle")
	want := []statusCount{{400, 2}, {413, 1}, {429, 1}}
	if len(got) != len(want) {
		t.Fatalf("errors %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("errors %v, want %v", got, want)
		}
	}
	if !last.Equal(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("newest error in the hour from %v", last)
	}
	// A day later the slots of that day are stale, even those not rewritten.
	now = now.Add(lmsHours * time.Hour)
	if got, last := a.errors("moodle"); len(got) != 0 || !last.IsZero() {
		t.Errorf("a day later: %v %v", got, last)
	}
	if got, _ := a.errors("unknown"); got != nil {
		t.Errorf("unknown key: %v", got)
	}
}
