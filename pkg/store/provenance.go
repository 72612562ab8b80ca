package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
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
	err := s.r.QueryRowContext(ctx, s.d.bind("SELECT source, original_stored FROM statements WHERE tenant = ? AND id = ?id AND source IS NOT NULL"),
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

// sqliteProvenance is the source and original_stored columns of p's row:
// NULL unless it was imported (and original_stored NULL when it had no
// stored time).
func sqliteProvenance(p planned) (source, originalStored any) {
	if p.Provenance.Source == "" {
		return nil, nil
	}
	if t := p.Provenance.OriginalStored; !t.IsZero() {
		originalStored = toMicros(t)
	}
	return p.Provenance.Source, originalStored
}

// pgProvenance is sqliteProvenance for PostgreSQL.
func pgProvenance(p planned) (source *string, originalStored *time.Time) {
	if p.Provenance.Source == "" {
		return nil, nil
	}
	if t := p.Provenance.OriginalStored; !t.IsZero() {
		originalStored = &t
	}
	return &p.Provenance.Source, originalStored
}
