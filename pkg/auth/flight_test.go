package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentFirstRequestsShareOneVerification: after a cold start the
// first requests of a client arrive together; they wait for one
// verification instead of each paying the hash (issue 13, item 6).
func TestConcurrentFirstRequestsShareOneVerification(t *testing.T) {
	s, cred := tenantWithCredential(t, CredentialSpec{Secret: "short chosen secret"}) // PBKDF2: slow
	src := &countingSource{CredentialSource: s}
	a := newTestAuthenticator(t, src, time.Minute, &clock{t: time.Now()})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Authenticate(context.Background(), cred.Key, cred.Secret)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent first request: %v", err)
		}
	}
	if n := src.reads.Load(); n != 1 {
		t.Fatalf("8 concurrent first requests read and verified the credential %d times, want once", n)
	}
}

// TestSecretsHashFastAndWrongSecretsAreThrottled: a generated secret is
// stored under the fast hash; a short, chosen one under PBKDF2, whose wrong
// secrets are throttled per key while a cached pair keeps working.
func TestSecretsHashFastAndWrongSecretsAreThrottled(t *testing.T) {
	h, err := HashSecret(NewSecret())
	if err != nil || !strings.HasPrefix(h, "sha256$") {
		t.Fatalf("generated secret hashed as %q, %v: want the fast sha256 form", h, err)
	}
	s, cred := tenantWithCredential(t, CredentialSpec{Secret: "short chosen secret"})
	clk := &clock{t: time.Now()}
	a := newTestAuthenticator(t, s, time.Hour, clk)
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); err != nil {
		t.Fatal(err)
	}
	var throttled *ThrottledError
	for i := range 3 {
		_, err := a.Authenticate(ctx, cred.Key, "wrong")
		if i == 0 && !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("first wrong secret: %v, want ErrUnauthorized", err)
		}
		if i > 0 && !errors.As(err, &throttled) {
			t.Fatalf("wrong secret %d within a second: %v, want *ThrottledError", i+1, err)
		}
	}
	if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); err != nil {
		t.Fatalf("the cached right pair while throttled: %v", err)
	}
	clk.advance(1100 * time.Millisecond)
	if _, err := a.Authenticate(ctx, cred.Key, "wrong"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("a wrong secret after the throttle: %v, want ErrUnauthorized", err)
	}

	fs, fcred := tenantWithCredential(t, CredentialSpec{})
	fa := newTestAuthenticator(t, fs, time.Hour, clk)
	for range 50 {
		if _, err := fa.Authenticate(ctx, fcred.Key, "wrong"); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("wrong secret of a fast-hashed credential: %v, want ErrUnauthorized (never throttled: it costs a SHA-256)", err)
		}
	}
}
