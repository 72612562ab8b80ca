package admin

import (
	"net/http"
	"strings"
	"testing"
)

// TestPullSourcesAPI: a tenant's pull sources are set, listed without
// their secret, refused with the reason when malformed, and removed.
func TestPullSourcesAPI(t *testing.T) {
	app := newTestAPI(t)
	if r := call(t, app, http.MethodPost, "/admin/tenants", `{"id":"acme"}`, testToken); r.status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	good := `{"endpoint":"https://lms.example.com/xapi/","key":"k","secret":"very-secret","interval":"5m","since":"2024-01-01T00:00:00Z"}`
	if r := call(t, app, http.MethodPut, "/admin/tenants/nobody/pulls/moodle", good, testToken); r.status != http.StatusNotFound {
		t.Fatalf("a source of a tenant that does not exist: %d %s", r.status, r.body)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"endpoint":"ftp://x","key":"k","secret":"s"}`, "endpoint"},
		{`{"endpoint":"https://u:p@lms.example.com/xapi","key":"k","secret":"s"}`, "without credentials"},
		{`{"endpoint":"https://lms.example.com/xapi","key":"k"}`, "key and secret"},
		{`{"endpoint":"https://lms.example.com/xapi","key":"k","secret":"s","interval":"10ms"}`, "interval"},
		{`{"endpoint":"https://lms.example.com/xapi","key":"k","secret":"s","version":"0.95"}`, "version"},
		{`{"endpoint":"https://lms.example.com/xapi","key":"k","secret":"s","since":"yesterday"}`, "since"},
		{`{"endpoint":"https://lms.example.com/xapi","key":"k","secret":"s","every":"5m"}`, "unknown field"},
	} {
		if r := call(t, app, http.MethodPut, "/admin/tenants/acme/pulls/moodle", tt.body, testToken); r.status != http.StatusBadRequest || !strings.Contains(r.body, tt.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", tt.body, r.status, r.body, tt.want)
		}
	}
	if r := call(t, app, http.MethodPut, "/admin/tenants/acme/pulls/Bad%20Name", good, testToken); r.status != http.StatusBadRequest {
		t.Errorf("a bad name: %d %s", r.status, r.body)
	}
	if r := call(t, app, http.MethodPut, "/admin/tenants/acme/pulls/moodle", good, testToken); r.status != http.StatusOK ||
		!strings.Contains(r.body, `"endpoint":"https://lms.example.com/xapi"`) || !strings.Contains(r.body, `"interval":"5m0s"`) {
		t.Fatalf("set: %d %s", r.status, r.body)
	}
	r := call(t, app, http.MethodGet, "/admin/tenants/acme/pulls", "", testToken)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"name":"moodle"`) || strings.Contains(r.body, "very-secret") || strings.Contains(r.body, "position") {
		t.Fatalf("list: %d %s (want the source, no secret, no position yet)", r.status, r.body)
	}
	if r := call(t, app, http.MethodGet, "/admin/tenants/acme/pulls", "", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("list without the token: %d", r.status)
	}
	if r := call(t, app, http.MethodDelete, "/admin/tenants/acme/pulls/moodle", "", testToken); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := call(t, app, http.MethodDelete, "/admin/tenants/acme/pulls/moodle", "", testToken); r.status != http.StatusNotFound {
		t.Fatalf("delete again: %d %s", r.status, r.body)
	}
	if r := call(t, app, http.MethodGet, "/admin/tenants/acme/pulls", "", testToken); r.body != "[]" {
		t.Fatalf("list after delete: %s", r.body)
	}
}
