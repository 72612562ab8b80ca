package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// sqlDB is what both backends share through database/sql: the schema
// migrations, tenants, credentials, recorded conflicts and the cursor key,
// each written once and rendered by the dialect. Batches and statement
// reads stay in each backend's own driver's terms (COPY, arrays, prepared
// inserts); of this, only credential reads (cached by pkg/auth) and tenant
// reads (for requests that void) serve requests. On PostgreSQL,
// BenchmarkHotPath times them as fast through database/sql as through pgx
// (the round trip dominates), at about 4 KB and 55 allocations more a call.
// Writes go to w and reads to r: SQLite's single writer connection and its
// pool of read-only readers; PostgreSQL's one pool is both.
type sqlDB struct {
	w, r   *sql.DB
	d      dialect
	cursor cursorKey
	// erasure keys the hashes under which erasures record the agent.
	erasure cursorKey
}

func newSQLDB(w, r *sql.DB, d dialect) (*sqlDB, error) {
	if w == nil || r == nil || d.name == "" {
		return nil, errors.New("sql store: writer, reader and dialect are required")
	}
	s := &sqlDB{w: w, r: r, d: d}
	s.cursor.load = s.serverKey(cursorKeyName)
	s.erasure.load = s.serverKey(erasureKeyName)
	return s, nil
}

// inTx runs fn in a write transaction (on SQLite BEGIN IMMEDIATE: the
// writer's DSN asks for it).
func (s *sqlDB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// time renders t for a time column.
func (s *sqlDB) time(t time.Time) any { return s.d.timeArg(toMicros(t)) }

// optTime renders t for a nullable time column: the zero time is NULL.
func (s *sqlDB) optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.time(t)
}

// timeDest scans a time column of either backend into t, in UTC: SQLite
// gives unix microseconds, PostgreSQL a timestamptz; NULL is the zero time.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = fromMicros(v)
	case time.Time:
		*d.t = v.UTC()
	default:
		return fmt.Errorf("time column holds a %T", src)
	}
	return nil
}

// collect reads every row of rs with scan, closing rs.
func collect[T any](rs *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

type rowScanner interface{ Scan(dest ...any) error }

// serverKey returns the loader of the server key name: it stores fresh
// unless there is a key already, and returns the stored key (on the writer:
// SQLite's readers are query-only, and the key must be the one committed).
func (s *sqlDB) serverKey(name string) func(ctx context.Context, fresh []byte) ([]byte, error) {
	return func(ctx context.Context, fresh []byte) ([]byte, error) {
		if _, err := s.w.ExecContext(ctx, s.d.bind("INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"), name, fresh); err != nil {
			return nil, err
		}
		var key []byte
		err := s.w.QueryRowContext(ctx, s.d.bind("SELECT value FROM server_keys WHERE name = ?"), name).Scan(&key)
		return key, err
	}
}

func (s *sqlDB) RecentConflicts(ctx context.Context, tenant string, limit int) ([]ConflictRecord, error) {
	rows, err := s.r.QueryContext(ctx, s.d.bind("SELECT tenant, "+s.d.idCol("id")+`, fingerprint, stored_fingerprint, detected_at FROM statement_conflicts
WHERE tenant = ? ORDER BY detected_at DESC, id LIMIT ?`), tenant, min(max(limit, 1), maxConflictsListed))
	if err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (ConflictRecord, error) {
		var c ConflictRecord
		err := r.Scan(&c.Tenant, &c.ID, &c.Fingerprint, &c.StoredFingerprint, timeDest{&c.Detected})
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	return out, nil
}

// preparedListing is a query normalized, with the key its cursors are
// signed with and the SQL that lists it.
type preparedListing struct {
	listing
	key  []byte
	sql  string
	args []any
}

// prepareListing normalizes q (decoding its cursor) and renders its SQL.
func (s *sqlDB) prepareListing(ctx context.Context, q Query) (preparedListing, error) {
	key, err := s.cursor.get(ctx)
	if err != nil {
		return preparedListing{}, err
	}
	l, err := normalize(q, key)
	if err != nil {
		return preparedListing{}, err
	}
	query, args := listSQL(s.d, l)
	return preparedListing{listing: l, key: key, sql: query, args: args}, nil
}
