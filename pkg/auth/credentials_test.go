package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// countingSource counts credential reads, to tell a cache hit from a re-read.
type countingSource struct {
	CredentialSource
	reads atomic.Int64
}

func (c *countingSource) GetCredential(ctx context.Context, key string) (store.Credential, error) {
	c.reads.Add(1)
	return c.CredentialSource.GetCredential(ctx, key)
}

// clock is a settable time source shared by the authenticators of a test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestAuthenticator(t *testing.T, src CredentialSource, ttl time.Duration, clk *clock) *Authenticator {
	t.Helper()
	a, err := NewAuthenticator(src, ttl)
	if err != nil {
		t.Fatal(err)
	}
	a.now = clk.now
	return a
}

// tenantWithCredential returns a store holding tenant "acme" and one
// credential with spec's fields.
func tenantWithCredential(t *testing.T, spec CredentialSpec) (store.Store, NewCredential) {
	t.Helper()
	s := openStore(t)
	if err := s.CreateTenant(context.Background(), store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	spec.Tenant = "acme"
	if spec.Scopes == nil {
		spec.Scopes = []string{ScopeStatementsWrite}
	}
	cred, err := CreateCredential(context.Background(), s, spec)
	if err != nil {
		t.Fatal(err)
	}
	return s, cred
}

func wantAuth(t *testing.T, a *Authenticator, key, secret string, ok bool, what string) {
	t.Helper()
	_, err := a.Authenticate(context.Background(), key, secret)
	switch {
	case ok && err != nil:
		t.Fatalf("%s: %v, want accepted", what, err)
	case !ok && !errors.Is(err, ErrUnauthorized):
		t.Fatalf("%s: %v, want ErrUnauthorized", what, err)
	}
}

// TestChangesReachEveryInstance: two API instances share one store. A
// change made through one (which forgets its cache at once) reaches the
// other when its cache entry expires, without any message between them;
// before that, a warm request does not even read the store.
func TestChangesReachEveryInstance(t *testing.T) {
	ctx := context.Background()
	s, cred := tenantWithCredential(t, CredentialSpec{Label: "Moodle EU-West"})
	src := &countingSource{CredentialSource: s}
	clk := &clock{t: time.Now()}
	const ttl = 5 * time.Second
	local := newTestAuthenticator(t, src, ttl, clk)
	remote := newTestAuthenticator(t, src, ttl, clk)
	wantAuth(t, local, cred.Key, cred.Secret, true, "local, cold")
	wantAuth(t, remote, cred.Key, cred.Secret, true, "remote, cold")
	before := src.reads.Load()
	for range 100 {
		wantAuth(t, remote, cred.Key, cred.Secret, true, "remote, warm")
	}
	if n := src.reads.Load() - before; n != 0 {
		t.Fatalf("100 warm requests read the store %d times, want 0", n)
	}

	if _, err := SetDisabled(ctx, s, cred.Key, true); err != nil {
		t.Fatal(err)
	}
	local.Forget(cred.Key)
	wantAuth(t, local, cred.Key, cred.Secret, false, "local, right after disable")
	clk.advance(ttl - time.Millisecond)
	wantAuth(t, remote, cred.Key, cred.Secret, true, "remote, within ttl of the disable")
	clk.advance(time.Millisecond)
	wantAuth(t, remote, cred.Key, cred.Secret, false, "remote, ttl after the disable")

	if _, err := SetDisabled(ctx, s, cred.Key, false); err != nil {
		t.Fatal(err)
	}
	wantAuth(t, local, cred.Key, cred.Secret, true, "local, re-enabled")
	wantAuth(t, remote, cred.Key, cred.Secret, true, "remote, re-enabled")

	// Rotation without grace: the old secret stops everywhere within ttl.
	rotated, err := RotateCredential(ctx, s, cred.Key, 0)
	if err != nil || rotated.Secret == "" || rotated.Secret == cred.Secret || rotated.Key != cred.Key {
		t.Fatalf("rotate = %+v, %v", rotated, err)
	}
	wantAuth(t, remote, cred.Key, cred.Secret, true, "remote, old secret within ttl")
	wantAuth(t, remote, cred.Key, rotated.Secret, true, "remote, new secret")
	clk.advance(ttl)
	wantAuth(t, remote, cred.Key, cred.Secret, false, "remote, old secret after ttl")
	wantAuth(t, remote, cred.Key, rotated.Secret, true, "remote, new secret after ttl")
}

// TestRotateWithGrace: both secrets work until the grace ends, whatever the
// cache ttl, and only the new one after.
func TestRotateWithGrace(t *testing.T) {
	ctx := context.Background()
	s, cred := tenantWithCredential(t, CredentialSpec{})
	clk := &clock{t: time.Now()}
	a := newTestAuthenticator(t, s, time.Hour, clk) // a ttl longer than the grace
	wantAuth(t, a, cred.Key, cred.Secret, true, "before rotation")
	rotated, err := RotateCredential(ctx, s, cred.Key, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := s.GetCredential(ctx, cred.Key)
	if stored.PreviousSecretHash == "" || stored.PreviousUntil.IsZero() {
		t.Fatalf("rotation with grace kept no previous secret: %+v", stored)
	}
	a.Forget(cred.Key)
	wantAuth(t, a, cred.Key, cred.Secret, true, "old secret in grace")
	wantAuth(t, a, cred.Key, rotated.Secret, true, "new secret in grace")
	// The real clock decided PreviousUntil: move past it.
	clk.t = stored.PreviousUntil.Add(time.Millisecond)
	wantAuth(t, a, cred.Key, cred.Secret, false, "old secret after grace (was cached)")
	wantAuth(t, a, cred.Key, rotated.Secret, true, "new secret after grace")

	// A second rotation without grace ends the previous secret too.
	again, err := RotateCredential(ctx, s, cred.Key, 0)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ = s.GetCredential(ctx, cred.Key)
	if stored.PreviousSecretHash != "" {
		t.Fatalf("rotation without grace kept a previous secret")
	}
	a.Forget(cred.Key)
	wantAuth(t, a, cred.Key, rotated.Secret, false, "secret replaced without grace")
	wantAuth(t, a, cred.Key, again.Secret, true, "latest secret")
	if _, err := RotateCredential(ctx, s, "nobody", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotate unknown key: %v, want ErrNotFound", err)
	}
	if _, err := RotateCredential(ctx, s, cred.Key, -time.Second); err == nil {
		t.Fatal("rotate accepted a negative grace")
	}
}

func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	s, limited := tenantWithCredential(t, CredentialSpec{RateLimit: 2})
	free, err := CreateCredential(ctx, s, CredentialSpec{Tenant: "acme", Scopes: []string{ScopeAll}})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	a := newTestAuthenticator(t, s, time.Hour, clk)
	for i := range 2 {
		wantAuth(t, a, limited.Key, limited.Secret, true, "within the burst "+string(rune('1'+i)))
	}
	p, err := a.Authenticate(ctx, limited.Key, limited.Secret)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || p.Key != limited.Key {
		t.Fatalf("third request in the same instant: %+v, %v; want a RateLimitedError with the principal", p, err)
	}
	if rl.RetryAfter != 500*time.Millisecond || rl.RetryAfterSeconds() != 1 {
		t.Fatalf("retry after %v (%ds), want 500ms (1s)", rl.RetryAfter, rl.RetryAfterSeconds())
	}
	// Another credential has its own budget, and an unlimited one none.
	for range 50 {
		wantAuth(t, a, free.Key, free.Secret, true, "unlimited credential")
	}
	clk.advance(500 * time.Millisecond)
	wantAuth(t, a, limited.Key, limited.Secret, true, "after the wait")
	_, err = a.Authenticate(ctx, limited.Key, limited.Secret)
	if !errors.As(err, &rl) {
		t.Fatalf("again without waiting: %v, want RateLimitedError", err)
	}
	// Wrong secrets are refused before they touch the budget.
	wantAuth(t, a, limited.Key, "wrong", false, "wrong secret")
}

func TestLimiterRefill(t *testing.T) {
	var l limiter
	l.buckets = map[string]*bucket{}
	t0 := time.Now()
	tests := []struct {
		at   time.Duration
		rate int
		wait time.Duration
	}{
		{0, 4, 0}, {0, 4, 0}, {0, 4, 0}, {0, 4, 0},
		{0, 4, 250 * time.Millisecond},
		{100 * time.Millisecond, 4, 150 * time.Millisecond},
		{250 * time.Millisecond, 4, 0},
		{10 * time.Second, 4, 0}, // refilled to the burst, not beyond
		{10 * time.Second, 1, 0}, // a lowered limit caps the bucket at once
		{10 * time.Second, 1, time.Second},
	}
	for i, tt := range tests {
		if got := l.take("k", tt.rate, t0.Add(tt.at)); got.Round(time.Millisecond) != tt.wait {
			t.Errorf("step %d: take at %v = %v, want %v", i, tt.at, got, tt.wait)
		}
	}
}

func TestCreateCredential(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if err := s.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	oauth := json.RawMessage(`{"objectType":"Group","member":[{"account":{"homePage":"https://lms.example.com","name":"consumer"}},{"mbox":"mailto:u@example.com"}]}`)
	tests := []struct {
		name string
		spec CredentialSpec
		ok   bool
	}{
		{"defaults", CredentialSpec{Tenant: "acme", Label: "Moodle EU-West", Scopes: []string{ScopeStatementsWrite}}, true},
		{"agent authority", CredentialSpec{Tenant: "acme", Scopes: []string{ScopeAll}, Authority: json.RawMessage(`{"objectType":"Agent","mbox":"mailto:lms@example.com"}`)}, true},
		{"OAuth group authority", CredentialSpec{Tenant: "acme", Scopes: []string{ScopeAll}, Authority: oauth}, true},
		{"authority without identifier", CredentialSpec{Tenant: "acme", Scopes: []string{ScopeAll}, Authority: json.RawMessage(`{"name":"LMS"}`)}, false},
		{"group authority of three", CredentialSpec{Tenant: "acme", Scopes: []string{ScopeAll}, Authority: json.RawMessage(
			`{"objectType":"Group","member":[{"mbox":"mailto:a@x.com"},{"mbox":"mailto:b@x.com"},{"mbox":"mailto:c@x.com"}]}`)}, false},
		{"authority not JSON", CredentialSpec{Tenant: "acme", Scopes: []string{ScopeAll}, Authority: json.RawMessage(`{`)}, false},
		{"unknown scope", CredentialSpec{Tenant: "acme", Scopes: []string{"statements/delete"}}, false},
		{"no scope", CredentialSpec{Tenant: "acme"}, false},
		{"no tenant", CredentialSpec{Scopes: []string{ScopeAll}}, false},
		{"missing tenant", CredentialSpec{Tenant: "ghost", Scopes: []string{ScopeAll}}, false},
		{"negative rate limit", CredentialSpec{Tenant: "acme", Scopes: []string{ScopeAll}, RateLimit: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := CreateCredential(ctx, s, tt.spec)
			if (err == nil) != tt.ok {
				t.Fatalf("CreateCredential = %+v, %v; want ok=%v", nc, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			stored, err := s.GetCredential(ctx, nc.Key)
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := VerifySecret(stored.SecretHash, nc.Secret); !ok || stored.SecretHash == nc.Secret {
				t.Fatal("the stored hash does not verify the returned secret, or is the secret")
			}
			want := tt.spec.Authority
			if len(want) == 0 {
				want = AuthorityFor(nc.Key, tt.spec.Label)
			}
			if string(stored.Authority) != string(want) || stored.Label != tt.spec.Label || stored.Tenant != "acme" {
				t.Fatalf("stored %+v", stored)
			}
		})
	}
}

// TestConcurrentUse: requests, Forget and a rotation at once (run with
// -race); every request gets a definite answer.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s, cred := tenantWithCredential(t, CredentialSpec{RateLimit: 1000})
	a, err := NewAuthenticator(s, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				_, err := a.Authenticate(ctx, cred.Key, cred.Secret)
				var rl *RateLimitedError
				if err != nil && !errors.As(err, &rl) {
					bad.Add(1)
				}
				a.Forget("someone-else")
			}
		}()
	}
	if _, err := RotateCredential(ctx, s, cred.Key, time.Hour); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d requests with the old secret failed during a rotation with grace", n)
	}
}

