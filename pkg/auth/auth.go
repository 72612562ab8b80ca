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

// ScopeImport is not an xAPI scope: it lets a credential send the
// provenance of statements brought in from elsewhere (the X-LRS-Source
// header of `lrs import` and `lrs pull`: their source and original stored
// time). "all" does not grant it, so an ordinary LMS credential can never
// make its statements look imported; give it to the importing credential
// next to statements/write.
const ScopeImport = "import"

// Scopes lists every scope a credential may carry.
var Scopes = []string{
	ScopeStatementsWrite, ScopeStatementsRead, ScopeStatementsReadMine, ScopeAllRead,
	ScopeAll, ScopeDefine, ScopeProfile, ScopeState, ScopeImport,
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
// every xAPI scope; "all/read" grants every read scope; only "import"
// grants import.
func (p Principal) Allows(scope string) bool {
	if scope == ScopeImport {
		return slices.Contains(p.Scopes, ScopeImport)
	}
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

	mu       sync.Mutex
	cache    map[[32]byte]cached
	inflight map[[32]byte]*flight
	records  map[string]record

	limits limiter
	// failures throttles wrong secrets checked against slow (PBKDF2)
	// hashes: per key, and all keys together.
	failures limiter
}

type cached struct {
	p       Principal
	hash    string    // the stored hash this verification was made against
	expires time.Time // when the credential must be read again
	// staleUntil is how long the verification is still trusted while the
	// credential cannot be read (the store is down): writes go on to
	// Kafka through a store outage instead of failing with it.
	staleUntil time.Time
}

// record is a credential as read from the source, or its absence.
type record struct {
	cred  store.Credential
	found bool
	read  time.Time
}

// recordTTL is how long a read that refused a pair (unknown key, wrong
// secret) is reused to refuse the next pairs of that key that are not
// verified yet: a flood of wrong secrets or unknown keys then costs a hash
// per request and a store read per key per recordTTL, not a query per
// request (that query was most of their cost). Only a refusal is taken
// from it: a key created, or a secret rotated, through another instance
// within recordTTL after a refusal is refused until the next read.
const recordTTL = time.Second

// Stale-while-error: past its ttl, a verified pair is trusted for up to
// maxStale more while reading its credential fails, and the read is tried
// again at most every staleRetry meanwhile (not by every request). A
// credential disabled or rotated during an outage cannot be read either;
// it stops working once the store answers again.
const (
	maxStale   = 15 * time.Minute
	staleRetry = time.Second
)

// ErrUnavailable wraps a failure to read a credential that has no usable
// cached verification (HTTP 503: the client should retry).
var ErrUnavailable = errors.New("credentials cannot be checked now")

// flight is one verification in progress; requests presenting the same
// pair meanwhile wait for its result instead of paying the hash again
// (after a cold start, every first request of a busy client arrives at once).
type flight struct {
	done chan struct{}
	p    Principal
	err  error
}

// maxCached bounds the cache; it is cleared when full (a cheap defence
// against a flood of distinct wrong secrets, which are never cached anyway).
const maxCached = 10_000

// Failed slow verifications allowed per second: per key, and for all keys
// together. A PBKDF2 costs about 30 ms of a core, so wrong secrets cost at
// most a few percent of a core however fast they come.
const (
	slowFailuresPerKey = 1
	slowFailuresAll    = 4
	allKeys            = "\x00all"
)

// ThrottledError is returned by Authenticate when a key whose stored hash
// is slow had too many wrong secrets lately (HTTP 429): the pair is not
// checked at all until RetryAfter.
type ThrottledError struct {
	Key        string
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many wrong secrets for credential %s; retry in %v", e.Key, e.RetryAfter)
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1.
func (e *ThrottledError) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

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
		inflight: map[[32]byte]*flight{}, records: map[string]record{},
		limits: limiter{buckets: map[string]*bucket{}}, failures: limiter{buckets: map[string]*bucket{}}}, nil
}

