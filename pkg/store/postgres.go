package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/streamlrs/streamlrs/pkg/config"
)

// Postgres is the PostgreSQL backend.
type Postgres struct {
	// sqlDB serves migrations, tenants, credentials and conflicts through
	// database/sql on the same pool; the rest uses pgx directly (COPY,
	// arrays, batches).
	*sqlDB
	pool *pgxpool.Pool
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to PostgreSQL; dsn is a postgres:// URL or a
// key=value connection string. The schema is not migrated here.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN %s: %w", config.RedactDSN(dsn), err)
	}
	// The store-writer moves on once a transaction of statements and their
	// offsets commits: a commit the server acknowledged before it was
	// durable (synchronous_commit = off) and then lost in a crash is
	// statements gone for good, while later offsets pass them. Attachment
	// bodies are written before their statement is published, on the same
	// promise. So every session insists on durable commits, whatever the
	// server's default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL %s: %w", config.RedactDSN(dsn), err)
	}
	db := stdlib.OpenDBFromPool(pool)
	common, err := newSQLDB(db, db, pgDialect)
	if err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	return &Postgres{sqlDB: common, pool: pool}, nil
}

func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping PostgreSQL: %w", err)
	}
	return nil
}

func (p *Postgres) Close() error {
	err := p.w.Close()
	p.pool.Close()
	return err
}

// pgRetries is how often a batch is retried after a deadlock or
// serialization failure, which concurrent writers of the same ids can cause.
const pgRetries = 5

func (p *Postgres) ApplyStatements(ctx context.Context, group string, stmts []Statement, offsets []Offset) (ApplyResult, error) {
	if group == "" && len(offsets) > 0 {
		return ApplyResult{}, errors.New("apply statements: offsets need a consumer group")
	}
	todo, res, err := plan(stmts)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply statements: %w", err)
	}
	offsets = mergeOffsets(offsets)
	for attempt := 1; ; attempt++ {
		r := res
		r.Conflicts = append([]Conflict(nil), res.Conflicts...)
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			return p.applyTx(ctx, tx, group, todo, offsets, &r)
		})
		if err == nil {
			return r, nil
		}
		var pgErr *pgconn.PgError
		if attempt < pgRetries && errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001") {
			continue
		}
		return ApplyResult{}, fmt.Errorf("apply statements: %w", err)
	}
}

// pgInsertStatements is the slow path of a batch, taken when the fast path
// (COPY) hit an existing id: it inserts what is new, fills placeholders,
// and reports which rows it wrote.
const pgInsertStatements = `
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::text[], $5::boolean[], $6::uuid[], $7::bytea[],
        $13::text[], $14::timestamptz[])
        AS t(tenant, id, stored, fingerprint, voiding, ref, body, source, original_stored)
), ins AS (
    INSERT INTO statements AS s (tenant, id, stored, fingerprint, voided, voiding, ref, body, source, original_stored)
    SELECT tenant, id, stored, fingerprint, false, voiding, ref, body, source, original_stored FROM input
    ON CONFLICT (tenant, id) DO UPDATE
        SET stored = excluded.stored, fingerprint = excluded.fingerprint, voiding = excluded.voiding,
            ref = excluded.ref, body = excluded.body, voided = s.voided AND NOT excluded.voiding,
            source = excluded.source, original_stored = excluded.original_stored
        WHERE s.body IS NULL
    RETURNING s.tenant, s.id, s.xmax::text <> '0' AS filled
), keys AS (
    INSERT INTO statement_keys (digest, stored, id, direct, tenant)
    SELECT k.digest, k.stored, k.id, k.direct, k.tenant
    FROM unnest($8::uuid[], $9::timestamptz[], $10::uuid[], $11::boolean[], $12::text[]) AS k(digest, stored, id, direct, tenant)
    JOIN ins ON ins.tenant = k.tenant AND ins.id = k.id
)
SELECT tenant, id::text, filled FROM ins`

func pgUUID(b [16]byte) pgtype.UUID { return pgtype.UUID{Bytes: b, Valid: true} }

// pgRef is the ref column of a statement: NULL unless it refers to one.
func pgRef(p planned) pgtype.UUID {
	if p.Ref == "" {
		return pgtype.UUID{}
	}
	return pgUUID(uuid.MustParse(p.Ref))
}

// pgStatementCols and pgKeyCols are the COPY columns, in the order of the
// sources' Values.
var (
	pgStatementCols = []string{"tenant", "id", "stored", "fingerprint", "voided", "voiding", "ref", "body", "source", "original_stored"}
	pgKeyCols       = []string{"digest", "stored", "id", "direct", "tenant"}
)

type statementSource struct {
	rows []planned
	i    int
	vals []any
}

