package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// SQLite is the embedded backend: one file in WAL mode, one writer
// connection (SQLite allows one writer at a time; queuing in Go is cheaper
// than busy-waiting in SQLite) and a pool of readers.
type SQLite struct {
	*sqlDB // w is the writer, r the readers
}

var _ Store = (*SQLite)(nil)

// sqliteReaders is the size of the read pool.
const sqliteReaders = 4

// OpenSQLite opens (creating if need be) the database file at path. The
// schema is not migrated here.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open SQLite: path %q is empty or holds '?' or '#'", path)
	}
	// Create the file owner-only: it holds every tenant's statements and
	// the credentials' hashes. SQLite gives its -wal and -shm files the
	// database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open SQLite: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("open SQLite: %w", err)
	}
	if fi.Size() == 0 {
		if err := initSQLiteFile(ctx, path); err != nil {
			return nil, err
		}
	}
	// synchronous=NORMAL in WAL mode may lose the last transactions on power
	// loss but never tears one: rows and offsets stay consistent, and the
	// consumer resumes from the offsets the file holds.
	// temp_store=memory keeps the statement journal of multi-row inserts off
	// the disk; the writer's larger page cache keeps a batch's dirty pages
	// from spilling into the WAL before commit. Both were most of a batch's
	// time with the defaults. mmap spares a read syscall per page.
	// The writer checkpoints the WAL at 4,000 pages (64 MiB with the page
	// size initSQLiteFile sets) instead of 1,000: pages rewritten by
	// consecutive batches (the ends of the append-ordered indexes) are
	// copied into the database once per checkpoint, not once per batch.
	const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=synchronous(normal)&_pragma=foreign_keys(1)&_pragma=temp_store(memory)&_pragma=mmap_size(1073741824)"
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=cache_size(-131072)&_pragma=wal_autocheckpoint(4000)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=cache_size(-32768)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	r.SetMaxOpenConns(sqliteReaders)
	r.SetMaxIdleConns(sqliteReaders)
	common, err := newSQLDB(w, r, sqliteDialect)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	return &SQLite{sqlDB: common}, nil
}

// sqlitePageSize is the page size of the database files OpenSQLite
// creates. An imported statement writes about 3 KB (its body, 8 or so key
// rows, its index entries) and every page goes through the WAL and then the
// database file, one write call each: with 16 KiB pages instead of SQLite's
// 4 KiB the store applied 300,000 imported statements about 8 % faster in
// four alternating runs (docs/performance.md); 8 KiB gained nothing and
// 32 KiB was slower again. Files created before keep their page size (a WAL
// database cannot change it).
const sqlitePageSize = 16384

// initSQLiteFile gives the empty file at path its page size. The driver
// runs a DSN's pragmas in lexical order, journal_mode before page_size,
// and a page size set after WAL mode is ignored: so the page size is set
// first, on a connection of its own, and WAL mode then fixes it in the
// file's header.
func initSQLiteFile(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=page_size("+strconv.Itoa(sqlitePageSize)+")")
	if err != nil {
		return fmt.Errorf("create SQLite %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = wal"); err != nil {
		return fmt.Errorf("create SQLite %s: %w", path, err)
	}
	return nil
}

func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping SQLite: %w", err)
	}
	return nil
}

func (s *SQLite) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *SQLite) ApplyStatements(ctx context.Context, group string, stmts []Statement, offsets []Offset) (ApplyResult, error) {
	if group == "" && len(offsets) > 0 {
		return ApplyResult{}, errors.New("apply statements: offsets need a consumer group")
	}
	todo, res, err := plan(stmts)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply statements: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		return s.applyTx(ctx, tx, group, todo, mergeOffsets(offsets), &res)
	})
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply statements: %w", err)
	}
	return res, nil
}

