package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Data lifecycle: erasing an agent (GDPR) and purging statements by age.
// Both are written once here, on database/sql, for both backends.

// Erasure is the erasure of one agent from one tenant, as the store-writer
// applies it from an erasure.v1 record (pkg/stream.Erasure).
type Erasure struct {
	ID, Tenant string
	// Agent is the xAPI Agent or identified Group (JSON) whose statements,
	// State and Agent Profile documents go.
	Agent []byte
	// Before bounds the statements erased by their stored time (inclusive).
	Before      time.Time
	RequestedBy string
}

// ErasureCounts is what an erasure or a purge removed, or in a dry run
// would remove.
type ErasureCounts struct {
	Statements  int `json:"statements"`
	Attachments int `json:"attachments"`
	Documents   int `json:"documents"`
}

// ErasureRecord is an erasure the store applied: the agent only as a keyed
// hash (AgentHash), never in clear.
type ErasureRecord struct {
	Tenant      string    `json:"tenant"`
	ID          string    `json:"id"`
	AgentHash   string    `json:"agentHash"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	Before      time.Time `json:"before"`
	Applied     time.Time `json:"applied"`
	ErasureCounts
	// Copies is how many of the erasure's records (one per partition) were
	// applied; the counts add up what each removed.
	Copies int `json:"copies"`
}

// Lifecycle is the data lifecycle role: erasures and retention.
type Lifecycle interface {
	// EraseAgent removes every statement of e.Tenant stored at or before
	// e.Before in which e.Agent appears (but as the authority), their
	// attachments that no remaining statement refers to, and the agent's
	// State and Agent Profile documents; it records the erasure and
	// offsets for group in the same transaction. Applying it again removes
	// what arrived since. Activity definitions stay. A statement that refers
	// to an erased one (StatementRef, voiding) stays, pointing at nothing,
	// and no longer matches the agent's filters.
	EraseAgent(ctx context.Context, group string, e Erasure, offsets []Offset) (ErasureCounts, error)
	// CountErasure is EraseAgent's dry run: what it would remove now.
	CountErasure(ctx context.Context, e Erasure) (ErasureCounts, error)
	// ListErasures returns the tenant's erasures, newest first, at most limit.
	ListErasures(ctx context.Context, tenant string, limit int) ([]ErasureRecord, error)
	// AgentHash is the keyed hash under which erasures of agent are
	// recorded in tenant (to look one up).
	AgentHash(ctx context.Context, tenant string, agent []byte) (string, error)
	// PurgeBefore removes (or, with dryRun, counts) the tenant's statements
	// stored before before, at most limit of them, with their attachments
	// that no remaining statement refers to. Call it until it removes
	// fewer than limit.
	PurgeBefore(ctx context.Context, tenant string, before time.Time, limit int, dryRun bool) (ErasureCounts, error)
	// SetTenantRetention sets the longest a tenant keeps statements (0: for
	// ever); ErrNotFound if the tenant is absent.
	SetTenantRetention(ctx context.Context, id string, retention time.Duration) (Tenant, error)
}

const (
	erasureKeyName     = "erasure"
	maxErasuresListed  = 1000
	documentKindsErase = "1, 3" // KindState, KindAgentProfile
)

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

func (s *sqlDB) EraseAgent(ctx context.Context, group string, e Erasure, offsets []Offset) (ErasureCounts, error) {
	return s.erase(ctx, group, e, offsets, false)
}

func (s *sqlDB) CountErasure(ctx context.Context, e Erasure) (ErasureCounts, error) {
	return s.erase(ctx, "", e, nil, true)
}

func (s *sqlDB) erase(ctx context.Context, group string, e Erasure, offsets []Offset, dry bool) (ErasureCounts, error) {
	if e.Tenant == "" || e.ID == "" || e.Before.IsZero() {
		return ErasureCounts{}, fmt.Errorf("%w: an erasure needs an id, a tenant and a time", ErrInvalidQuery)
	}
	key, err := agentKey(string(e.Agent))
	if err != nil {
		return ErasureCounts{}, err
	}
	// Before the transaction: on SQLite the key is read on the writer
	// connection, which the transaction holds.
	hash, err := s.agentHash(ctx, e.Tenant, key)
	if err != nil {
		return ErasureCounts{}, err
	}
	var n ErasureCounts
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if n, err = s.eraseTx(ctx, tx, e.Tenant, key, e.Before); err != nil {
			return err
		}
		if dry {
			return errDryRun
		}
		now := s.time(time.Now())
		if _, err := tx.ExecContext(ctx, s.d.bind(`INSERT INTO erasures (tenant, id, agent_hash, requested_by, before_time, applied_at, statements, attachments, documents, copies)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
ON CONFLICT (tenant, id) DO UPDATE SET applied_at = excluded.applied_at, statements = erasures.statements + excluded.statements,
    attachments = erasures.attachments + excluded.attachments, documents = erasures.documents + excluded.documents, copies = erasures.copies + 1`),
			e.Tenant, e.ID, hash, e.RequestedBy, s.time(e.Before), now, n.Statements, n.Attachments, n.Documents); err != nil {
			return fmt.Errorf("record erasure: %w", err)
		}
		return s.recordOffsets(ctx, tx, group, offsets)
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("erase agent from tenant %s: %w", e.Tenant, err)
	}
	return n, nil
}

// eraseTx removes the agent of key (an agent index key) from tenant.
func (s *sqlDB) eraseTx(ctx context.Context, tx *sql.Tx, tenant, key string, before time.Time) (ErasureCounts, error) {
	digest := s.d.digestArg(keyDigest(tenant, key))
	// Every statement naming the agent carries its key (the keys also hold
	// the authority's agents and what StatementRefs inherit, which the
	// check below tells apart).
	// The digest is the tenant's (SQLite leaves the keys' tenant column
	// empty, see sqliteKeyTenant), and statements are joined on it, as the
	// listings do.
	rows, err := tx.QueryContext(ctx, s.d.bind(`SELECT `+s.d.idCol("s.id")+`, s.stored, s.body FROM statement_keys k
JOIN statements s ON s.tenant = ? AND s.id = k.id
WHERE k.digest = ? AND k.stored <= ? AND s.body IS NOT NULL`), tenant, digest, s.time(before))
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("find the agent's statements: %w", err)
	}
	found, err := collect(rows, scanStoredRow)
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("find the agent's statements: %w", err)
	}
	var erase []storedRow
	for _, r := range found {
		mentions, err := mentionsAgent(r.Body, key)
		if err != nil {
			return ErasureCounts{}, fmt.Errorf("statement %s: %w", r.ID, err)
		}
		if mentions {
			erase = append(erase, r)
			continue
		}
		x, err := extract(r.Body)
		if err != nil {
			return ErasureCounts{}, fmt.Errorf("statement %s: %w", r.ID, err)
		}
		if !hasKey(x.Keys, key) {
			// It refers to a statement of the agent and inherited the key:
			// it stays, but no longer leads to the agent.
			if _, err := tx.ExecContext(ctx, s.d.bind("DELETE FROM statement_keys WHERE digest = ? AND stored = ? AND id = ?id"), digest, s.time(r.Stored), r.ID); err != nil {
				return ErasureCounts{}, fmt.Errorf("drop an inherited key: %w", err)
			}
		}
	}
	n, err := s.removeStatements(ctx, tx, tenant, erase)
	if err != nil {
		return ErasureCounts{}, err
	}
	agents := []any{strings.TrimPrefix(key, prefixAgent)}
	if ifi := agents[0].(string); strings.HasPrefix(ifi, "sha1:") {
		// The document resources keep an mbox_sha1sum in lower case.
		agents = append(agents, strings.ToLower(ifi))
	}
	res, err := tx.ExecContext(ctx, s.d.bind("DELETE FROM documents WHERE tenant = ? AND kind IN ("+documentKindsErase+") AND agent IN (?"+strings.Repeat(", ?", len(agents)-1)+")"),
		append([]any{tenant}, agents...)...)
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("delete the agent's documents: %w", err)
	}
	docs, err := res.RowsAffected()
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("delete the agent's documents: %w", err)
	}
	n.Documents = int(docs)
	return n, nil
}

// storedRow is a statement with its body.
type storedRow struct {
	ID     string
	Stored time.Time
	Body   []byte
}

func scanStoredRow(r rowScanner) (storedRow, error) {
	var row storedRow
	err := r.Scan(&row.ID, timeDest{&row.Stored}, &row.Body)
	return row, err
}

func hasKey(keys []indexKey, key string) bool {
	for _, k := range keys {
		if k.Key == key {
			return true
		}
	}
	return false
}

// removeStatements deletes rows (statements of tenant) with their index
// keys, inherited ones included, their attachment grants, and the
// attachments no remaining statement names.
func (s *sqlDB) removeStatements(ctx context.Context, tx *sql.Tx, tenant string, rows []storedRow) (ErasureCounts, error) {
	var n ErasureCounts
	get := sqlStatementGetter{tx: tx, d: s.d}
	hashes := map[string]bool{}
	for _, r := range rows {
		x, err := extract(r.Body)
		if err != nil {
			return n, fmt.Errorf("statement %s: %w", r.ID, err)
		}
		keys := x.Keys
		if x.Ref != "" {
			inherited, err := chainKeys(ctx, get, tenant, x.Ref)
			if err != nil {
				return n, err
			}
			keys = append(keys, inherited...)
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, s.d.bind("DELETE FROM statement_keys WHERE digest = ? AND stored = ? AND id = ?id"),
				s.d.digestArg(keyDigest(tenant, k.Key)), s.time(r.Stored), r.ID); err != nil {
				return n, fmt.Errorf("delete the keys of %s: %w", r.ID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.bind("DELETE FROM statements WHERE tenant = ? AND id = ?id"), tenant, r.ID); err != nil {
			return n, fmt.Errorf("delete statement %s: %w", r.ID, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.bind("DELETE FROM attachment_grants WHERE tenant = ? AND statement_id = ?"), tenant, r.ID); err != nil {
			return n, fmt.Errorf("delete the attachment grants of %s: %w", r.ID, err)
		}
		for _, h := range attachmentHashes(r.Body) {
			hashes[h] = true
		}
		n.Statements++
	}
	for h := range hashes {
		// A statement names an attachment by its hash, which is nowhere
		// else in a statement's JSON: one that still holds it keeps it.
		var used int
		if err := tx.QueryRowContext(ctx, s.d.bind(`SELECT count(*) FROM statements WHERE tenant = ? AND `+s.d.bodyContains), tenant, h).Scan(&used); err != nil {
			return n, fmt.Errorf("find statements naming attachment %s: %w", h, err)
		}
		if used > 0 {
			continue
		}
		res, err := tx.ExecContext(ctx, s.d.bind("DELETE FROM attachments WHERE tenant = ? AND sha2 = ?"), tenant, strings.ToLower(h))
		if err != nil {
			return n, fmt.Errorf("delete attachment %s: %w", h, err)
		}
		if k, err := res.RowsAffected(); err == nil {
			n.Attachments += int(k)
		}
	}
	return n, nil
}

// attachmentHashes returns the sha2 of each attachment of a statement. The
// store-writer parsed the statement when it stored it, so an error here
// cannot happen and would only keep the attachments.
func attachmentHashes(body []byte) []string {
	var st struct {
		Attachments []struct {
			SHA2 string `json:"sha2"`
		} `json:"attachments"`
	}
	if json.Unmarshal(body, &st) != nil {
		return nil
	}
	out := make([]string, 0, len(st.Attachments))
	for _, a := range st.Attachments {
		if a.SHA2 != "" && strings.Trim(strings.ToLower(a.SHA2), "0123456789abcdef") == "" {
			out = append(out, a.SHA2)
		}
	}
	return out
}

// sqlStatementGetter reads statement rows in a database/sql transaction.
type sqlStatementGetter struct {
	tx *sql.Tx
	d  dialect
}

func (g sqlStatementGetter) statement(ctx context.Context, tenant, id string) (refRow, bool, error) {
	r := refRow{ID: id}
	err := g.tx.QueryRowContext(ctx, g.d.bind("SELECT stored, body FROM statements WHERE tenant = ? AND id = ?id"), tenant, id).Scan(timeDest{&r.Stored}, &r.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return refRow{}, false, nil
	}
	return r, err == nil, err
}

// recordOffsets records the next offsets for group; they never move back.
func (s *sqlDB) recordOffsets(ctx context.Context, tx *sql.Tx, group string, offsets []Offset) error {
	for _, o := range mergeOffsets(offsets) {
		if _, err := tx.ExecContext(ctx, s.d.bind(`INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (consumer_group, topic, partition) DO UPDATE
    SET next_offset = `+s.d.greatest+`(consumer_offsets.next_offset, excluded.next_offset), updated_at = excluded.updated_at`),
			group, o.Topic, o.Partition, o.Next, s.time(time.Now())); err != nil {
			return fmt.Errorf("record offsets: %w", err)
		}
	}
	return nil
}

func (s *sqlDB) agentHash(ctx context.Context, tenant, key string) (string, error) {
	k, err := s.erasure.get(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil)), nil
}

func (s *sqlDB) AgentHash(ctx context.Context, tenant string, agent []byte) (string, error) {
	key, err := agentKey(string(agent))
	if err != nil {
		return "", err
	}
	return s.agentHash(ctx, tenant, key)
}

func (s *sqlDB) ListErasures(ctx context.Context, tenant string, limit int) ([]ErasureRecord, error) {
	rows, err := s.r.QueryContext(ctx, s.d.bind(`SELECT tenant, id, agent_hash, requested_by, before_time, applied_at, statements, attachments, documents, copies
FROM erasures WHERE tenant = ? ORDER BY applied_at DESC, id LIMIT ?`), tenant, min(max(limit, 1), maxErasuresListed))
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (ErasureRecord, error) {
		var e ErasureRecord
		err := r.Scan(&e.Tenant, &e.ID, &e.AgentHash, &e.RequestedBy, timeDest{&e.Before}, timeDest{&e.Applied},
			&e.Statements, &e.Attachments, &e.Documents, &e.Copies)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	return out, nil
}

func (s *sqlDB) PurgeBefore(ctx context.Context, tenant string, before time.Time, limit int, dry bool) (ErasureCounts, error) {
	if tenant == "" || before.IsZero() || limit < 1 {
		return ErasureCounts{}, fmt.Errorf("%w: a purge needs a tenant, a time and a limit", ErrInvalidQuery)
	}
	if dry {
		var n ErasureCounts
		err := s.r.QueryRowContext(ctx, s.d.bind("SELECT count(*) FROM statements WHERE tenant = ? AND stored < ? AND body IS NOT NULL"),
			tenant, s.time(before)).Scan(&n.Statements)
		if err != nil {
			return ErasureCounts{}, fmt.Errorf("count statements to purge: %w", err)
		}
		return n, nil
	}
	var n ErasureCounts
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.d.bind(`SELECT `+s.d.idCol("id")+`, stored, body FROM statements
WHERE tenant = ? AND stored < ? AND body IS NOT NULL ORDER BY stored LIMIT ?`), tenant, s.time(before), limit)
		if err != nil {
			return err
		}
		old, err := collect(rows, scanStoredRow)
		if err != nil {
			return err
		}
		n, err = s.removeStatements(ctx, tx, tenant, old)
		return err
	})
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("purge statements of tenant %s: %w", tenant, err)
	}
	return n, nil
}
