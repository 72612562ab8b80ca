package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
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

// NewCredential is a credential as created, with its secret in clear: shown
// to the operator once and never stored.
type NewCredential struct {
	Key, Secret, Tenant string
}

// AuthorityFor is the authority Agent the LRS writes into statements sent
// with a credential: an account identified by the credential key.
func AuthorityFor(key, label string) json.RawMessage {
	a := map[string]any{
		"objectType": "Agent",
		"name":       label,
		"account":    map[string]string{"homePage": "https://streamlrs.invalid/credentials", "name": key},
	}
	b, _ := json.Marshal(a)
	return b
}

// CreateCredential stores a credential with every scope for tenant. Empty
// key or secret are generated.
func CreateCredential(ctx context.Context, s Admin, tenant, label, key, secret string, scopes []string) (NewCredential, error) {
	if key == "" {
		key = NewKey()
	}
	if secret == "" {
		secret = NewSecret()
	}
	if len(scopes) == 0 {
		scopes = []string{ScopeAll}
	}
	hash, err := HashSecret(secret)
	if err != nil {
		return NewCredential{}, err
	}
	now := time.Now().UTC()
	c := store.Credential{
		Key: key, SecretHash: hash, Tenant: tenant, Label: label, Scopes: scopes,
		Authority: AuthorityFor(key, label), CreatedAt: now, UpdatedAt: now,
	}
	if err := s.PutCredential(ctx, c); err != nil {
		return NewCredential{}, fmt.Errorf("store credential: %w", err)
	}
	return NewCredential{Key: key, Secret: secret, Tenant: tenant}, nil
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
			c, err := CreateCredential(ctx, s, existing.Tenant, existing.Label, key, secret, existing.Scopes)
			return c, true, err
		case !errors.Is(err, store.ErrNotFound):
			return NewCredential{}, false, fmt.Errorf("read bootstrap credential: %w", err)
		}
	} else if !fresh {
		return NewCredential{}, false, nil
	}
	c, err := CreateCredential(ctx, s, DefaultTenant, "bootstrap", key, secret, nil)
	return c, err == nil, err
}
