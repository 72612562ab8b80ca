package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SQLite serializes every write on its one writer connection (BEGIN
// IMMEDIATE), so UpdateDocument's read-decide-write needs no other lock.

const sqliteDocumentCols = "content_type, content, etag, updated"

func scanSQLiteDocument(row rowScanner) (Document, error) {
	var d Document
	var us int64
	if err := row.Scan(&d.ContentType, &d.Content, &d.ETag, &us); err != nil {
		return Document{}, err
	}
	d.Updated = fromMicros(us)
	return d, nil
}

// sqliteDocumentWhere selects one document; the clear columns guard
// against a digest collision.
const sqliteDocumentWhere = ` FROM documents WHERE scope = ? AND registration = ? AND doc = ?
    AND tenant = ? AND kind = ? AND activity_id = ? AND agent = ? AND doc_id = ?`

func sqliteDocumentArgs(k DocumentKey) []any {
	sd, dd := k.digest(), docDigest(k.ID)
	return []any{sd[:], k.Registration, dd[:], k.Tenant, int16(k.Kind), k.ActivityID, k.Agent, k.ID}
}

func (s *SQLite) GetDocument(ctx context.Context, key DocumentKey) (Document, error) {
	if err := key.validate(); err != nil {
		return Document{}, fmt.Errorf("get document: %w", err)
	}
	d, err := scanSQLiteDocument(s.r.QueryRowContext(ctx, "SELECT "+sqliteDocumentCols+sqliteDocumentWhere, sqliteDocumentArgs(key)...))
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, fmt.Errorf("%v document %q: %w", key.Kind, key.ID, ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("get %v document %q: %w", key.Kind, key.ID, err)
	}
	return d, nil
}

// sqliteScopeWhere selects the documents of a scope, of one registration
// or of all.
func sqliteScopeWhere(sc DocumentScope) (string, []any) {
	d := sc.digest()
	where := " FROM documents WHERE scope = ? AND tenant = ? AND kind = ? AND activity_id = ? AND agent = ?"
	args := []any{d[:], sc.Tenant, int16(sc.Kind), sc.ActivityID, sc.Agent}
	if sc.Registration != "" {
		where += " AND registration = ?"
		args = append(args, sc.Registration)
	}
	return where, args
}

func (s *SQLite) ListDocumentIDs(ctx context.Context, scope DocumentScope, since time.Time) ([]string, error) {
	if err := scope.validate(); err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	where, args := sqliteScopeWhere(scope)
	if !since.IsZero() {
		where += " AND updated > ?"
		args = append(args, toMicros(since))
	}
	rows, err := s.r.QueryContext(ctx, "SELECT DISTINCT doc_id"+where+" ORDER BY doc_id", args...)
	if err != nil {
		return nil, fmt.Errorf("list %v documents: %w", scope.Kind, err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list %v documents: %w", scope.Kind, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %v documents: %w", scope.Kind, err)
	}
	return ids, nil
}

func (s *SQLite) UpdateDocument(ctx context.Context, key DocumentKey, fn DocumentUpdate) error {
	if err := key.validate(); err != nil {
		return fmt.Errorf("update document: %w", err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return updateDocument(ctx, sqliteDocumentTx{tx: tx, args: sqliteDocumentArgs(key)}, fn)
	})
	if err != nil {
		return fmt.Errorf("update %v document %q: %w", key.Kind, key.ID, err)
	}
	return nil
}

func (s *SQLite) DeleteDocuments(ctx context.Context, scope DocumentScope) (int, error) {
	if err := scope.validate(); err != nil {
		return 0, fmt.Errorf("delete documents: %w", err)
	}
	where, args := sqliteScopeWhere(scope)
	res, err := s.w.ExecContext(ctx, "DELETE"+where, args...)
	if err != nil {
		return 0, fmt.Errorf("delete %v documents: %w", scope.Kind, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete %v documents: %w", scope.Kind, err)
	}
	return int(n), nil
}

func (s *SQLite) GetActivity(ctx context.Context, tenant, id string) (Activity, error) {
	d := keyDigest(tenant, prefixActivity+id)
	a := Activity{ID: id}
	var us int64
	err := s.r.QueryRowContext(ctx, "SELECT definition, updated FROM activities WHERE digest = ? AND tenant = ? AND id = ?",
		d[:], tenant, id).Scan(&a.Definition, &us)
	if errors.Is(err, sql.ErrNoRows) {
		return Activity{}, fmt.Errorf("activity %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Activity{}, fmt.Errorf("get activity %s: %w", id, err)
	}
	a.Updated = fromMicros(us)
	return a, nil
}

// The activityTx side of sqliteRefTx: the writer connection is the only
// one, so reading then writing in the batch's transaction is enough.

func (t sqliteRefTx) activityDefinitions(ctx context.Context, digests [][16]byte) (map[[16]byte][]byte, error) {
	out := map[[16]byte][]byte{}
	for start := 0; start < len(digests); start += sqliteKeyRows {
		part := digests[start:min(start+sqliteKeyRows, len(digests))]
		args := make([]any, len(part))
		for i := range part {
			args[i] = part[i][:]
		}
		rows, err := t.tx.QueryContext(ctx, "SELECT digest, definition FROM activities WHERE digest IN ("+
			strings.TrimSuffix(strings.Repeat("?,", len(part)), ",")+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var d, def []byte
			if err := rows.Scan(&d, &def); err != nil {
				rows.Close()
				return nil, err
			}
			out[[16]byte(d)] = def
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t sqliteRefTx) lockActivities(context.Context, [][16]byte) error { return nil }

func (t sqliteRefTx) putActivities(ctx context.Context, acts []activityRow) error {
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO activities (digest, tenant, id, definition, updated) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (digest) DO UPDATE SET definition = excluded.definition, updated = excluded.updated`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, a := range acts {
		if _, err := st.ExecContext(ctx, a.Digest[:], a.Tenant, a.ID, a.Definition, toMicros(a.Updated)); err != nil {
			return err
		}
	}
	return nil
}

type sqliteDocumentTx struct {
	tx   *sql.Tx
	args []any
}

func (t sqliteDocumentTx) read(ctx context.Context) (*Document, error) {
	d, err := scanSQLiteDocument(t.tx.QueryRowContext(ctx, "SELECT "+sqliteDocumentCols+sqliteDocumentWhere, t.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func (t sqliteDocumentTx) remove(ctx context.Context) error {
	_, err := t.tx.ExecContext(ctx, "DELETE"+sqliteDocumentWhere, t.args...)
	return err
}

var sqliteDocumentUpsert = fmt.Sprintf(documentUpsert, "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?")

func (t sqliteDocumentTx) write(ctx context.Context, d *Document) error {
	_, err := t.tx.ExecContext(ctx, sqliteDocumentUpsert, append(t.args, d.ContentType, d.Content, d.ETag, toMicros(d.Updated))...)
	return err
}