// Authenticate returns the principal for key and secret, ErrUnauthorized,
// a *ThrottledError, or a *RateLimitedError (with the principal) when the
// credential is over its rate limit. Only the first request of a
// key/secret pair, and the first after a rotation, verifies the secret; a
// cached pair costs a SHA-256 and a map lookup, plus one credential read
// per ttl.
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
	if hit && now.Before(c.expires) {
		a.mu.Unlock()
		return c.p, nil
	}
	if f, ok := a.inflight[digest]; ok {
		a.mu.Unlock()
		select {
		case <-f.done:
			return f.p, f.err
		case <-ctx.Done():
			return Principal{}, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	a.inflight[digest] = f
	a.mu.Unlock()

	f.p, f.err = a.check(ctx, key, secret, digest, c, hit, now)
	a.mu.Lock()
	delete(a.inflight, digest)
	a.mu.Unlock()
	close(f.done)
	return f.p, f.err
}

// check reads the credential and verifies secret against it; c is the
// expired cache entry of the pair, if hit.
func (a *Authenticator) check(ctx context.Context, key, secret string, digest [32]byte, c cached, hit bool, now time.Time) (Principal, error) {
	// A pair never verified is first checked against a recent read of its
	// credential, which can only refuse it: a wrong secret or unknown key
	// then costs no store read. A match is confirmed on a fresh read below
	// (without hashing again), so that a disable, enable or rotation made
	// meanwhile applies.
	var verified string
	if r, ok := a.recentRecord(key, now); ok && !hit {
		if !r.found {
			verifyDummy(secret)
			return Principal{}, ErrUnauthorized
		}
		h, err := a.matching(key, secret, r.cred, now)
		if err != nil {
			return Principal{}, err
		}
		if h == "" {
			return Principal{}, ErrUnauthorized
		}
		verified = h
	}
	cred, err := a.src.GetCredential(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		a.remember(key, record{read: now})
		// Pay a hash anyway: an unknown key answers no faster than a
		// wrong secret, so timing does not reveal which keys exist.
		verifyDummy(secret)
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		if hit && now.Before(c.staleUntil) {
			c.expires = now.Add(staleRetry)
			a.mu.Lock()
			a.cache[digest] = c
			a.mu.Unlock()
			return c.p, nil
		}
		return Principal{}, fmt.Errorf("%w: read credential %s: %w", ErrUnavailable, key, err)
	}
	graceOpen := cred.PreviousSecretHash != "" && now.Before(cred.PreviousUntil)
	var hash string
	switch {
	// The same hash as when we verified: the secret is still right, no
	// need to verify again; only scopes or authority may have changed.
	case hit && c.hash == cred.SecretHash:
		hash = cred.SecretHash
	case hit && graceOpen && c.hash == cred.PreviousSecretHash:
		hash = cred.PreviousSecretHash
	case verified != "" && (verified == cred.SecretHash || graceOpen && verified == cred.PreviousSecretHash):
		hash = verified
	default:
		if hash, err = a.matching(key, secret, cred, now); err != nil {
			return Principal{}, err
		}
		if hash == "" {
			a.forget(digest)
			a.remember(key, record{cred: cred, found: true, read: now})
			return Principal{}, ErrUnauthorized
		}
	}
	// Disabled is checked after the secret, so that a disabled key costs
	// what any other key costs and its answer times the same.
	if cred.Disabled {
		a.forget(digest)
		return Principal{}, ErrUnauthorized
	}
	expires := now.Add(a.ttl)
	staleUntil := expires.Add(maxStale)
	if hash == cred.PreviousSecretHash {
		// A previous secret is never trusted past its grace period.
		if cred.PreviousUntil.Before(expires) {
			expires = cred.PreviousUntil
		}
		staleUntil = expires
	}
	p := Principal{Tenant: cred.Tenant, Key: cred.Key, Label: cred.Label, Scopes: cred.Scopes,
		Authority: cred.Authority, RateLimit: cred.RateLimit}
	a.mu.Lock()
	if len(a.cache) >= maxCached {
		clear(a.cache)
	}
	a.cache[digest] = cached{p: p, hash: hash, expires: expires, staleUntil: staleUntil}
	a.mu.Unlock()
	return p, nil
}

// recentRecord returns the read of key's credential made less than
// recordTTL ago, if any.
func (a *Authenticator) recentRecord(key string, now time.Time) (record, bool) {
	a.mu.Lock()
	r, ok := a.records[key]
	a.mu.Unlock()
	return r, ok && !now.Before(r.read) && now.Sub(r.read) < recordTTL
}

func (a *Authenticator) remember(key string, r record) {
	a.mu.Lock()
	if len(a.records) >= maxCached {
		clear(a.records)
	}
	a.records[key] = r
	a.mu.Unlock()
}

// matching returns the hash of cred that secret matches (its secret, or its
// previous one during the grace period), or "" if none does. A wrong
// secret against a slow hash spends the throttle's budget.
func (a *Authenticator) matching(key, secret string, cred store.Credential, now time.Time) (string, error) {
	graceOpen := cred.PreviousSecretHash != "" && now.Before(cred.PreviousUntil)
	slow := slowHash(cred.SecretHash) || (graceOpen && slowHash(cred.PreviousSecretHash))
	if slow {
		if err := a.mayTrySlow(key, now); err != nil {
			return "", err
		}
	}
	hash := cred.SecretHash
	ok, err := VerifySecret(cred.SecretHash, secret)
	if err != nil {
		return "", fmt.Errorf("credential %s: %w", key, err)
	}
	if !ok && graceOpen {
		hash = cred.PreviousSecretHash
		if ok, err = VerifySecret(cred.PreviousSecretHash, secret); err != nil {
			return "", fmt.Errorf("credential %s, previous secret: %w", key, err)
		}
	}
	if !ok {
		return "", nil
	}
	if slow {
		a.succeeded(key)
	}
	return hash, nil
}

// mayTrySlow spends one of the wrong-secret budgets of key and of all keys
// together before a slow verification, or refuses it while either is used
// up; a verification that succeeds gives its token back (succeeded).
// Spending first keeps concurrent wrong secrets from all passing the check
// before the first of them has failed.
func (a *Authenticator) mayTrySlow(key string, now time.Time) error {
	if wait := a.failures.takeAll(now, key, allKeys); wait > 0 {
		return &ThrottledError{Key: key, RetryAfter: wait}
	}
	return nil
}

func (a *Authenticator) succeeded(key string) { a.failures.refund(key, allKeys) }

// Forget drops every cached verification of key, so that a change made
// through this instance (disable, rotate) applies to its next request.
// Other instances notice within their cache ttl.
func (a *Authenticator) Forget(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.records, key)
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
	return l.fill(key, rate, now, true)
}

// takeAll spends one token of the wrong-secret buckets of key and of all
// keys, or none and returns how long until both have one.
func (l *limiter) takeAll(now time.Time, key, all string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) >= maxCached {
		clear(l.buckets) // a flood of distinct keys must not grow the map without bound
	}
	wait := max(l.fill(key, slowFailuresPerKey, now, false), l.fill(all, slowFailuresAll, now, false))
	if wait > 0 {
		return wait
	}
	l.fill(key, slowFailuresPerKey, now, true)
	l.fill(all, slowFailuresAll, now, true)
	return 0
}

// refund gives back the tokens takeAll spent.
func (l *limiter) refund(key, all string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, rate := range map[string]int{key: slowFailuresPerKey, all: slowFailuresAll} {
		if b, ok := l.buckets[k]; ok {
			b.tokens = min(float64(rate), b.tokens+1)
		}
	}
}

// fill refills key's bucket to now and, if spend, spends a token when one
// is there; it returns how long until a token is available (0: there is).
func (l *limiter) fill(key string, rate int, now time.Time, spend bool) time.Duration {
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
		if spend {
			b.tokens--
		}
		return 0
	}
	return time.Duration((1 - b.tokens) / r * float64(time.Second))
}
