package admin

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
)

var (
	keyLine    = regexp.MustCompile(`(?m)^  key:    (\S+)$`)
	secretLine = regexp.MustCompile(`(?m)^  secret: (\S+)$`)
)

// issued reads the key and secret a command printed.
func issued(t *testing.T, out string) (key, secret string) {
	t.Helper()
	k, s := keyLine.FindStringSubmatch(out), secretLine.FindStringSubmatch(out)
	if k == nil || s == nil {
		t.Fatalf("no key and secret in:\n%s", out)
	}
	return k[1], s[1]
}

func TestCLI(t *testing.T) {
	ctx := context.Background()
	dsn := sqliteDSN(t)
	run := func(fn func(context.Context, []string, *bytes.Buffer) error, args ...string) (string, error) {
		var out bytes.Buffer
		err := fn(ctx, append(args, "-store-dsn", dsn), &out)
		return out.String(), err
	}
	tenants := func(ctx context.Context, args []string, out *bytes.Buffer) error { return RunTenants(ctx, args, out) }
	creds := func(ctx context.Context, args []string, out *bytes.Buffer) error {
		return RunCredentials(ctx, args, out)
	}
	// Flags come before the key: put -store-dsn first for key commands.
	runKey := func(cmd string, flags []string, key string) (string, error) {
		var out bytes.Buffer
		err := RunCredentials(ctx, append(append([]string{cmd, "-store-dsn", dsn}, flags...), key), &out)
		return out.String(), err
	}

	if out, err := run(tenants, "create", "-id", "acme", "-name", "Acme Corp"); err != nil || !strings.Contains(out, "acme") {
		t.Fatalf("tenants create: %v\n%s", err, out)
	}
	if _, err := run(tenants, "create", "-id", "acme"); err == nil {
		t.Fatal("tenants create twice succeeded")
	}
	if out, err := run(tenants, "list"); err != nil || !strings.Contains(out, "Acme Corp") || !strings.HasPrefix(out, "ID") {
		t.Fatalf("tenants list: %v\n%s", err, out)
	}
	if out, err := run(tenants, "set", "-id", "acme", "-voiding-policy", "tenant"); err != nil || !strings.Contains(out, "voiding policy tenant") {
		t.Fatalf("tenants set: %v\n%s", err, out)
	}
	if _, err := run(tenants, "set", "-id", "acme", "-voiding-policy", "all"); err == nil {
		t.Fatal("tenants set -voiding-policy all succeeded")
	}
	if out, err := run(tenants, "list"); err != nil || !strings.Contains(out, "tenant") {
		t.Fatalf("tenants list after set: %v\n%s", err, out)
	}
	out, err := run(creds, "create", "-tenant", "acme", "-label", "Moodle EU-West", "-rate-limit", "10")
	if err != nil {
		t.Fatalf("credentials create: %v\n%s", err, out)
	}
	key, secret := issued(t, out)

	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	authn, _ := auth.NewAuthenticator(st, time.Hour)
	check := func(secret string, ok bool, what string) {
		t.Helper()
		authn.Forget(key) // as if the cache ttl had passed
		p, err := authn.Authenticate(ctx, key, secret)
		if (err == nil) != ok {
			t.Fatalf("%s: authenticate = %v, want ok=%v", what, err, ok)
		}
		if ok && (p.Tenant != "acme" || p.RateLimit != 10 || !p.ReadsOnlyOwn() || !p.Allows(auth.ScopeStatementsWrite)) {
			t.Fatalf("%s: principal %+v: want acme, 10/s, statements/write and read/mine (the defaults)", what, p)
		}
	}
	check(secret, true, "created")

	if out, err := run(creds, "list"); err != nil || !strings.Contains(out, key) || !strings.Contains(out, "10/s") || strings.Contains(out, secret) {
		t.Fatalf("credentials list: %v\n%s", err, out)
	}
	if out, err := runKey("disable", nil, key); err != nil || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	check(secret, false, "disabled")
	if out, err := run(creds, "list", "-tenant", "acme"); err != nil || !strings.Contains(out, "disabled") {
		t.Fatalf("list after disable: %v\n%s", err, out)
	}
	if _, err := runKey("enable", nil, key); err != nil {
		t.Fatal(err)
	}
	check(secret, true, "enabled again")

	out, err = runKey("rotate", []string{"-grace", "1h"}, key)
	if err != nil || !strings.Contains(out, "works until") {
		t.Fatalf("rotate -grace 1h: %v\n%s", err, out)
	}
	k2, newSecret := issued(t, out)
	if k2 != key || newSecret == secret {
		t.Fatalf("rotate printed key %s secret %s", k2, newSecret)
	}
	check(secret, true, "old secret in grace")
	check(newSecret, true, "new secret")
	out, err = runKey("rotate", nil, key)
	if err != nil {
		t.Fatal(err)
	}
	_, newest := issued(t, out)
	check(newSecret, false, "replaced without grace")
	check(newest, true, "newest secret")

	bad := [][]string{
		{"create", "-tenant", "ghost", "-label", "x"},
		{"create", "-tenant", "acme", "-label", "x", "-scopes", "statements/writes"},
		{"create", "-tenant", "acme", "-label", "x", "-authority", `{"name":"no id"}`},
		{"rotate", key, "-grace", "1h"}, // flags after the key
		{"disable"},
		{"frobnicate"},
	}
	for _, args := range bad {
		if out, err := run(creds, args...); err == nil {
			t.Errorf("credentials %v succeeded:\n%s", args, out)
		}
	}
	if err := RunTenants(ctx, nil, &bytes.Buffer{}); err == nil {
		t.Error("tenants without a command succeeded")
	}
}
