package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// sqliteRows inserts rows into one table in multi-row INSERTs of up to
// sqliteKeyRows rows: fewer statements to step through is what makes SQLite
// inserts fast. The full-size INSERT is prepared once per transaction;
// parsing a 200-row statement for every chunk was a fifth of the cost of
// writing the index keys.
type sqliteRows struct {
	tx          *sql.Tx
	head, tuple string // "INSERT INTO t (a, b) VALUES ", "(?, ?)"
	tail        string // after the values, e.g. " ON CONFLICT DO NOTHING"
	width       int    // values per row
	full        *sql.Stmt
	args        []any
}

func newSQLiteRows(tx *sql.Tx, head, tuple, tail string) *sqliteRows {
	return &sqliteRows{tx: tx, head: head, tuple: tuple, tail: tail, width: strings.Count(tuple, "?")}
}

func (r *sqliteRows) query(rows int) string {
	return r.head + strings.TrimSuffix(strings.Repeat(r.tuple+",", rows), ",") + r.tail
}

// add buffers one row (width values), inserting a full chunk.
func (r *sqliteRows) add(ctx context.Context, vals ...any) error {
	r.args = append(r.args, vals...)
	if len(r.args) < sqliteKeyRows*r.width {
		return nil
	}
	if r.full == nil {
		st, err := r.tx.PrepareContext(ctx, r.query(sqliteKeyRows))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		r.full = st
	}
	_, err := r.full.ExecContext(ctx, r.args...)
	r.args = r.args[:0]
	return err
}

// flush inserts the rows buffered.
func (r *sqliteRows) flush(ctx context.Context) error {
	n := len(r.args) / r.width
	if n == 0 {
		return nil
	}
	_, err := r.tx.ExecContext(ctx, r.query(n), r.args...)
	r.args = r.args[:0]
	return err
}

// close releases the prepared statement.
func (r *sqliteRows) close() {
	if r.full != nil {
		r.full.Close()
		r.full = nil
	}
}
