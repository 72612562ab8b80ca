package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestForwardingRoutes: a rule's life through the admin API, and the
// answers to what cannot be done.
func TestForwardingRoutes(t *testing.T) {
	app := newTestAPI(t)
	if r := call(t, app, "POST", "/admin/tenants", `{"id":"acme"}`, testToken); r.status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	hook := `{"name":"passes","filter":{"verb":"http://adlnet.gov/expapi/verbs/passed","voiding":true},"target":{"type":"webhook","url":"http://127.0.0.1:9/hook"},"start":"beginning"}`
	r := call(t, app, "POST", "/admin/tenants/acme/forwarding", hook, testToken)
	var created struct {
		Name   string
		Target struct{ Secret string }
	}
	if err := json.Unmarshal([]byte(r.body), &created); r.status != http.StatusCreated || err != nil || len(created.Target.Secret) != 64 {
		t.Fatalf("create webhook rule: %d %s: want 201 with the 64-hex secret", r.status, r.body)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		says               string
	}{
		{"POST", "/admin/tenants/acme/forwarding", hook, http.StatusConflict, "already exists"},
		{"POST", "/admin/tenants/nosuch/forwarding", hook, http.StatusNotFound, "nosuch"},
		{"POST", "/admin/tenants/acme/forwarding", `{"name":"x","target":{"type":"ftp","url":"http://a"}}`, http.StatusBadRequest, "target type"},
		{"POST", "/admin/tenants/acme/forwarding", `{"name":"x","target":{"type":"xapi","url":"http://a"}}`, http.StatusBadRequest, "key and secret"},
		{"POST", "/admin/tenants/acme/forwarding", `{"name":"x","target":{"type":"webhook","url":"http://a","secret":"mine"}}`, http.StatusBadRequest, "generated"},
		{"POST", "/admin/tenants/acme/forwarding", `{"name":"x","filter":{"verb":"passed"},"target":{"type":"webhook","url":"http://a"}}`, http.StatusBadRequest, "filter verb"},
		{"POST", "/admin/tenants/acme/forwarding", `{"name":"x","filter":{"actor":{"name":"Ana"}},"target":{"type":"webhook","url":"http://a"}}`, http.StatusBadRequest, "filter actor"},
		{"POST", "/admin/tenants/acme/forwarding", `{"name":"x","target":{"type":"webhook","url":"http://a"},"start":"monday"}`, http.StatusBadRequest, "start"},
		{"POST", "/admin/tenants/acme/forwarding", `{"name":"Bad Name","target":{"type":"webhook","url":"http://a"}}`, http.StatusBadRequest, "rule name"},
		{"POST", "/admin/tenants/acme/forwarding", `{"name":"x","targets":{}}`, http.StatusBadRequest, "unknown field"},
		{"GET", "/admin/tenants/acme/forwarding/nope", "", http.StatusNotFound, "nope"},
		{"POST", "/admin/tenants/acme/forwarding/passes/rewind", `{"to":"yesterday"}`, http.StatusBadRequest, "RFC 3339"},
		{"GET", "/admin/tenants/acme/forwarding/passes/dead-letters?limit=0", "", http.StatusBadRequest, "limit"},
	} {
		if got := call(t, app, tc.method, tc.path, tc.body, testToken); got.status != tc.status || !strings.Contains(got.body, tc.says) {
			t.Errorf("%s %s %s = %d %s; want %d naming %q", tc.method, tc.path, tc.body, got.status, got.body, tc.status, tc.says)
		}
	}
	xapi := `{"name":"mirror","target":{"type":"xapi","url":"https://other.example.com/xapi/","key":"k","secret":"s3cret"}}`
	if r := call(t, app, "POST", "/admin/tenants/acme/forwarding", xapi, testToken); r.status != http.StatusCreated || strings.Contains(r.body, "s3cret") || !strings.Contains(r.body, `"version":"1.0.3"`) {
		t.Fatalf("create xapi rule: %d %s: want 201, the version defaulted, no secret", r.status, r.body)
	}
	r = call(t, app, "GET", "/admin/tenants/acme/forwarding", "", testToken)
	if r.status != http.StatusOK || strings.Contains(r.body, created.Target.Secret) || strings.Contains(r.body, "s3cret") || !strings.Contains(r.body, `"lagRecords":0`) || !strings.Contains(r.body, "mirror") {
		t.Fatalf("list: %d %s: want both rules with their status and no secret", r.status, r.body)
	}
	if r := call(t, app, "POST", "/admin/tenants/acme/forwarding/passes/pause", "", testToken); r.status != http.StatusOK || !strings.Contains(r.body, `"paused":true`) {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	if r := call(t, app, "POST", "/admin/tenants/acme/forwarding/passes/rewind", `{"to":"2026-12-01T00:00:00Z"}`, testToken); r.status != http.StatusOK || !strings.Contains(r.body, `"generation":2`) || !strings.Contains(r.body, `"startAt":"2026-12-01T00:00:00Z"`) {
		t.Fatalf("rewind: %d %s", r.status, r.body)
	}
	if r := call(t, app, "GET", "/admin/tenants/acme/forwarding/passes/dead-letters", "", testToken); r.status != http.StatusOK || r.body != `{"deadLetters":[]}` {
		t.Fatalf("dead letters: %d %s", r.status, r.body)
	}
	if r := call(t, app, "POST", "/admin/tenants/acme/forwarding/passes/dead-letters/resend", "", testToken); r.status != http.StatusOK || r.body != `{"marked":0}` {
		t.Fatalf("resend: %d %s", r.status, r.body)
	}
	if r := call(t, app, "DELETE", "/admin/tenants/acme/forwarding/passes", "", testToken); r.status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := call(t, app, "GET", "/admin/tenants/acme/forwarding/passes", "", testToken); r.status != http.StatusNotFound {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
}

// TestForwardingCLI: lrs forwarding creates, lists, pauses, rewinds and
// deletes rules in the store.
func TestForwardingCLI(t *testing.T) {
	ctx := context.Background()
	dsn := sqliteDSN(t)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := RunForwarding(ctx, append(args, "-store-dsn", dsn), &out)
		return out.String(), err
	}
	var out bytes.Buffer
	if err := RunTenants(ctx, []string{"create", "-id", "acme", "-store-dsn", dsn}, &out); err != nil {
		t.Fatal(err)
	}
	if out, err := run("create", "-tenant", "acme", "-name", "hook", "-target-type", "webhook", "-target-url", "http://127.0.0.1:9/h", "-verb", "http://adlnet.gov/expapi/verbs/passed"); err != nil || !strings.Contains(out, "secret: ") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	if out, err := run("create", "-tenant", "acme", "-name", "hook", "-target-type", "webhook", "-target-url", "http://127.0.0.1:9/h"); err == nil {
		t.Fatalf("create twice succeeded:\n%s", out)
	}
	if out, err := run("pause", "-tenant", "acme", "-name", "hook"); err != nil || !strings.Contains(out, "paused") {
		t.Fatalf("pause: %v\n%s", err, out)
	}
	if out, err := run("list", "-tenant", "acme"); err != nil || !strings.Contains(out, "hook") || !strings.Contains(out, "paused") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := run("rewind", "-tenant", "acme", "-name", "hook", "-to", "beginning"); err != nil || !strings.Contains(out, "beginning of retention") {
		t.Fatalf("rewind: %v\n%s", err, out)
	}
	if out, err := run("show", "-tenant", "acme", "-name", "hook"); err != nil || !strings.Contains(out, `"generation": 2`) || strings.Contains(out, "secret") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if _, err := run("resend", "-tenant", "acme", "-name", "hook", "-ids", "1,x"); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("resend -ids 1,x: %v", err)
	}
	if out, err := run("delete", "-tenant", "acme", "-name", "hook"); err != nil || !strings.Contains(out, "Deleted") {
		t.Fatalf("delete: %v\n%s", err, out)
	}
}