func (s *SQLite) applyTx(ctx context.Context, tx *sql.Tx, group string, todo []planned, offsets []Offset, res *ApplyResult) error {
	insert, err := tx.PrepareContext(ctx, `INSERT INTO statements (tenant, id, stored, fingerprint, voided, voiding, ref, body, source, original_stored)
VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer insert.Close()

	var inserted []planned
	filled := map[string]bool{}
	for _, p := range todo {
		var ref any
		if p.Ref != "" {
			ref = p.Ref
		}
		source, originalStored := sqliteProvenance(p)
		r, err := insert.ExecContext(ctx, p.Tenant, p.ID, toMicros(p.Stored), p.Fingerprint, b2i(p.Voiding), ref, p.JSON, source, originalStored)
		if err != nil {
			return fmt.Errorf("insert statement %s: %w", p.ID, err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("insert statement %s: %w", p.ID, err)
		} else if n == 0 {
			// The id exists: a placeholder to fill, a duplicate or a conflict.
			ok, err := s.fillOrClassify(ctx, tx, p, ref, res)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			filled[p.Tenant+"\x00"+p.ID] = true
		}
		inserted = append(inserted, p)
	}
	res.Inserted += len(inserted)
	if err := insertKeys(ctx, tx, inserted); err != nil {
		return err
	}
	if err := applyRefs(ctx, sqliteRefTx{tx}, inserted, filled); err != nil {
		return err
	}
	now := time.Now().UnixMicro()
	for _, c := range conflictsOfContent(res.Conflicts) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO statement_conflicts (tenant, id, fingerprint, stored_fingerprint, detected_at)
VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, c.Statement.Tenant, c.Statement.ID, c.Statement.Fingerprint, c.Existing, now); err != nil {
			return fmt.Errorf("record conflict: %w", err)
		}
	}
	for _, o := range offsets {
		if _, err := tx.ExecContext(ctx, `INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset, updated_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (consumer_group, topic, partition) DO UPDATE
    SET next_offset = max(next_offset, excluded.next_offset), updated_at = excluded.updated_at`,
			group, o.Topic, o.Partition, o.Next, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("record offsets: %w", err)
		}
	}
	return nil
}

// fillOrClassify handles a statement whose id exists: it fills a
// placeholder (filled=true) or counts a duplicate or conflict.
func (s *SQLite) fillOrClassify(ctx context.Context, tx *sql.Tx, p planned, ref any, res *ApplyResult) (filled bool, err error) {
	var fp sql.NullString
	var placeholder bool
	if err := tx.QueryRowContext(ctx, "SELECT fingerprint, body IS NULL FROM statements WHERE tenant = ? AND id = ?",
		p.Tenant, p.ID).Scan(&fp, &placeholder); err != nil {
		return false, fmt.Errorf("look up statement %s: %w", p.ID, err)
	}
	switch {
	case placeholder:
		source, originalStored := sqliteProvenance(p)
		if _, err := tx.ExecContext(ctx, `UPDATE statements SET stored = ?, fingerprint = ?, voiding = ?, ref = ?, body = ?,
    voided = voided AND NOT ?, source = ?, original_stored = ? WHERE tenant = ? AND id = ?`,
			toMicros(p.Stored), p.Fingerprint, b2i(p.Voiding), ref, p.JSON, b2i(p.Voiding), source, originalStored, p.Tenant, p.ID); err != nil {
			return false, fmt.Errorf("insert statement %s: %w", p.ID, err)
		}
		return true, nil
	case fp.String == p.Fingerprint:
		res.Duplicates++
	default:
		res.Conflicts = append(res.Conflicts, Conflict{Statement: p.Statement, Reason: reasonConflict, Existing: fp.String})
	}
	return false, nil
}

// sqliteKeyRows is how many rows one multi-row INSERT carries (see
// sqliteRows).
const sqliteKeyRows = 200

// sqliteKeyTenant is the tenant column of the statement_keys rows SQLite
// writes: empty. The digest already holds the tenant and every query joins
// statements on the tenant it was given, so nothing reads the column,
// while writing the tenant into each of a statement's 8 or so rows costs in
// proportion to its length: storebench, whose tenant has 26 characters, ran
// 24 % faster without (with "default" the gain is within the noise). The
// column stays NOT NULL, and rows written before keep their tenant: a
// migration would have to rebuild the table.
const sqliteKeyTenant = "''"

// insertKeys inserts the own keys of new statements.
func insertKeys(ctx context.Context, tx *sql.Tx, stmts []planned) error {
	type row struct {
		digest [16]byte
		stored int64
		p      *planned
		direct bool
	}
	var rows []row
	for i := range stmts {
		p := &stmts[i]
		for j, k := range p.Keys {
			rows = append(rows, row{p.digests[j], toMicros(p.Stored), p, k.Direct})
		}
	}
	// The table is clustered on random digests: inserting in key order
	// walks the B-tree once instead of jumping to a random page per row,
	// which is what the store's write rate falls to once the table
	// outgrows the page cache.
	slices.SortFunc(rows, func(a, b row) int {
		if c := bytes.Compare(a.digest[:], b.digest[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.stored, b.stored)
	})
	ins := newSQLiteRows(tx, "INSERT INTO statement_keys (digest, stored, id, direct, tenant) VALUES ", "(?, ?, ?, ?, "+sqliteKeyTenant+")", "")
	defer ins.close()
	for i := range rows {
		r := &rows[i]
		if err := ins.add(ctx, r.digest[:], r.stored, r.p.ID, b2i(r.direct)); err != nil {
			return fmt.Errorf("insert statement keys: %w", err)
		}
	}
	if err := ins.flush(ctx); err != nil {
		return fmt.Errorf("insert statement keys: %w", err)
	}
	return nil
}

// sqliteRefTx implements refTx in a SQLite transaction.
type sqliteRefTx struct{ tx *sql.Tx }

func (t sqliteRefTx) ensureTargets(ctx context.Context, targets []refTarget) error {
	for _, r := range targets {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO statements (tenant, id, voided) VALUES (?, ?, ?)
ON CONFLICT (tenant, id) DO UPDATE SET voided = 1
    WHERE excluded.voided AND NOT statements.voiding AND NOT statements.voided`, r.Tenant, r.ID, b2i(r.Void)); err != nil {
			return err
		}
	}
	return nil
}

