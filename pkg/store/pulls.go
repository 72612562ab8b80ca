package store

import (
	"context"
	"fmt"
	"time"
)

// PullSource is another LRS a tenant pulls statements from: its xAPI base
// URL, a credential of it that reads all its statements, the xAPI version
// to speak, how often to pull (0: only when asked), and where the first
// pull starts (zero: from the beginning).
type PullSource struct {
	Tenant, Name         string
	Endpoint             string
	Key, Secret, Version string
	Interval             time.Duration
	Since                time.Time
	CreatedAt, UpdatedAt time.Time
}

func (s *sqlDB) PutPullSource(ctx context.Context, p PullSource) error {
	_, err := s.w.ExecContext(ctx, s.d.bind(`
INSERT INTO pull_sources (tenant, name, endpoint, key, secret, version, interval_ms, since, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, name) DO UPDATE SET endpoint = excluded.endpoint, key = excluded.key, secret = excluded.secret,
    version = excluded.version, interval_ms = excluded.interval_ms, since = excluded.since, updated_at = excluded.updated_at`),
		p.Tenant, p.Name, p.Endpoint, p.Key, p.Secret, p.Version, p.Interval.Milliseconds(), s.optTime(p.Since),
		s.time(p.CreatedAt), s.time(p.UpdatedAt))
	if s.d.foreignKeyViolation(err) {
		return fmt.Errorf("put pull source %s: tenant %s: %w", p.Name, p.Tenant, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put pull source %s: %w", p.Name, err)
	}
	return nil
}

func (s *sqlDB) ListPullSources(ctx context.Context, tenant string) ([]PullSource, error) {
	rows, err := s.r.QueryContext(ctx, s.d.bind(`SELECT tenant, name, endpoint, key, secret, version, interval_ms, since, created_at, updated_at
FROM pull_sources WHERE tenant = ? ORDER BY name`), tenant)
	if err != nil {
		return nil, fmt.Errorf("list pull sources: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (PullSource, error) {
		var p PullSource
		var ms int64
		err := r.Scan(&p.Tenant, &p.Name, &p.Endpoint, &p.Key, &p.Secret, &p.Version, &ms, timeDest{&p.Since},
			timeDest{&p.CreatedAt}, timeDest{&p.UpdatedAt})
		p.Interval = time.Duration(ms) * time.Millisecond
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list pull sources: %w", err)
	}
	return out, nil
}

func (s *sqlDB) DeletePullSource(ctx context.Context, tenant, name string) error {
	r, err := s.w.ExecContext(ctx, s.d.bind("DELETE FROM pull_sources WHERE tenant = ? AND name = ?"), tenant, name)
	if err != nil {
		return fmt.Errorf("delete pull source %s: %w", name, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("delete pull source %s: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("pull source %s of tenant %s: %w", name, tenant, ErrNotFound)
	}
	return nil
}
