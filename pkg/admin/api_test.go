package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
)

const testToken = "admin-token-0123456789"

func newTestAPI(t *testing.T) *fiber.App {
	t.Helper()
	svc, err := NewService(openStore(t, sqliteDSN(t)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, svc)
}

// serve is the admin API of svc under /admin.
func serve(t *testing.T, svc *Service) *fiber.App {
	t.Helper()
	api, err := NewAPI(svc, testToken, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	api.Register(app, "/admin")
	return app
}

type apiResponse struct {
	status int
	header http.Header
	body   string
}

func call(t *testing.T, app *fiber.App, method, path, body, token string) apiResponse {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResponse{resp.StatusCode, resp.Header, string(b)}
}

func TestNewAPIRejectsShortTokens(t *testing.T) {
	svc, _ := NewService(openStore(t, sqliteDSN(t)), nil)
	if _, err := NewAPI(svc, "short", zap.NewNop()); err == nil {
		t.Fatal("NewAPI accepted a 5-character token")
	}
}

func TestAPIGuard(t *testing.T) {
	app := newTestAPI(t)
	tests := []struct {
		name, header string
		want         int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"basic", "Basic " + testToken, http.StatusUnauthorized},
		{"wrong token", "Bearer " + testToken + "x", http.StatusUnauthorized},
		{"prefix of the token", "Bearer " + testToken[:10], http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"right token", "Bearer " + testToken, http.StatusOK},
		{"scheme in lower case", "bearer " + testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/admin/tenants", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if got := resp.Header.Get("WWW-Authenticate"); (tt.want == http.StatusUnauthorized) != (got == `Bearer realm="lrs-admin"`) {
				t.Fatalf("WWW-Authenticate %q with status %d", got, resp.StatusCode)
			}
		})
	}
	// The guard covers unknown paths too: they reveal nothing without the token.
	if r := call(t, app, http.MethodGet, "/admin/nothing", "", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("unknown path without token: %d", r.status)
	}
	if r := call(t, app, http.MethodGet, "/admin/nothing", "", testToken); r.status != http.StatusNotFound {
		t.Fatalf("unknown path with token: %d", r.status)
	}
}

func TestAPIRoutes(t *testing.T) {
	app := newTestAPI(t)
	steps := []struct {
		method, path, body string
		want               int
		contains           []string
	}{
		{http.MethodPost, "/admin/tenants", `{"id":"acme","name":"Acme"}`, http.StatusCreated, []string{`"id":"acme"`}},
		{http.MethodPost, "/admin/tenants", `{"id":"acme"}`, http.StatusConflict, []string{`"status":409`}},
		{http.MethodPost, "/admin/tenants", `{"id":"Bad Id"}`, http.StatusBadRequest, []string{"tenant id"}},
		{http.MethodPost, "/admin/tenants", `{"id":"x","nmae":"typo"}`, http.StatusBadRequest, []string{"nmae"}},
		{http.MethodPost, "/admin/tenants", `not json`, http.StatusBadRequest, nil},
		{http.MethodGet, "/admin/tenants", "", http.StatusOK, []string{`"name":"Acme"`}},
		{http.MethodPatch, "/admin/tenants/acme", `{"voidingPolicy":"tenant"}`, http.StatusOK, []string{`"voidingPolicy":"tenant"`}},
		{http.MethodPatch, "/admin/tenants/acme", `{"voidingPolicy":"everyone"}`, http.StatusBadRequest, []string{"voiding policy"}},
		{http.MethodPatch, "/admin/tenants/acme", `{}`, http.StatusBadRequest, []string{"voidingPolicy"}},
		{http.MethodPatch, "/admin/tenants/nosuch", `{"voidingPolicy":"tenant"}`, http.StatusNotFound, nil},
		{http.MethodGet, "/admin/tenants", "", http.StatusOK, []string{`"voidingPolicy":"tenant"`}},
		{http.MethodPost, "/admin/tenants", `{"id":"beta","voidingPolicy":"authority"}`, http.StatusCreated, []string{`"voidingPolicy":"authority"`}},
		{http.MethodPost, "/admin/credentials", `{"tenant":"acme","label":"Moodle EU-West","key":"moodle-eu-west","scopes":["statements/write","statements/read/mine"],"rateLimit":20}`,
			http.StatusCreated, []string{`"key":"moodle-eu-west"`, `"secret":"`, `"rateLimit":20`}},
		{http.MethodPost, "/admin/credentials", `{"tenant":"acme","label":"x","scope":["all"]}`, http.StatusBadRequest, []string{"scope"}},
		{http.MethodPost, "/admin/credentials", `{"tenant":"ghost","label":"x","scopes":["all"]}`, http.StatusNotFound, []string{"ghost"}},
		{http.MethodGet, "/admin/credentials", "", http.StatusOK, []string{`"key":"moodle-eu-west"`, `"label":"Moodle EU-West"`}},
		{http.MethodGet, "/admin/credentials?tenant=acme", "", http.StatusOK, []string{`"key":"moodle-eu-west"`}},
		{http.MethodGet, "/admin/credentials?tenant=ghost", "", http.StatusNotFound, nil},
		{http.MethodGet, "/admin/credentials/moodle-eu-west", "", http.StatusOK, []string{`"disabled":false`}},
		{http.MethodGet, "/admin/credentials/nobody", "", http.StatusNotFound, nil},
		{http.MethodPost, "/admin/credentials/moodle-eu-west/disable", "", http.StatusOK, []string{`"disabled":true`}},
		{http.MethodPost, "/admin/credentials/moodle-eu-west/enable", "", http.StatusOK, []string{`"disabled":false`}},
		{http.MethodPost, "/admin/credentials/moodle-eu-west/rotate", `{"grace":"24h"}`, http.StatusOK, []string{`"secret":"`, `"previousSecretUntil":"`}},
		{http.MethodPost, "/admin/credentials/moodle-eu-west/rotate", ``, http.StatusOK, []string{`"secret":"`}},
		{http.MethodPost, "/admin/credentials/moodle-eu-west/rotate", `{"grace":"soon"}`, http.StatusBadRequest, []string{"grace"}},
		{http.MethodPost, "/admin/credentials/nobody/rotate", ``, http.StatusNotFound, nil},
	}
	for _, s := range steps {
		r := call(t, app, s.method, s.path, s.body, testToken)
		if r.status != s.want {
			t.Fatalf("%s %s %s: %d %s, want %d", s.method, s.path, s.body, r.status, r.body, s.want)
		}
		for _, c := range s.contains {
			if !strings.Contains(r.body, c) {
				t.Fatalf("%s %s: body %s lacks %s", s.method, s.path, r.body, c)
			}
		}
		// Hashes never leave the store, and secrets only where issued.
		issued := strings.HasSuffix(s.path, "/rotate") || (s.method == http.MethodPost && s.path == "/admin/credentials")
		if strings.Contains(r.body, "pbkdf2") || (!issued && strings.Contains(r.body, `"secret"`)) {
			t.Fatalf("%s %s leaks a secret or hash: %s", s.method, s.path, r.body)
		}
	}
	var list []Credential
	if err := json.Unmarshal([]byte(call(t, app, http.MethodGet, "/admin/credentials", "", testToken).body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].PreviousSecretUntil != nil {
		t.Fatalf("after a rotation without grace: %+v", list)
	}
}
