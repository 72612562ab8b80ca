package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// prepare checks a credential before it is stored and fills its times.
func (c *Credential) prepare() error {
	if c.Key == "" || c.SecretHash == "" || c.Tenant == "" {
		return errors.New("put credential: key, secret hash and tenant are required")
	}
	now := time.Now().UTC()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = now
	}
	if c.RateLimit < 0 {
		return fmt.Errorf("put credential %s: rate limit %d: want >= 0", c.Key, c.RateLimit)
	}
	if c.PreviousSecretHash == "" {
		c.PreviousUntil = time.Time{}
	}
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	return nil
}

const credentialColumns = "key, secret_hash, tenant, label, %s, authority, disabled, created_at, updated_at, previous_secret_hash, previous_until, rate_limit"

func (s *sqlDB) credentialColumns() string { return fmt.Sprintf(credentialColumns, s.d.scopesCol) }

func (s *sqlDB) PutCredential(ctx context.Context, c Credential) error {
	if err := c.prepare(); err != nil {
		return err
	}
	scopes, err := s.d.scopesArg(c.Scopes)
	if err != nil {
		return fmt.Errorf("put credential %s: %w", c.Key, err)
	}
	_, err = s.w.ExecContext(ctx, s.d.bind(`
INSERT INTO credentials (key, secret_hash, tenant, label, scopes, authority, disabled, created_at, updated_at,
    previous_secret_hash, previous_until, rate_limit)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET secret_hash = excluded.secret_hash, tenant = excluded.tenant, label = excluded.label,
    scopes = excluded.scopes, authority = excluded.authority, disabled = excluded.disabled, updated_at = excluded.updated_at,
    previous_secret_hash = excluded.previous_secret_hash, previous_until = excluded.previous_until, rate_limit = excluded.rate_limit`),
		c.Key, c.SecretHash, c.Tenant, c.Label, scopes, c.Authority, c.Disabled, s.time(c.CreatedAt), s.time(c.UpdatedAt),
		c.PreviousSecretHash, s.optTime(c.PreviousUntil), c.RateLimit)
	if s.d.foreignKeyViolation(err) {
		return fmt.Errorf("put credential %s: tenant %s: %w", c.Key, c.Tenant, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put credential %s: %w", c.Key, err)
	}
	return nil
}

func scanCredential(row rowScanner) (Credential, error) {
	var c Credential
	var scopes string
	if err := row.Scan(&c.Key, &c.SecretHash, &c.Tenant, &c.Label, &scopes, &c.Authority, &c.Disabled, timeDest{&c.CreatedAt}, timeDest{&c.UpdatedAt},
		&c.PreviousSecretHash, timeDest{&c.PreviousUntil}, &c.RateLimit); err != nil {
		return Credential{}, err
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return Credential{}, fmt.Errorf("scopes of credential %s: %w", c.Key, err)
	}
	return c, nil
}

func (s *sqlDB) GetCredential(ctx context.Context, key string) (Credential, error) {
	c, err := scanCredential(s.r.QueryRowContext(ctx, s.d.bind("SELECT "+s.credentialColumns()+" FROM credentials WHERE key = ?"), key))
	if errors.Is(err, sql.ErrNoRows) {
		return Credential{}, fmt.Errorf("credential %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Credential{}, fmt.Errorf("get credential %s: %w", key, err)
	}
	return c, nil
}

func (s *sqlDB) ListCredentials(ctx context.Context, tenant string) ([]Credential, error) {
	rows, err := s.r.QueryContext(ctx, s.d.bind("SELECT "+s.credentialColumns()+" FROM credentials WHERE tenant = ? ORDER BY key"), tenant)
	if err != nil {
		return nil, fmt.Errorf("list credentials of %s: %w", tenant, err)
	}
	out, err := collect(rows, scanCredential)
	if err != nil {
		return nil, fmt.Errorf("list credentials of %s: %w", tenant, err)
	}
	return out, nil
}