func (s *statementSource) Next() bool { s.i++; return s.i <= len(s.rows) }
func (s *statementSource) Err() error { return nil }
func (s *statementSource) Values() ([]any, error) {
	p := s.rows[s.i-1]
	source, originalStored := pgProvenance(p)
	s.vals = append(s.vals[:0], p.Tenant, pgUUID(p.uid), p.Stored, p.Fingerprint, false, p.Voiding, pgRef(p), p.JSON, source, originalStored)
	return s.vals, nil
}

type keySource struct {
	rows []planned
	i, k int
	vals []any
}

func (s *keySource) Next() bool {
	s.k++
	for s.i < len(s.rows) && s.k >= len(s.rows[s.i].Keys) {
		s.i++
		s.k = 0
	}
	return s.i < len(s.rows)
}
func (s *keySource) Err() error { return nil }
func (s *keySource) Values() ([]any, error) {
	p := s.rows[s.i]
	k := p.Keys[s.k]
	s.vals = append(s.vals[:0], pgUUID(p.digests[s.k]), p.Stored, pgUUID(p.uid), k.Direct, p.Tenant)
	return s.vals, nil
}

// pgCopy is the fast path: COPY the whole batch, which succeeds when every
// id is new (the common case). ok=false means an id exists (or a concurrent
// writer holds it) and nothing was written.
func pgCopy(ctx context.Context, tx pgx.Tx, todo []planned) (bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("savepoint: %w", err)
	}
	_, err = sp.CopyFrom(ctx, pgx.Identifier{"statements"}, pgStatementCols, &statementSource{rows: todo})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		if err := sp.Rollback(ctx); err != nil {
			return false, fmt.Errorf("roll back to savepoint: %w", err)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("copy statements: %w", err)
	}
	if _, err := sp.CopyFrom(ctx, pgx.Identifier{"statement_keys"}, pgKeyCols, &keySource{rows: todo, k: -1}); err != nil {
		return false, fmt.Errorf("copy statement keys: %w", err)
	}
	if err := sp.Commit(ctx); err != nil {
		return false, fmt.Errorf("release savepoint: %w", err)
	}
	return true, nil
}

