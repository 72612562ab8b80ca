package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const pgDocumentCols = "content_type, content, etag, updated"

func scanPgDocument(row pgx.Row) (Document, error) {
	var d Document
	if err := row.Scan(&d.ContentType, &d.Content, &d.ETag, &d.Updated); err != nil {
		return Document{}, err
	}
	d.Updated = d.Updated.UTC()
	return d, nil
}

// pgDocumentWhere selects one document; the clear columns guard against a
// digest collision.
const pgDocumentWhere = ` FROM documents WHERE scope = $1 AND registration = $2 AND doc = $3
    AND tenant = $4 AND kind = $5 AND activity_id = $6 AND agent = $7 AND doc_id = $8`

func pgDocumentArgs(k DocumentKey) []any {
	return []any{pgUUID(k.digest()), k.Registration, pgUUID(docDigest(k.ID)), k.Tenant, int16(k.Kind), k.ActivityID, k.Agent, k.ID}
}

// pgLockKey is the advisory lock of one document: writers of the same key
// take turns even while the document does not exist yet, which a row lock
// cannot express.
func pgLockKey(k DocumentKey) int64 {
	sd, dd := k.digest(), docDigest(k.ID+"\x00"+k.Registration)
	return int64(binary.BigEndian.Uint64(sd[:8]) ^ binary.BigEndian.Uint64(dd[:8]))
}

func (p *Postgres) GetDocument(ctx context.Context, key DocumentKey) (Document, error) {
	if err := key.validate(); err != nil {
		return Document{}, fmt.Errorf("get document: %w", err)
	}
	d, err := scanPgDocument(p.pool.QueryRow(ctx, "SELECT "+pgDocumentCols+pgDocumentWhere, pgDocumentArgs(key)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, fmt.Errorf("%v document %q: %w", key.Kind, key.ID, ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("get %v document %q: %w", key.Kind, key.ID, err)
	}
	return d, nil
}

func pgScopeWhere(sc DocumentScope) (string, []any) {
	where := " FROM documents WHERE scope = $1 AND tenant = $2 AND kind = $3 AND activity_id = $4 AND agent = $5"
	args := []any{pgUUID(sc.digest()), sc.Tenant, int16(sc.Kind), sc.ActivityID, sc.Agent}
	if sc.Registration != "" {
		args = append(args, sc.Registration)
		where += fmt.Sprintf(" AND registration = $%d", len(args))
	}
	return where, args
}

func (p *Postgres) ListDocumentIDs(ctx context.Context, scope DocumentScope, since time.Time) ([]string, error) {
	if err := scope.validate(); err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	where, args := pgScopeWhere(scope)
	if !since.IsZero() {
		args = append(args, since)
		where += fmt.Sprintf(" AND updated > $%d", len(args))
	}
	rows, err := p.pool.Query(ctx, "SELECT DISTINCT doc_id"+where+` ORDER BY doc_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list %v documents: %w", scope.Kind, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list %v documents: %w", scope.Kind, err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

func (p *Postgres) UpdateDocument(ctx context.Context, key DocumentKey, fn DocumentUpdate) error {
	if err := key.validate(); err != nil {
		return fmt.Errorf("update document: %w", err)
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgLockKey(key)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		return updateDocument(ctx, pgDocumentTx{tx: tx, args: pgDocumentArgs(key)}, fn)
	})
	if err != nil {
		return fmt.Errorf("update %v document %q: %w", key.Kind, key.ID, err)
	}
	return nil
}

func (p *Postgres) DeleteDocuments(ctx context.Context, scope DocumentScope) (int, error) {
	if err := scope.validate(); err != nil {
		return 0, fmt.Errorf("delete documents: %w", err)
	}
	where, args := pgScopeWhere(scope)
	tag, err := p.pool.Exec(ctx, "DELETE"+where, args...)
	if err != nil {
		return 0, fmt.Errorf("delete %v documents: %w", scope.Kind, err)
	}
	return int(tag.RowsAffected()), nil
}

func (p *Postgres) GetActivity(ctx context.Context, tenant, id string) (Activity, error) {
	a := Activity{ID: id}
	err := p.pool.QueryRow(ctx, "SELECT definition, updated FROM activities WHERE digest = $1 AND tenant = $2 AND id = $3",
		pgUUID(keyDigest(tenant, prefixActivity+id)), tenant, id).Scan(&a.Definition, &a.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return Activity{}, fmt.Errorf("activity %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Activity{}, fmt.Errorf("get activity %s: %w", id, err)
	}
	a.Updated = a.Updated.UTC()
	return a, nil
}

func pgDigests(ds [][16]byte) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ds))
	for i, d := range ds {
		out[i] = pgUUID(d)
	}
	return out
}

// The activityTx side of pgRefTx.

func (t pgRefTx) activityDefinitions(ctx context.Context, digests [][16]byte) (map[[16]byte][]byte, error) {
	rows, err := t.tx.Query(ctx, "SELECT digest, definition FROM activities WHERE digest = ANY($1::uuid[])", pgDigests(digests))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[[16]byte][]byte{}
	for rows.Next() {
		var d pgtype.UUID
		var def []byte
		if err := rows.Scan(&d, &def); err != nil {
			return nil, err
		}
		out[d.Bytes] = def
	}
	return out, rows.Err()
}

// lockActivities takes transaction-scoped advisory locks in digest order
// (the subquery's ORDER BY fixes the order the locks are taken in).
func (t pgRefTx) lockActivities(ctx context.Context, digests [][16]byte) error {
	keys := make([]int64, len(digests))
	for i, d := range digests {
		keys[i] = int64(binary.BigEndian.Uint64(d[:8]))
	}
	_, err := t.tx.Exec(ctx, "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) AS u(k) ORDER BY k) AS s", keys)
	return err
}

func (t pgRefTx) putActivities(ctx context.Context, acts []activityRow) error {
	n := len(acts)
	digests, tenants, ids, defs, updated := make([]pgtype.UUID, n), make([]string, n), make([]string, n), make([][]byte, n), make([]time.Time, n)
	for i, a := range acts {
		digests[i], tenants[i], ids[i], defs[i], updated[i] = pgUUID(a.Digest), a.Tenant, a.ID, a.Definition, a.Updated
	}
	_, err := t.tx.Exec(ctx, `
INSERT INTO activities AS a (digest, tenant, id, definition, updated)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[])
ON CONFLICT (digest) DO UPDATE SET definition = excluded.definition, updated = excluded.updated`,
		digests, tenants, ids, defs, updated)
	return err
}

type pgDocumentTx struct {
	tx   pgx.Tx
	args []any
}

func (t pgDocumentTx) read(ctx context.Context) (*Document, error) {
	d, err := scanPgDocument(t.tx.QueryRow(ctx, "SELECT "+pgDocumentCols+pgDocumentWhere, t.args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func (t pgDocumentTx) remove(ctx context.Context) error {
	_, err := t.tx.Exec(ctx, "DELETE"+pgDocumentWhere, t.args...)
	return err
}

var pgDocumentUpsert = fmt.Sprintf(documentUpsert, "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12")

func (t pgDocumentTx) write(ctx context.Context, d *Document) error {
	_, err := t.tx.Exec(ctx, pgDocumentUpsert, append(t.args, d.ContentType, d.Content, d.ETag, d.Updated)...)
	return err
}