// TestRefusalsReuseARecentRead: a flood of wrong secrets and unknown keys
// reads the store once per key per recordTTL, not once per request, and
// the right secret arriving in between is still accepted at once, on a
// fresh read (so that a disable made meanwhile applies).
func TestRefusalsReuseARecentRead(t *testing.T) {
	ctx := context.Background()
	s, cred := tenantWithCredential(t, CredentialSpec{Label: "Moodle EU-West"})
	src := &countingSource{CredentialSource: s}
	clk := &clock{t: time.Now()}
	a := newTestAuthenticator(t, src, time.Minute, clk)

	for i := range 100 {
		wantAuth(t, a, cred.Key, fmt.Sprintf("wrong-%d", i), false, "wrong secret")
		wantAuth(t, a, "no-such-key", cred.Secret, false, "unknown key")
	}
	if n := src.reads.Load(); n != 2 {
		t.Fatalf("200 refusals read the store %d times, want 2 (one per key)", n)
	}
	clk.advance(recordTTL)
	wantAuth(t, a, cred.Key, "wrong-again", false, "wrong secret, a second later")
	if n := src.reads.Load(); n != 3 {
		t.Fatalf("a refusal recordTTL later read the store %d times in all, want 3", n)
	}

	if _, err := SetDisabled(ctx, s, cred.Key, true); err != nil {
		t.Fatal(err)
	}
	wantAuth(t, a, cred.Key, cred.Secret, false, "right secret of a credential disabled after the last read")
	if _, err := SetDisabled(ctx, s, cred.Key, false); err != nil {
		t.Fatal(err)
	}
	wantAuth(t, a, cred.Key, cred.Secret, true, "right secret, enabled again")
}
