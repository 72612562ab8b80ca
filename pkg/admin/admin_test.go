package admin

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func sqliteDSN(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "lrs.db") }

func TestServiceSQLite(t *testing.T) { testService(t, openStore(t, sqliteDSN(t))) }

func TestServicePostgres(t *testing.T) { testService(t, openStore(t, testenv.PostgresDSN(t))) }

// testService runs the admin operations end to end on one store backend and
// checks each against what an Authenticator then accepts.
func testService(t *testing.T, st store.Store) {
	ctx := testenv.Context(t, time.Minute)
	var changed []string
	s, err := NewService(st, func(key string) { changed = append(changed, key) })
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewAuthenticator(st, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	authOK := func(key, secret string) bool {
		authn.Forget(key) // what the changed callback does in the LRS
		_, err := authn.Authenticate(ctx, key, secret)
		return err == nil
	}

	for _, tc := range []struct{ id, name string }{{"acme", "Acme Corp"}, {"beta.eu-1", ""}} {
		got, err := s.CreateTenant(ctx, tc.id, tc.name, "")
		if err != nil || got.ID != tc.id || got.Name == "" || got.CreatedAt.IsZero() {
			t.Fatalf("CreateTenant(%q) = %+v, %v", tc.id, got, err)
		}
	}
	for _, tc := range []struct {
		id   string
		want error
	}{{"acme", ErrExists}, {"", ErrInvalid}, {"Acme", ErrInvalid}, {"a/b", ErrInvalid}, {"-x", ErrInvalid}} {
		if _, err := s.CreateTenant(ctx, tc.id, "", ""); !errors.Is(err, tc.want) {
			t.Errorf("CreateTenant(%q) = %v, want %v", tc.id, err, tc.want)
		}
	}
	if _, err := s.CreateTenant(ctx, "gamma", "", "anyone"); !errors.Is(err, ErrInvalid) {
		t.Errorf("CreateTenant with voiding policy anyone = %v, want ErrInvalid", err)
	}
	for _, tc := range []struct {
		id, policy string
		want       error
	}{{"beta.eu-1", "tenant", nil}, {"beta.eu-1", "", nil}, {"acme", "authority", nil}, {"acme", "Tenant", ErrInvalid}, {"nosuch", "tenant", ErrNotFound}} {
		got, err := s.SetVoidingPolicy(ctx, tc.id, tc.policy)
		if !errors.Is(err, tc.want) || (err == nil && got.VoidingPolicy != tc.policy) {
			t.Errorf("SetVoidingPolicy(%s, %q) = %+v, %v; want policy %q, error %v", tc.id, tc.policy, got, err, tc.policy, tc.want)
		}
	}
	ts, err := s.ListTenants(ctx)
	if err != nil || len(ts) != 2 || ts[0].ID != "acme" || ts[1].Name != "beta.eu-1" || ts[0].VoidingPolicy != "authority" || ts[1].VoidingPolicy != "" {
		t.Fatalf("ListTenants = %+v, %v", ts, err)
	}

	moodle, err := s.CreateCredential(ctx, NewCredential{Tenant: "acme", Label: "Moodle EU-West",
		Scopes: []string{auth.ScopeStatementsWrite, auth.ScopeStatementsReadMine}, RateLimit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if moodle.Secret == "" || moodle.Key == "" || moodle.RateLimit != 50 || len(moodle.Authority) == 0 {
		t.Fatalf("created %+v", moodle)
	}
	if !authOK(moodle.Key, moodle.Secret) {
		t.Fatal("the created credential does not authenticate")
	}
	named, err := s.CreateCredential(ctx, NewCredential{Tenant: "beta.eu-1", Label: "Totara", Key: "totara-key-1",
		Scopes: []string{auth.ScopeAll}, Authority: json.RawMessage(`{"objectType":"Agent","mbox":"mailto:totara@beta.test"}`)})
	if err != nil || named.Key != "totara-key-1" || string(named.Authority) != `{"objectType":"Agent","mbox":"mailto:totara@beta.test"}` {
		t.Fatalf("created %+v, %v", named, err)
	}
	bad := []struct {
		name string
		n    NewCredential
		want error
	}{
		{"existing key (another tenant's)", NewCredential{Tenant: "acme", Label: "x", Key: "totara-key-1", Scopes: []string{auth.ScopeAll}}, ErrExists},
		{"missing tenant", NewCredential{Tenant: "ghost", Label: "x", Scopes: []string{auth.ScopeAll}}, ErrNotFound},
		{"no tenant", NewCredential{Label: "x", Scopes: []string{auth.ScopeAll}}, ErrInvalid},
		{"no label", NewCredential{Tenant: "acme", Scopes: []string{auth.ScopeAll}}, ErrInvalid},
		{"unknown scope", NewCredential{Tenant: "acme", Label: "x", Scopes: []string{"statements/read/all"}}, ErrInvalid},
		{"no scope", NewCredential{Tenant: "acme", Label: "x"}, ErrInvalid},
		{"key with a colon", NewCredential{Tenant: "acme", Label: "x", Key: "abc:defghij", Scopes: []string{auth.ScopeAll}}, ErrInvalid},
		{"short key", NewCredential{Tenant: "acme", Label: "x", Key: "abc", Scopes: []string{auth.ScopeAll}}, ErrInvalid},
		{"bad authority", NewCredential{Tenant: "acme", Label: "x", Scopes: []string{auth.ScopeAll}, Authority: json.RawMessage(`{"name":"anonymous"}`)}, ErrInvalid},
		{"negative rate", NewCredential{Tenant: "acme", Label: "x", Scopes: []string{auth.ScopeAll}, RateLimit: -5}, ErrInvalid},
	}
	for _, tc := range bad {
		if _, err := s.CreateCredential(ctx, tc.n); !errors.Is(err, tc.want) {
			t.Errorf("CreateCredential %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if c, _ := st.GetCredential(ctx, "totara-key-1"); c.Tenant != "beta.eu-1" {
		t.Fatalf("a refused create changed the existing credential: %+v", c)
	}

	all, err := s.ListCredentials(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("ListCredentials(all) = %+v, %v", all, err)
	}
	for _, c := range all {
		if c.Secret != "" {
			t.Fatalf("a listing shows a secret: %+v", c)
		}
	}
	acme, err := s.ListCredentials(ctx, "acme")
	if err != nil || len(acme) != 1 || acme[0].Key != moodle.Key {
		t.Fatalf("ListCredentials(acme) = %+v, %v", acme, err)
	}
	if _, err := s.ListCredentials(ctx, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ListCredentials(ghost) = %v, want ErrNotFound", err)
	}

	if c, err := s.SetDisabled(ctx, moodle.Key, true); err != nil || !c.Disabled {
		t.Fatalf("disable = %+v, %v", c, err)
	}
	if authOK(moodle.Key, moodle.Secret) {
		t.Fatal("a disabled credential authenticates")
	}
	if _, err := s.SetDisabled(ctx, moodle.Key, false); err != nil || !authOK(moodle.Key, moodle.Secret) {
		t.Fatalf("enable: %v", err)
	}
	if _, err := s.SetDisabled(ctx, "nobody-at-all", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disable unknown: %v, want ErrNotFound", err)
	}

	rotated, err := s.Rotate(ctx, moodle.Key, time.Hour)
	if err != nil || rotated.Secret == "" || rotated.Secret == moodle.Secret || rotated.PreviousSecretUntil == nil {
		t.Fatalf("rotate with grace = %+v, %v", rotated, err)
	}
	if !authOK(moodle.Key, moodle.Secret) || !authOK(moodle.Key, rotated.Secret) {
		t.Fatal("during the grace both secrets must work")
	}
	again, err := s.Rotate(ctx, moodle.Key, 0)
	if err != nil || again.PreviousSecretUntil != nil {
		t.Fatalf("rotate without grace = %+v, %v", again, err)
	}
	if authOK(moodle.Key, rotated.Secret) || !authOK(moodle.Key, again.Secret) {
		t.Fatal("after a rotation without grace only the new secret works")
	}
	if _, err := s.Rotate(ctx, moodle.Key, -time.Minute); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative grace: %v, want ErrInvalid", err)
	}
	if want := []string{moodle.Key, moodle.Key, moodle.Key, moodle.Key}; !slices.Equal(changed, want) {
		t.Fatalf("changed callback got %v, want %v (disable, enable, two rotations)", changed, want)
	}
}
