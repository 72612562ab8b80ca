package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// tenantColumns are the tenants columns every query reads, in order.
const tenantColumns = "id, name, voiding_policy, retention_seconds, created_at"

func scanTenant(row rowScanner) (Tenant, error) {
	var t Tenant
	var retention int64
	err := row.Scan(&t.ID, &t.Name, &t.VoidingPolicy, &retention, timeDest{&t.CreatedAt})
	t.Retention = time.Duration(retention) * time.Second
	return t, err
}

func (s *sqlDB) CreateTenant(ctx context.Context, t Tenant) error {
	if t.ID == "" {
		return errors.New("create tenant: empty id")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	res, err := s.w.ExecContext(ctx, s.d.bind("INSERT INTO tenants (id, name, voiding_policy, retention_seconds, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
		t.ID, t.Name, t.VoidingPolicy, int64(t.Retention/time.Second), s.time(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	} else if n == 0 {
		return fmt.Errorf("tenant %s: %w", t.ID, ErrExists)
	}
	return nil
}

func (s *sqlDB) ListTenants(ctx context.Context) ([]Tenant, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+tenantColumns+" FROM tenants ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	out, err := collect(rows, scanTenant)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

func (s *sqlDB) GetTenant(ctx context.Context, id string) (Tenant, error) {
	t, err := scanTenant(s.r.QueryRowContext(ctx, s.d.bind("SELECT "+tenantColumns+" FROM tenants WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("get tenant %s: %w", id, err)
	}
	return t, nil
}

func (s *sqlDB) SetTenantVoidingPolicy(ctx context.Context, id, policy string) (Tenant, error) {
	t, err := scanTenant(s.w.QueryRowContext(ctx, s.d.bind("UPDATE tenants SET voiding_policy = ? WHERE id = ? RETURNING "+tenantColumns), policy, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("set voiding policy of tenant %s: %w", id, err)
	}
	return t, nil
}

func (s *sqlDB) SetTenantRetention(ctx context.Context, id string, retention time.Duration) (Tenant, error) {
	if retention < 0 {
		return Tenant{}, fmt.Errorf("%w: retention %v: want 0 (for ever) or more", ErrInvalidQuery, retention)
	}
	t, err := scanTenant(s.w.QueryRowContext(ctx, s.d.bind("UPDATE tenants SET retention_seconds = ? WHERE id = ? RETURNING "+tenantColumns), int64(retention/time.Second), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("set retention of tenant %s: %w", id, err)
	}
	return t, nil
}
