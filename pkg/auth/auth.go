package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// xAPI scopes (xAPI 1.0.3 §4.2 "OAuth Authorization Scope").
const (
	ScopeStatementsWrite    = "statements/write"
	ScopeStatementsRead     = "statements/read"
	ScopeStatementsReadMine = "statements/read/mine"
	ScopeAllRead            = "all/read"
	ScopeAll                = "all"
	ScopeDefine             = "define"
	ScopeProfile            = "profile"
	ScopeState              = "state"
)

var (
	// ErrUnauthorized means no valid credential was presented (HTTP 401).
	ErrUnauthorized = errors.New("invalid credentials")
	// ErrForbidden means the credential's scopes do not allow the call (HTTP 403).
	ErrForbidden = errors.New("credential scope does not allow this request")
)

// Principal is an authenticated caller.
type Principal struct {
	Tenant    string
	Key       string
	Label     string
	Scopes    []string
	Authority json.RawMessage
}

// Allows reports whether the principal's scopes grant scope. "all" grants
// everything; "all/read" grants every read scope.
func (p Principal) Allows(scope string) bool {
	if slices.Contains(p.Scopes, ScopeAll) || slices.Contains(p.Scopes, scope) {
		return true
	}
	switch scope {
	case ScopeStatementsRead, ScopeStatementsReadMine:
		if slices.Contains(p.Scopes, ScopeAllRead) {
			return true
		}
		return scope == ScopeStatementsReadMine && slices.Contains(p.Scopes, ScopeStatementsRead)
	}
	return false
}

// CredentialSource is where credentials live (the statement store).
type CredentialSource interface {
	GetCredential(ctx context.Context, key string) (store.Credential, error)
}

// Authenticator checks key/secret pairs.
type Authenticator struct {
	src CredentialSource
	ttl time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	p        Principal
	hash     string // the stored hash this verification was made against
	verified time.Time
}

// maxCached bounds the cache; it is cleared when full (a cheap defence
// against a flood of distinct wrong secrets, which are never cached anyway).
const maxCached = 10_000

// NewAuthenticator verifies against src. A verified pair is trusted for ttl;
// after that the credential is re-read (cheap) so that a disabled or rotated
// credential stops working within ttl, on every instance.
func NewAuthenticator(src CredentialSource, ttl time.Duration) (*Authenticator, error) {
	if src == nil {
		return nil, errors.New("authenticator needs a credential source")
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("cache ttl %v: want > 0", ttl)
	}
	return &Authenticator{src: src, ttl: ttl, cache: map[[32]byte]cached{}}, nil
}

// Authenticate returns the principal for key and secret, or ErrUnauthorized.
func (a *Authenticator) Authenticate(ctx context.Context, key, secret string) (Principal, error) {
	digest := sha256.Sum256([]byte(key + "\x00" + secret))
	now := time.Now()
	a.mu.Lock()
	c, hit := a.cache[digest]
	a.mu.Unlock()
	if hit && now.Sub(c.verified) < a.ttl {
		return c.p, nil
	}
	cred, err := a.src.GetCredential(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("read credential: %w", err)
	}
	if cred.Disabled {
		a.forget(digest)
		return Principal{}, ErrUnauthorized
	}
	// The same hash as when we verified: the secret is still right, no need
	// to pay PBKDF2 again; only scopes or authority may have changed.
	if !hit || c.hash != cred.SecretHash {
		ok, err := VerifySecret(cred.SecretHash, secret)
		if err != nil {
			return Principal{}, fmt.Errorf("credential %s: %w", key, err)
		}
		if !ok {
			a.forget(digest)
			return Principal{}, ErrUnauthorized
		}
	}
	p := Principal{Tenant: cred.Tenant, Key: cred.Key, Label: cred.Label, Scopes: cred.Scopes, Authority: cred.Authority}
	a.mu.Lock()
	if len(a.cache) >= maxCached {
		clear(a.cache)
	}
	a.cache[digest] = cached{p: p, hash: cred.SecretHash, verified: now}
	a.mu.Unlock()
	return p, nil
}

func (a *Authenticator) forget(d [32]byte) {
	a.mu.Lock()
	delete(a.cache, d)
	a.mu.Unlock()
}
