package auth

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

func openStore(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lrs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBootstrapAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cred, created, err := Bootstrap(ctx, s, "", "")
	if err != nil || !created || cred.Key == "" || cred.Secret == "" {
		t.Fatalf("first bootstrap: %+v %v %v", cred, created, err)
	}
	// A second start creates nothing and shows no secret.
	again, created, err := Bootstrap(ctx, s, "", "")
	if err != nil || created || again.Secret != "" {
		t.Fatalf("second bootstrap: %+v %v %v", again, created, err)
	}
	a, err := NewAuthenticator(s, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Authenticate(ctx, cred.Key, cred.Secret)
	if err != nil || p.Tenant != DefaultTenant || !p.Allows(ScopeStatementsWrite) || len(p.Authority) == 0 {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	for _, bad := range [][2]string{{cred.Key, "wrong"}, {"nobody", cred.Secret}, {cred.Key, ""}} {
		if _, err := a.Authenticate(ctx, bad[0], bad[1]); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("authenticate %q: got %v, want ErrUnauthorized", bad, err)
		}
	}
	// Disabling takes effect once the cache entry expires.
	c, _ := s.GetCredential(ctx, cred.Key)
	c.Disabled = true
	if err := s.PutCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("disabled credential: got %v", err)
	}
}

func TestBootstrapWithGivenCredential(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if _, _, err := Bootstrap(ctx, s, "key1", ""); err == nil {
		t.Fatal("key without secret must fail")
	}
	cred, created, err := Bootstrap(ctx, s, "key1", "secret1")
	if err != nil || !created || cred.Key != "key1" || cred.Secret != "secret1" {
		t.Fatalf("bootstrap: %+v %v %v", cred, created, err)
	}
	// A changed secret in the environment replaces the stored one.
	if _, created, err := Bootstrap(ctx, s, "key1", "secret2"); err != nil || !created {
		t.Fatalf("rotate by env: %v %v", created, err)
	}
	a, _ := NewAuthenticator(s, time.Minute)
	if _, err := a.Authenticate(ctx, "key1", "secret1"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("old secret: got %v", err)
	}
	// A fresh instance: on this one the wrong secret just spent the key's
	// budget of slow verifications (secret2 is short, so PBKDF2).
	a, _ = NewAuthenticator(s, time.Minute)
	if _, err := a.Authenticate(ctx, "key1", "secret2"); err != nil {
		t.Errorf("new secret: %v", err)
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		scopes []string
		want   string
		ok     bool
	}{
		{[]string{ScopeAll}, ScopeState, true},
		{[]string{ScopeAllRead}, ScopeStatementsRead, true},
		{[]string{ScopeAllRead}, ScopeStatementsWrite, false},
		{[]string{ScopeStatementsRead}, ScopeStatementsReadMine, true},
		{[]string{ScopeStatementsReadMine}, ScopeStatementsRead, false},
		{[]string{ScopeStatementsWrite}, ScopeStatementsWrite, true},
		{[]string{ScopeStatementsWrite}, ScopeStatementsRead, false},
		{[]string{ScopeState}, ScopeProfile, false},
		{[]string{ScopeDefine}, ScopeDefine, true},
		{[]string{ScopeAll}, ScopeImport, false},
		{[]string{ScopeStatementsWrite, ScopeImport}, ScopeImport, true},
		{[]string{ScopeImport}, ScopeStatementsWrite, false},
	}
	for _, tt := range tests {
		if got := (Principal{Scopes: tt.scopes}).Allows(tt.want); got != tt.ok {
			t.Errorf("%v allows %s = %v, want %v", tt.scopes, tt.want, got, tt.ok)
		}
	}
}

func TestReadsOnlyOwn(t *testing.T) {
	tests := []struct {
		scopes []string
		want   bool
	}{
		{[]string{ScopeStatementsReadMine}, true},
		{[]string{ScopeStatementsReadMine, ScopeStatementsWrite}, true},
		{[]string{ScopeStatementsReadMine, ScopeStatementsRead}, false},
		{[]string{ScopeAllRead}, false},
		{[]string{ScopeAll}, false},
		{[]string{ScopeStatementsWrite}, false}, // may not read at all
	}
	for _, tt := range tests {
		if got := (Principal{Scopes: tt.scopes}).ReadsOnlyOwn(); got != tt.want {
			t.Errorf("%v ReadsOnlyOwn = %v, want %v", tt.scopes, got, tt.want)
		}
	}
}

func TestValidateScopes(t *testing.T) {
	tests := []struct {
		scopes []string
		ok     bool
	}{
		{[]string{ScopeStatementsWrite, ScopeStatementsReadMine}, true},
		{Scopes, true},
		{nil, false},
		{[]string{"statements/writes"}, false},
		{[]string{ScopeAll, "ALL"}, false},
	}
	for _, tt := range tests {
		if err := ValidateScopes(tt.scopes); (err == nil) != tt.ok {
			t.Errorf("ValidateScopes(%v) = %v, want ok=%v", tt.scopes, err, tt.ok)
		}
	}
}

func TestVerifySecretRejectsMalformedHashes(t *testing.T) {
	for _, h := range []string{"", "md5$1$00$00", "pbkdf2-sha256$x$00$00", "pbkdf2-sha256$1$zz$00"} {
		if _, err := VerifySecret(h, "s"); err == nil {
			t.Errorf("%q: want error", h)
		}
	}
}

// BenchmarkAuthenticate shows the cost of an auth check per request: cold
// (first request of a key/secret pair: a credential read and PBKDF2), warm
// (cache hit), revalidate (cache entry past its ttl: a credential read, no
// hash), warm-parallel (cache hits from every core), and unknown key (what a
// caller guessing keys costs the server).
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	s := openStore(b)
	cred, _, err := Bootstrap(ctx, s, "", "")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			a, _ := NewAuthenticator(s, time.Minute)
			if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		a, _ := NewAuthenticator(s, time.Minute)
		for b.Loop() {
			if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("revalidate", func(b *testing.B) {
		a, _ := NewAuthenticator(s, time.Minute)
		clk := &clock{t: time.Now()}
		a.now = clk.now
		for b.Loop() {
			clk.advance(time.Minute)
			if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm-parallel", func(b *testing.B) {
		a, _ := NewAuthenticator(s, time.Minute)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("unknown-key", func(b *testing.B) {
		a, _ := NewAuthenticator(s, time.Minute)
		for b.Loop() {
			if _, err := a.Authenticate(ctx, "nobody", cred.Secret); !errors.Is(err, ErrUnauthorized) {
				b.Fatal(err)
			}
		}
	})
}

func TestNewKeyAndSecret(t *testing.T) {
	key := regexp.MustCompile(`^[a-z2-7]{16}$`)
	seen := map[string]bool{}
	for range 200 {
		k, s := NewKey(), NewSecret()
		if !key.MatchString(k) || len(s) != 32 || seen[k] || seen[s] {
			t.Fatalf("NewKey %q, NewSecret %q: want 16 of a-z2-7 and 32 characters, never repeated", k, s)
		}
		seen[k], seen[s] = true, true
	}
}
