package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// failingSource fails every read while down, as a store outage does.
type failingSource struct {
	CredentialSource
	down  atomic.Bool
	reads atomic.Int64
}

func (f *failingSource) GetCredential(ctx context.Context, key string) (store.Credential, error) {
	f.reads.Add(1)
	if f.down.Load() {
		return store.Credential{}, errors.New("connection refused")
	}
	return f.CredentialSource.GetCredential(ctx, key)
}

// TestVerifiedPairsOutliveAStoreOutage: while the credential store cannot be
// read, a pair verified before keeps working past its ttl (bounded by
// maxStale, the store asked again at most every staleRetry), so writes go
// on to Kafka; a pair never verified gets ErrUnavailable (503), not
// ErrUnauthorized.
func TestVerifiedPairsOutliveAStoreOutage(t *testing.T) {
	s, cred := tenantWithCredential(t, CredentialSpec{})
	src := &failingSource{CredentialSource: s}
	clk := &clock{t: time.Now()}
	a := newTestAuthenticator(t, src, time.Minute, clk)
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); err != nil {
		t.Fatal(err)
	}
	src.down.Store(true)
	clk.advance(2 * time.Minute) // past the ttl
	reads := src.reads.Load()
	for i := range 10 {
		p, err := a.Authenticate(ctx, cred.Key, cred.Secret)
		if err != nil || p.Key != cred.Key {
			t.Fatalf("request %d during the outage, past the ttl: %v, %+v: want the cached principal", i, p, err)
		}
	}
	if n := src.reads.Load() - reads; n != 1 {
		t.Fatalf("10 requests within a second of the outage read the store %d times, want once", n)
	}
	if _, err := a.Authenticate(ctx, cred.Key, "wrong"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("an unverified pair during the outage: %v, want ErrUnavailable", err)
	}
	clk.advance(maxStale)
	if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("past maxStale during the outage: %v, want ErrUnavailable", err)
	}
	src.down.Store(false)
	if _, err := a.Authenticate(ctx, cred.Key, cred.Secret); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}
