package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Provenance is where an imported statement came from (`lrs import`,
// `lrs pull`): its source, a file:// URL or the source LRS's xAPI URL, and
// the stored time it had there (zero when it had none).
type Provenance struct {
	Source         string
	OriginalStored time.Time
}

// Imports is what bringing statements in from elsewhere keeps: each
// imported statement's provenance, each pull's position and the sources
// each tenant pulls from.
type Imports interface {
	// StatementProvenance returns the provenance ApplyStatements kept for a
	// statement; ErrNotFound if it was not imported (or is not stored).
	StatementProvenance(ctx context.Context, tenant, id string) (Provenance, error)
	// PullCursor returns how far the pull from source into tenant got: every
	// statement the source stored up to it was delivered (zero: never).
	PullCursor(ctx context.Context, tenant, source string) (time.Time, error)
	// AdvancePullCursor moves that position to since; it never moves back,
	// so a stale puller cannot undo a newer one's progress.
	AdvancePullCursor(ctx context.Context, tenant, source string, since time.Time) error
	// PutPullSource inserts or replaces a tenant's source by name; the
	// tenant must exist (ErrNotFound).
	PutPullSource(ctx context.Context, p PullSource) error
	// ListPullSources returns the tenant's sources by name.
	ListPullSources(ctx context.Context, tenant string) ([]PullSource, error)
	// DeletePullSource removes one; ErrNotFound if there is none. Its
	// cursor stays, so adding it again resumes.
	DeletePullSource(ctx context.Context, tenant, name string) error
}

func (s *sqlDB) StatementProvenance(ctx context.Context, tenant, id string) (Provenance, error) {
	var p Provenance
	err := s.r.QueryRowContext(ctx, s.d.bind("SELECT source, original_stored FROM statement_provenance WHERE tenant = ? AND id = ?"),
		tenant, id).Scan(&p.Source, timeDest{&p.OriginalStored})
	if errors.Is(err, sql.ErrNoRows) {
		return Provenance{}, ErrNotFound
	}
	if err != nil {
		return Provenance{}, fmt.Errorf("statement provenance: %w", err)
	}
	return p, nil
}

func (s *sqlDB) PullCursor(ctx context.Context, tenant, source string) (time.Time, error) {
	var t time.Time
	err := s.r.QueryRowContext(ctx, s.d.bind("SELECT since FROM pull_cursors WHERE tenant = ? AND source = ?"),
		tenant, source).Scan(timeDest{&t})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("pull cursor: %w", err)
	}
	return t, nil
}

func (s *sqlDB) AdvancePullCursor(ctx context.Context, tenant, source string, since time.Time) error {
	if tenant == "" || source == "" || since.IsZero() {
		return errors.New("advance pull cursor: tenant, source and time are required")
	}
	// CASE rather than GREATEST/max, which the two dialects name apart.
	_, err := s.w.ExecContext(ctx, s.d.bind(`INSERT INTO pull_cursors (tenant, source, since, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (tenant, source) DO UPDATE SET
    since = CASE WHEN excluded.since > pull_cursors.since THEN excluded.since ELSE pull_cursors.since END,
    updated_at = excluded.updated_at`), tenant, source, s.time(since), s.time(time.Now()))
	if err != nil {
		return fmt.Errorf("advance pull cursor: %w", err)
	}
	return nil
}

// imported returns the statements of inserted that carry provenance.
func imported(inserted []planned) []planned {
	var out []planned
	for _, p := range inserted {
		if p.Provenance.Source != "" {
			out = append(out, p)
		}
	}
	return out
}

// pgInsertProvenance keeps the provenance of the statements just inserted,
// in their transaction.
func pgInsertProvenance(ctx context.Context, tx pgx.Tx, inserted []planned) error {
	ps := imported(inserted)
	if len(ps) == 0 {
		return nil
	}
	tenants, ids, sources, stored := make([]string, len(ps)), make([]string, len(ps)), make([]string, len(ps)), make([]*time.Time, len(ps))
	for i, p := range ps {
		tenants[i], ids[i], sources[i] = p.Tenant, p.ID, p.Provenance.Source
		if t := p.Provenance.OriginalStored; !t.IsZero() {
			stored[i] = &t
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO statement_provenance (tenant, id, source, original_stored)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::timestamptz[]) ON CONFLICT DO NOTHING`,
		tenants, ids, sources, stored); err != nil {
		return fmt.Errorf("record provenance: %w", err)
	}
	return nil
}

// sqliteInsertProvenance is pgInsertProvenance for SQLite.
func sqliteInsertProvenance(ctx context.Context, tx *sql.Tx, inserted []planned) error {
	ins := newSQLiteRows(tx, "INSERT INTO statement_provenance (tenant, id, source, original_stored) VALUES ", "(?, ?, ?, ?)", " ON CONFLICT DO NOTHING")
	defer ins.close()
	for _, p := range imported(inserted) {
		var stored any
		if t := p.Provenance.OriginalStored; !t.IsZero() {
			stored = toMicros(t)
		}
		if err := ins.add(ctx, p.Tenant, p.ID, p.Provenance.Source, stored); err != nil {
			return fmt.Errorf("record provenance: %w", err)
		}
	}
	if err := ins.flush(ctx); err != nil {
		return fmt.Errorf("record provenance: %w", err)
	}
	return nil
}
