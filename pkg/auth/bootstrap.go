package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// DefaultTenant is the tenant a fresh installation starts with.
const DefaultTenant = "default"

// Admin creates tenants and credentials in the store.
type Admin interface {
	CredentialSource
	CreateTenant(ctx context.Context, t store.Tenant) error
	ListTenants(ctx context.Context) ([]store.Tenant, error)
	PutCredential(ctx context.Context, c store.Credential) error
}

// NewCredential is a credential as created or rotated, with its secret in
// clear: shown to the operator once and never stored.
type NewCredential struct {
	Key, Secret, Tenant string
}

// AuthorityFor is the authority Agent the LRS writes into statements sent
// with a credential that has no authority of its own: an account identified
// by the credential key.
func AuthorityFor(key, label string) json.RawMessage {
	a := map[string]any{
		"objectType": "Agent",
		"name":       label,
		"account":    map[string]string{"homePage": "https://streamlrs.invalid/credentials", "name": key},
	}
	b, _ := json.Marshal(a)
	return b
}

// authorityProbe is a valid statement into which a candidate authority is
// put, so that it is checked by the very rules applied to statements.
const authorityProbe = `{"actor":{"mbox":"mailto:probe@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},` +
	`"object":{"id":"http://example.com/probe"},"authority":`

// ValidateAuthority reports why authority cannot be a statement's authority
// in either xAPI version: it must be an identified Agent, or an anonymous
// Group of exactly two Agents (an OAuth consumer and user).
func ValidateAuthority(authority json.RawMessage) error {
	if !json.Valid(authority) {
		return errors.New("authority is not valid JSON")
	}
	body := append([]byte(authorityProbe), authority...)
	body = append(body, '}')
	for _, v := range []xapi.Version{xapi.V1_0_3, xapi.V2_0_0} {
		_, err := xapi.PrepareStatements(body, v, xapi.Assign{Stored: time.Now(), NewID: func() string { return "00000000-0000-4000-8000-000000000000" }})
		if err != nil {
			return fmt.Errorf("authority (xAPI %s): %w", v, err)
		}
	}
	return nil
}

// CredentialSpec describes a credential to create.
type CredentialSpec struct {
	Tenant, Label string
	// Key and Secret are generated when empty.
	Key, Secret string
	Scopes      []string
	// Authority is the Agent or Group set on the statements the credential
	// sends; empty means AuthorityFor(key, label).
	Authority json.RawMessage
	RateLimit int // requests per second per instance, 0 = unlimited
}

