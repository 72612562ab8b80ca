package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// Scopes lists every scope a credential may carry.
var Scopes = []string{
	ScopeStatementsWrite, ScopeStatementsRead, ScopeStatementsReadMine, ScopeAllRead,
	ScopeAll, ScopeDefine, ScopeProfile, ScopeState,
}

// ValidateScopes reports an empty list or a scope that is not an xAPI scope:
// a typo would otherwise silently grant nothing.
func ValidateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return errors.New("no scopes: give at least one of " + fmt.Sprint(Scopes))
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			return fmt.Errorf("unknown scope %q: want one of %v", s, Scopes)
		}
	}
	return nil
}

var (
	// ErrUnauthorized means no valid credential was presented (HTTP 401).
	ErrUnauthorized = errors.New("invalid credentials")
	// ErrForbidden means the credential's scopes do not allow the call (HTTP 403).
	ErrForbidden = errors.New("credential scope does not allow this request")
)

// RateLimitedError is returned by Authenticate for a valid credential that
// has used up its rate limit (HTTP 429).
type RateLimitedError struct {
	Key        string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("credential %s is over its rate limit; retry in %v", e.Key, e.RetryAfter)
}

// RetryAfterSeconds is RetryAfter for a Retry-After header: whole seconds,
// rounded up, at least 1.
func (e *RateLimitedError) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// Principal is an authenticated caller.
type Principal struct {
	Tenant    string
	Key       string
	Label     string
	Scopes    []string
	Authority json.RawMessage
	RateLimit int // requests per second on one instance, 0 = unlimited
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

// ReadsOnlyOwn reports whether the principal may read statements only
// through statements/read/mine: then every statement read must carry its
// authority.
func (p Principal) ReadsOnlyOwn() bool {
	return !p.Allows(ScopeStatementsRead) && p.Allows(ScopeStatementsReadMine)
}

// CredentialSource is where credentials live (the statement store).
type CredentialSource interface {
	GetCredential(ctx context.Context, key string) (store.Credential, error)
}

// Authenticator checks key/secret pairs and enforces per-credential rate
// limits. It is safe for concurrent use.
type Authenticator struct {
	src CredentialSource
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]cached

	limits limiter
}

type cached struct {
	p       Principal
	hash    string    // the stored hash this verification was made against
	expires time.Time // when the credential must be read again
}

// maxCached bounds the cache; it is cleared when full (a cheap defence
// against a flood of distinct wrong secrets, which are never cached anyway).
const maxCached = 10_000

// NewAuthenticator verifies against src. A verified pair is trusted for ttl;
// after that the credential is re-read (cheap: no hashing unless its secret
// changed) so that a disabled or rotated credential stops working within
// ttl on every instance, without any message between instances.
func NewAuthenticator(src CredentialSource, ttl time.Duration) (*Authenticator, error) {
	if src == nil {
		return nil, errors.New("authenticator needs a credential source")
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("cache ttl %v: want > 0", ttl)
	}
	return &Authenticator{src: src, ttl: ttl, now: time.Now, cache: map[[32]byte]cached{},
		limits: limiter{buckets: map[string]*bucket{}}}, nil
}

// Authenticate returns the principal for key and secret, ErrUnauthorized,
// or a *RateLimitedError (with the principal) when the credential is over
// its rate limit. Only the first request of a key/secret pair, and the
// first after a rotation, pays the slow hash; a cached pair costs a SHA-256
// and a map lookup, plus one credential read per ttl.
func (a *Authenticator) Authenticate(ctx context.Context, key, secret string) (Principal, error) {
	p, err := a.verify(ctx, key, secret)
	if err != nil {
		return Principal{}, err
	}
	if p.RateLimit > 0 {
		if wait := a.limits.take(p.Key, p.RateLimit, a.now()); wait > 0 {
			return p, &RateLimitedError{Key: p.Key, RetryAfter: wait}
		}
	}
	return p, nil
}

func (a *Authenticator) verify(ctx context.Context, key, secret string) (Principal, error) {
	// The digest covers the secret, so a lookup reveals nothing about a
	// stored secret however long it takes.
	digest := sha256.Sum256([]byte(key + "\x00" + secret))
	now := a.now()
	a.mu.Lock()
	c, hit := a.cache[digest]
	a.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.p, nil
	}
	cred, err := a.src.GetCredential(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		// Pay the hash anyway: an unknown key answers no faster than a
		// wrong secret, so timing does not reveal which keys exist.
		verifyDummy(secret)
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("read credential: %w", err)
	}
	if cred.Disabled {
		a.forget(digest)
		return Principal{}, ErrUnauthorized
	}
	graceOpen := cred.PreviousSecretHash != "" && now.Before(cred.PreviousUntil)
	var hash string
	switch {
	// The same hash as when we verified: the secret is still right, no
	// need to pay PBKDF2 again; only scopes or authority may have changed.
	case hit && c.hash == cred.SecretHash:
		hash = cred.SecretHash
	case hit && graceOpen && c.hash == cred.PreviousSecretHash:
		hash = cred.PreviousSecretHash
	default:
		ok, err := VerifySecret(cred.SecretHash, secret)
		if err != nil {
			return Principal{}, fmt.Errorf("credential %s: %w", key, err)
		}
		hash = cred.SecretHash
		if !ok && graceOpen {
			ok, err = VerifySecret(cred.PreviousSecretHash, secret)
			if err != nil {
				return Principal{}, fmt.Errorf("credential %s, previous secret: %w", key, err)
			}
			hash = cred.PreviousSecretHash
		}
		if !ok {
			a.forget(digest)
			return Principal{}, ErrUnauthorized
		}
	}
	expires := now.Add(a.ttl)
	if hash == cred.PreviousSecretHash && cred.PreviousUntil.Before(expires) {
		expires = cred.PreviousUntil
	}
	p := Principal{Tenant: cred.Tenant, Key: cred.Key, Label: cred.Label, Scopes: cred.Scopes,
		Authority: cred.Authority, RateLimit: cred.RateLimit}
	a.mu.Lock()
	if len(a.cache) >= maxCached {
		clear(a.cache)
	}
	a.cache[digest] = cached{p: p, hash: hash, expires: expires}
	a.mu.Unlock()
	return p, nil
}

// Forget drops every cached verification of key, so that a change made
// through this instance (disable, rotate) applies to its next request.
// Other instances notice within their cache ttl.
func (a *Authenticator) Forget(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for d, c := range a.cache {
		if c.p.Key == key {
			delete(a.cache, d)
		}
	}
}

func (a *Authenticator) forget(d [32]byte) {
	a.mu.Lock()
	delete(a.cache, d)
	a.mu.Unlock()
}

// limiter holds one token bucket per credential key. A bucket holds up to
// one second of requests, so a credential may burst to its limit and then
// proceeds at its rate.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// take spends one token of key's bucket and returns 0, or returns how long
// until a token is available.
func (l *limiter) take(key string, rate int, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := float64(rate)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: r, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(r, b.tokens+elapsed*r)
		b.last = now
	}
	// A limit lowered since the bucket filled applies at once.
	b.tokens = min(b.tokens, r)
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / r * float64(time.Second))
}