// pgUpsert is the slow path; it returns the keys (tenant NUL id) of the
// statements it inserted and of those that filled a placeholder.
func pgUpsert(ctx context.Context, tx pgx.Tx, todo []planned) (inserted, filled map[string]bool, err error) {
	n := len(todo)
	tenants, ids, fps, refs := make([]string, n), make([]pgtype.UUID, n), make([]string, n), make([]pgtype.UUID, n)
	stored, voiding, bodies := make([]time.Time, n), make([]bool, n), make([][]byte, n)
	sources, originalStored := make([]*string, n), make([]*time.Time, n)
	var kd, kid []pgtype.UUID
	var ks []time.Time
	var kdir []bool
	var kt []string
	for i, p := range todo {
		tenants[i], ids[i], stored[i], fps[i], voiding[i], refs[i], bodies[i] = p.Tenant, pgUUID(p.uid), p.Stored, p.Fingerprint, p.Voiding, pgRef(p), p.JSON
		sources[i], originalStored[i] = pgProvenance(p)
		for j, k := range p.Keys {
			kd, ks, kid, kdir, kt = append(kd, pgUUID(p.digests[j])), append(ks, p.Stored), append(kid, ids[i]), append(kdir, k.Direct), append(kt, p.Tenant)
		}
	}
	rows, err := tx.Query(ctx, pgInsertStatements, tenants, ids, stored, fps, voiding, refs, bodies, kd, ks, kid, kdir, kt, sources, originalStored)
	if err != nil {
		return nil, nil, fmt.Errorf("insert statements: %w", err)
	}
	defer rows.Close()
	inserted, filled = map[string]bool{}, map[string]bool{}
	for rows.Next() {
		var tenant, id string
		var f bool
		if err := rows.Scan(&tenant, &id, &f); err != nil {
			return nil, nil, fmt.Errorf("insert statements: %w", err)
		}
		inserted[tenant+"\x00"+id] = true
		if f {
			filled[tenant+"\x00"+id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("insert statements: %w", err)
	}
	return inserted, filled, nil
}

func (p *Postgres) applyTx(ctx context.Context, tx pgx.Tx, group string, todo []planned, offsets []Offset, res *ApplyResult) error {
	if len(todo) > 0 {
		ok, err := pgCopy(ctx, tx, todo)
		if err != nil {
			return err
		}
		ins, rest := todo, []planned(nil)
		var filled map[string]bool
		if !ok {
			var inserted map[string]bool
			inserted, filled, err = pgUpsert(ctx, tx, todo)
			if err != nil {
				return err
			}
			ins = nil
			for _, s := range todo {
				if inserted[s.Tenant+"\x00"+s.ID] {
					ins = append(ins, s)
				} else {
					rest = append(rest, s)
				}
			}
		}
		res.Inserted += len(ins)
		if len(rest) > 0 {
			tenants, ids := make([]string, len(rest)), make([]string, len(rest))
			for i, s := range rest {
				tenants[i], ids[i] = s.Tenant, s.ID
			}
			existing, err := pgFingerprints(ctx, tx, tenants, ids)
			if err != nil {
				return err
			}
			if err := classify(rest, existing, res); err != nil {
				return err
			}
		}
		if err := applyRefs(ctx, pgRefTx{tx}, ins, filled); err != nil {
			return err
		}
	}
	if cs := conflictsOfContent(res.Conflicts); len(cs) > 0 {
		cols := [4][]string{}
		for _, c := range cs {
			for i, v := range []string{c.Statement.Tenant, c.Statement.ID, c.Statement.Fingerprint, c.Existing} {
				cols[i] = append(cols[i], v)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO statement_conflicts (tenant, id, fingerprint, stored_fingerprint)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`,
			cols[0], cols[1], cols[2], cols[3]); err != nil {
			return fmt.Errorf("record conflicts: %w", err)
		}
	}
	if len(offsets) > 0 {
		topics, parts, next := make([]string, len(offsets)), make([]int32, len(offsets)), make([]int64, len(offsets))
		for i, o := range offsets {
			topics[i], parts[i], next[i] = o.Topic, o.Partition, o.Next
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
SELECT $1, t, p, n FROM unnest($2::text[], $3::integer[], $4::bigint[]) AS o(t, p, n)
ON CONFLICT (consumer_group, topic, partition) DO UPDATE
    SET next_offset = GREATEST(consumer_offsets.next_offset, excluded.next_offset), updated_at = now()`,
			group, topics, parts, next); err != nil {
			return fmt.Errorf("record offsets: %w", err)
		}
	}
	return nil
}

// pgQuerier is what a pool and a transaction have in common.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pgFingerprints reads the fingerprints of (tenants[i], ids[i]), ids being
// canonical UUIDs. Inside ApplyStatements it runs as its own statement so
// that it sees rows that a concurrent transaction committed while the insert
// waited for it.
func pgFingerprints(ctx context.Context, q pgQuerier, tenants, ids []string) (map[StatementKey]string, error) {
	out := make(map[StatementKey]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `
SELECT s.tenant, s.id::text, s.fingerprint FROM statements s
JOIN unnest($1::text[], $2::text[]::uuid[]) AS i(tenant, id) ON s.tenant = i.tenant AND s.id = i.id
WHERE s.body IS NOT NULL`, tenants, ids)
	if err != nil {
		return nil, fmt.Errorf("read fingerprints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k StatementKey
		var fp string
		if err := rows.Scan(&k.Tenant, &k.ID, &fp); err != nil {
			return nil, fmt.Errorf("read fingerprints: %w", err)
		}
		out[k] = fp
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read fingerprints: %w", err)
	}
	return out, nil
}

// pgRefTx implements refTx in a PostgreSQL transaction.
type pgRefTx struct{ tx pgx.Tx }

func (t pgRefTx) ensureTargets(ctx context.Context, targets []refTarget) error {
	tenants, ids, void := make([]string, len(targets)), make([]string, len(targets)), make([]bool, len(targets))
	for i, r := range targets {
		tenants[i], ids[i], void[i] = r.Tenant, r.ID, r.Void
	}
	_, err := t.tx.Exec(ctx, `
INSERT INTO statements AS s (tenant, id, voided)
SELECT * FROM unnest($1::text[], $2::text[]::uuid[], $3::boolean[])
ON CONFLICT (tenant, id) DO UPDATE SET voided = true
    WHERE excluded.voided AND NOT s.voiding AND NOT s.voided`, tenants, ids, void)
	return err
}

func (t pgRefTx) statement(ctx context.Context, tenant, id string) (refRow, bool, error) {
	r := refRow{ID: id}
	var stored *time.Time
	err := t.tx.QueryRow(ctx, "SELECT stored, body FROM statements WHERE tenant = $1 AND id = $2::text::uuid", tenant, id).Scan(&stored, &r.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return refRow{}, false, nil
	}
	if err != nil {
		return refRow{}, false, err
	}
	if stored != nil {
		r.Stored = *stored
	}
	return r, true, nil
}

func (t pgRefTx) referrers(ctx context.Context, tenant, id string) ([]refRow, error) {
	rows, err := t.tx.Query(ctx, `SELECT id::text, stored FROM statements
WHERE tenant = $1 AND ref = $2::text::uuid AND body IS NOT NULL`, tenant, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (refRow, error) {
		var r refRow
		err := row.Scan(&r.ID, &r.Stored)
		return r, err
	})
}

func (t pgRefTx) upsertKeys(ctx context.Context, keys []keyRow) error {
	n := len(keys)
	digests, ids, stored, direct, tenants := make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]time.Time, n), make([]bool, n), make([]string, n)
	for i, k := range keys {
		id, err := uuid.Parse(k.ID)
		if err != nil {
			return fmt.Errorf("statement id %q: %w", k.ID, err)
		}
		digests[i], ids[i], stored[i], direct[i], tenants[i] = pgUUID(keyDigest(k.Tenant, k.Key)), pgUUID(id), k.Stored, k.Direct, k.Tenant
	}
	_, err := t.tx.Exec(ctx, `
INSERT INTO statement_keys AS k (digest, stored, id, direct, tenant)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::boolean[], $5::text[])
ON CONFLICT (digest, stored, id) DO UPDATE SET direct = true
    WHERE excluded.direct AND NOT k.direct`, digests, stored, ids, direct, tenants)
	return err
}

func (p *Postgres) AppliedOffsets(ctx context.Context, group, topic string) (map[int32]int64, error) {
	rows, err := p.pool.Query(ctx, "SELECT partition, next_offset FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2", group, topic)
	if err != nil {
		return nil, fmt.Errorf("read applied offsets: %w", err)
	}
	defer rows.Close()
	return scanOffsets(rows)
}

func (p *Postgres) ScanStatementKeys(ctx context.Context, fn func(StatementKey) error) error {
	rows, err := p.pool.Query(ctx, "SELECT tenant, id::text FROM statements WHERE body IS NOT NULL")
	if err != nil {
		return fmt.Errorf("scan statement keys: %w", err)
	}
	return scanKeys(rows, fn)
}

func (p *Postgres) Fingerprints(ctx context.Context, keys []StatementKey) (map[StatementKey]string, error) {
	tenants, ids := make([]string, 0, len(keys)), make([]string, 0, len(keys))
	for _, k := range keys {
		// A malformed id would fail the whole cast; it cannot be stored anyway.
		if u, err := uuid.Parse(k.ID); err == nil {
			tenants, ids = append(tenants, k.Tenant), append(ids, u.String())
		}
	}
	return pgFingerprints(ctx, p.pool, tenants, ids)
}

func (p *Postgres) GetStatement(ctx context.Context, tenant, id string, voided bool) (Statement, error) {
	s := Statement{Tenant: tenant}
	err := p.pool.QueryRow(ctx, `SELECT id::text, stored, fingerprint, body FROM statements
WHERE tenant = $1 AND id = $2::text::uuid AND body IS NOT NULL AND voided = $3`, tenant, id, voided).
		Scan(&s.ID, &s.Stored, &s.Fingerprint, &s.JSON)
	if errors.Is(err, pgx.ErrNoRows) {
		return Statement{}, fmt.Errorf("statement %s: %w", id, ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22P02" { // not a UUID: no such statement
		return Statement{}, fmt.Errorf("statement %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Statement{}, fmt.Errorf("get statement %s: %w", id, err)
	}
	s.Stored = s.Stored.UTC()
	return s, nil
}

func (p *Postgres) QueryStatements(ctx context.Context, q Query) (Page, error) {
	l, err := p.prepareListing(ctx, q)
	if err != nil {
		return Page{}, err
	}
	rows, err := p.pool.Query(ctx, l.sql, l.args...)
	if err != nil {
		return Page{}, fmt.Errorf("query statements: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Statement, error) {
		s := Statement{Tenant: l.Tenant}
		err := row.Scan(&s.ID, &s.Stored, &s.Fingerprint, &s.JSON)
		s.Stored = s.Stored.UTC()
		return s, err
	})
	if err != nil {
		return Page{}, fmt.Errorf("query statements: %w", err)
	}
	return page(l.listing, out, l.key), nil
}

// ExplainQuery runs q under EXPLAIN (ANALYZE, BUFFERS) and returns the plan,
// to show which index each filter uses.
func (p *Postgres) ExplainQuery(ctx context.Context, q Query) (string, error) {
	l, err := p.prepareListing(ctx, q)
	if err != nil {
		return "", err
	}
	rows, err := p.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+l.sql, l.args...)
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}

// Unavailable reports whether err says the database could not be reached or
// went away mid-request (refused or cut connections, a server shutting
// down or starting), rather than that the request itself failed: the
// caller may retry it later.
func Unavailable(err error) bool {
	var connect *pgconn.ConnectError
	var pgErr *pgconn.PgError
	var netErr *net.OpError
	switch {
	case err == nil:
		return false
	case errors.As(err, &connect), errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF), pgconn.Timeout(err):
		return true
	case errors.Is(err, driver.ErrBadConn):
		// database/sql (tenants, credentials) gives this when its retries on
		// fresh connections ran out.
		return true
	case errors.As(err, &pgErr):
		// 08: connection exception; 57P01-03: shutdown, crash, starting up.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return false
}