// CreateCredential validates spec and stores it, replacing a credential of
// the same key (Bootstrap relies on that; callers that must not replace
// check first). The secret is returned in clear, once.
func CreateCredential(ctx context.Context, s Admin, spec CredentialSpec) (NewCredential, error) {
	if spec.Tenant == "" {
		return NewCredential{}, errors.New("create credential: no tenant")
	}
	if err := ValidateScopes(spec.Scopes); err != nil {
		return NewCredential{}, fmt.Errorf("create credential: %w", err)
	}
	if spec.RateLimit < 0 {
		return NewCredential{}, fmt.Errorf("create credential: rate limit %d: want >= 0", spec.RateLimit)
	}
	if spec.Key == "" {
		spec.Key = NewKey()
	}
	if spec.Secret == "" {
		spec.Secret = NewSecret()
	}
	if len(spec.Authority) == 0 {
		spec.Authority = AuthorityFor(spec.Key, spec.Label)
	} else if err := ValidateAuthority(spec.Authority); err != nil {
		return NewCredential{}, fmt.Errorf("create credential: %w", err)
	}
	hash, err := HashSecret(spec.Secret)
	if err != nil {
		return NewCredential{}, err
	}
	now := time.Now().UTC()
	c := store.Credential{
		Key: spec.Key, SecretHash: hash, Tenant: spec.Tenant, Label: spec.Label, Scopes: spec.Scopes,
		Authority: spec.Authority, RateLimit: spec.RateLimit, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.PutCredential(ctx, c); err != nil {
		return NewCredential{}, fmt.Errorf("store credential: %w", err)
	}
	return NewCredential{Key: spec.Key, Secret: spec.Secret, Tenant: spec.Tenant}, nil
}

// RotateCredential gives key a new secret and returns it, once. For grace
// the old secret keeps working too, so that the client can switch without
// a failed request; grace 0 ends the old secret now (a leaked secret).
// Instances that cached the old secret notice within their cache ttl.
func RotateCredential(ctx context.Context, s Admin, key string, grace time.Duration) (NewCredential, error) {
	if grace < 0 {
		return NewCredential{}, fmt.Errorf("rotate credential: grace %v: want >= 0", grace)
	}
	c, err := s.GetCredential(ctx, key)
	if err != nil {
		return NewCredential{}, fmt.Errorf("rotate credential: %w", err)
	}
	secret := NewSecret()
	hash, err := HashSecret(secret)
	if err != nil {
		return NewCredential{}, err
	}
	now := time.Now().UTC()
	c.PreviousSecretHash, c.PreviousUntil = "", time.Time{}
	if grace > 0 {
		c.PreviousSecretHash, c.PreviousUntil = c.SecretHash, now.Add(grace)
	}
	c.SecretHash, c.UpdatedAt = hash, now
	if err := s.PutCredential(ctx, c); err != nil {
		return NewCredential{}, fmt.Errorf("rotate credential: %w", err)
	}
	return NewCredential{Key: key, Secret: secret, Tenant: c.Tenant}, nil
}

// SetDisabled disables or re-enables key and returns the credential as
// stored. Instances notice within their cache ttl.
func SetDisabled(ctx context.Context, s Admin, key string, disabled bool) (store.Credential, error) {
	c, err := s.GetCredential(ctx, key)
	if err != nil {
		return store.Credential{}, fmt.Errorf("set disabled: %w", err)
	}
	c.Disabled, c.UpdatedAt = disabled, time.Now().UTC()
	if err := s.PutCredential(ctx, c); err != nil {
		return store.Credential{}, fmt.Errorf("set disabled: %w", err)
	}
	return c, nil
}

// Bootstrap prepares a fresh installation: it creates the default tenant and
// one credential when the store has no tenant yet, and returns the new
// credential (created=true) so the caller can show it once. When key and
// secret are given they are used, and also applied to an existing store (so
// that LRS_BOOTSTRAP_KEY/SECRET always work, e.g. in CI and compose files).
func Bootstrap(ctx context.Context, s Admin, key, secret string) (cred NewCredential, created bool, err error) {
	if (key == "") != (secret == "") {
		return NewCredential{}, false, errors.New("bootstrap key and secret must be set together")
	}
	tenants, err := s.ListTenants(ctx)
	if err != nil {
		return NewCredential{}, false, fmt.Errorf("list tenants: %w", err)
	}
	fresh := len(tenants) == 0
	if fresh {
		err := s.CreateTenant(ctx, store.Tenant{ID: DefaultTenant, Name: "Default tenant", CreatedAt: time.Now().UTC()})
		if err != nil && !errors.Is(err, store.ErrExists) {
			return NewCredential{}, false, fmt.Errorf("create default tenant: %w", err)
		}
	}
	if key != "" {
		existing, err := s.GetCredential(ctx, key)
		switch {
		case err == nil:
			if ok, verr := VerifySecret(existing.SecretHash, secret); verr == nil && ok && !existing.Disabled {
				return NewCredential{Key: key, Tenant: existing.Tenant}, false, nil
			}
			c, err := CreateCredential(ctx, s, CredentialSpec{Tenant: existing.Tenant, Label: existing.Label, Key: key, Secret: secret,
				Scopes: existing.Scopes, Authority: existing.Authority, RateLimit: existing.RateLimit})
			return c, true, err
		case !errors.Is(err, store.ErrNotFound):
			return NewCredential{}, false, fmt.Errorf("read bootstrap credential: %w", err)
		}
	} else if !fresh {
		return NewCredential{}, false, nil
	}
	c, err := CreateCredential(ctx, s, CredentialSpec{Tenant: DefaultTenant, Label: "bootstrap", Key: key, Secret: secret, Scopes: []string{ScopeAll}})
	return c, err == nil, err
}