func (t sqliteRefTx) statement(ctx context.Context, tenant, id string) (refRow, bool, error) {
	r := refRow{ID: id}
	var stored sql.NullInt64
	err := t.tx.QueryRowContext(ctx, "SELECT stored, body FROM statements WHERE tenant = ? AND id = ?", tenant, id).Scan(&stored, &r.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return refRow{}, false, nil
	}
	if err != nil {
		return refRow{}, false, err
	}
	if stored.Valid {
		r.Stored = fromMicros(stored.Int64)
	}
	return r, true, nil
}

func (t sqliteRefTx) referrers(ctx context.Context, tenant, id string) ([]refRow, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT id, stored FROM statements WHERE tenant = ? AND ref = ? AND body IS NOT NULL", tenant, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []refRow
	for rows.Next() {
		var r refRow
		var us int64
		if err := rows.Scan(&r.ID, &us); err != nil {
			return nil, err
		}
		r.Stored = fromMicros(us)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t sqliteRefTx) upsertKeys(ctx context.Context, keys []keyRow) error {
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO statement_keys (digest, stored, id, direct, tenant) VALUES (?, ?, ?, ?, `+sqliteKeyTenant+`)
ON CONFLICT (digest, stored, id) DO UPDATE SET direct = 1 WHERE excluded.direct AND NOT statement_keys.direct`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, k := range keys {
		d := keyDigest(k.Tenant, k.Key)
		if _, err := st.ExecContext(ctx, d[:], toMicros(k.Stored), k.ID, b2i(k.Direct)); err != nil {
			return err
		}
	}
	return nil
}

func (s *SQLite) AppliedOffsets(ctx context.Context, group, topic string) (map[int32]int64, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT partition, next_offset FROM consumer_offsets WHERE consumer_group = ? AND topic = ?", group, topic)
	if err != nil {
		return nil, fmt.Errorf("read applied offsets: %w", err)
	}
	defer rows.Close()
	return scanOffsets(rows)
}

// sqliteKeysPerQuery bounds the (tenant, id) pairs of one lookup, well
// under SQLite's limit on bound parameters.
const sqliteKeysPerQuery = 400

func (s *SQLite) ScanStatementKeys(ctx context.Context, fn func(StatementKey) error) error {
	rows, err := s.r.QueryContext(ctx, "SELECT tenant, id FROM statements WHERE body IS NOT NULL")
	if err != nil {
		return fmt.Errorf("scan statement keys: %w", err)
	}
	return scanKeys(sqlRows{rows}, fn)
}

// sqlRows adapts database/sql rows to the pgx-style Close.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func (s *SQLite) Fingerprints(ctx context.Context, keys []StatementKey) (map[StatementKey]string, error) {
	out := make(map[StatementKey]string, len(keys))
	var q strings.Builder
	args := make([]any, 0, 2*min(len(keys), sqliteKeysPerQuery))
	for len(keys) > 0 {
		n := min(len(keys), sqliteKeysPerQuery)
		q.Reset()
		q.WriteString(`SELECT tenant, id, fingerprint FROM statements WHERE body IS NOT NULL AND (tenant, id) IN (VALUES `)
		args = args[:0]
		for i, k := range keys[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?)")
			args = append(args, k.Tenant, strings.ToLower(k.ID))
		}
		q.WriteByte(')')
		keys = keys[n:]
		rows, err := s.r.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("read fingerprints: %w", err)
		}
		for rows.Next() {
			var k StatementKey
			var fp string
			if err := rows.Scan(&k.Tenant, &k.ID, &fp); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read fingerprints: %w", err)
			}
			out[k] = fp
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read fingerprints: %w", err)
		}
	}
	return out, nil
}

func (s *SQLite) GetStatement(ctx context.Context, tenant, id string, voided bool) (Statement, error) {
	st := Statement{Tenant: tenant}
	var us int64
	err := s.r.QueryRowContext(ctx, `SELECT id, stored, fingerprint, body FROM statements
WHERE tenant = ? AND id = ? AND body IS NOT NULL AND voided = ?`, tenant, strings.ToLower(id), b2i(voided)).
		Scan(&st.ID, &us, &st.Fingerprint, &st.JSON)
	if errors.Is(err, sql.ErrNoRows) {
		return Statement{}, fmt.Errorf("statement %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Statement{}, fmt.Errorf("get statement %s: %w", id, err)
	}
	st.Stored = fromMicros(us)
	return st, nil
}

func (s *SQLite) QueryStatements(ctx context.Context, q Query) (Page, error) {
	l, err := s.prepareListing(ctx, q)
	if err != nil {
		return Page{}, err
	}
	rows, err := s.r.QueryContext(ctx, l.sql, l.args...)
	if err != nil {
		return Page{}, fmt.Errorf("query statements: %w", err)
	}
	defer rows.Close()
	var out []Statement
	for rows.Next() {
		st := Statement{Tenant: l.Tenant}
		var us int64
		if err := rows.Scan(&st.ID, &us, &st.Fingerprint, &st.JSON); err != nil {
			return Page{}, fmt.Errorf("query statements: %w", err)
		}
		st.Stored = fromMicros(us)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("query statements: %w", err)
	}
	return page(l.listing, out, l.key), nil
}

// ExplainQuery returns SQLite's EXPLAIN QUERY PLAN of q, one step a line.
func (s *SQLite) ExplainQuery(ctx context.Context, q Query) (string, error) {
	l, err := s.prepareListing(ctx, q)
	if err != nil {
		return "", err
	}
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+l.sql, l.args...)
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", fmt.Errorf("explain: %w", err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}
