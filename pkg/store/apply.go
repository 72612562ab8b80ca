package store

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
)

// The write path shared by both backends. A batch is applied in one
// transaction in these steps:
//
//  1. plan: drop in-batch repeats (first copy wins) and parse what is indexed;
//  2. the backend inserts the new statements with their keys, filling the
//     placeholder of a statement referred to before it arrived;
//  3. statements not inserted are duplicates (same fingerprint) or conflicts;
//  4. refs: each new statement that refers to another (StatementRef object)
//     makes sure the target row exists, as a placeholder if need be, and
//     voids it if it is a voiding statement; it then inherits the keys of
//     the target chain; a statement that filled a placeholder passes its keys
//     up to the statements that refer to it;
//  5. activities: the Activity definitions the new statements carry are
//     merged into the canonical ones (activities.go);
//  6. the backend records the offsets.
//
// The placeholder row is what makes the order of arrival irrelevant, even
// with concurrent writers: a statement and the statements referring to it
// all write the same (tenant, id) row, so PostgreSQL's unique index makes the
// later transaction wait for the earlier one and then see its result.

// maxRefDepth bounds StatementRef chains, which may even be cycles.
const maxRefDepth = 16

// reasonConflict is the Conflict reason of a statement whose id exists with
// other content.
const reasonConflict = "a statement with this id and different content exists"

// planned is one statement of a batch ready for the backend.
type planned struct {
	Statement
	parsed
	uid uuid.UUID // ID parsed
}

// parsed is what planning finds in one statement on its own.
type parsed struct {
	extracted
	err     error      // why the statement could not be parsed
	digests [][16]byte // of Keys, in their order
	// acts are the Activities with a definition in the statement, actsErr
	// why they could not be read.
	acts    []definedActivity
	actsErr error
}

// parseAll parses every statement, on every core: the backend's
// transaction waits for it, and on SQLite that is the store's one writer
// thread, for which parsing, hashing the keys and reading the Activity
// definitions were a sixth of the work.
func parseAll(stmts []Statement) []parsed {
	out := make([]parsed, len(stmts))
	workers := min(runtime.GOMAXPROCS(0), (len(stmts)+255)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(stmts); i += workers {
				s, r := &stmts[i], &out[i]
				if r.extracted, r.err = extract(s.JSON); r.err != nil {
					continue
				}
				r.digests = make([][16]byte, len(r.Keys))
				for k, key := range r.Keys {
					r.digests[k] = keyDigest(s.Tenant, key.Key)
				}
				r.acts, r.actsErr = statementActivities(s.Tenant, s.JSON)
			}
		}()
	}
	wg.Wait()
	return out
}

// plan dedupes a batch and extracts its index keys. Repeats of an id within
// the batch are duplicates or conflicts of the first copy; a statement that
// cannot be parsed is a conflict too, so that it goes to the dead-letter
// topic instead of blocking the partition.
func plan(stmts []Statement) ([]planned, ApplyResult, error) {
	var res ApplyResult
	for _, s := range stmts {
		if s.Tenant == "" || s.ID == "" || s.Stored.IsZero() || len(s.JSON) == 0 || s.Fingerprint == "" {
			return nil, ApplyResult{}, fmt.Errorf("statement %q of tenant %q lacks tenant, id, stored, JSON or fingerprint", s.ID, s.Tenant)
		}
	}
	all := parseAll(stmts)
	out := make([]planned, 0, len(stmts))
	first := make(map[[2]string]string, len(stmts))
	for i, s := range stmts {
		uid, err := uuid.Parse(s.ID)
		if err != nil || len(s.ID) != 36 {
			res.Conflicts = append(res.Conflicts, Conflict{Statement: s, Reason: "statement id is not a UUID"})
			continue
		}
		s.ID = uid.String()
		k := [2]string{s.Tenant, s.ID}
		if fp, ok := first[k]; ok {
			if fp == s.Fingerprint {
				res.Duplicates++
			} else {
				res.Conflicts = append(res.Conflicts, Conflict{Statement: s, Reason: reasonConflict, Existing: fp})
			}
			continue
		}
		if err := all[i].err; err != nil {
			res.Conflicts = append(res.Conflicts, Conflict{Statement: s, Reason: err.Error()})
			continue
		}
		first[k] = s.Fingerprint
		s.Stored = fromMicros(toMicros(s.Stored))
		out = append(out, planned{Statement: s, parsed: all[i], uid: uid})
	}
	return out, res, nil
}

// classify counts the statements the backend did not insert, given the
// fingerprints their ids hold.
func classify(notInserted []planned, existing map[StatementKey]string, res *ApplyResult) error {
	for _, p := range notInserted {
		fp, ok := existing[StatementKey{p.Tenant, p.ID}]
		switch {
		case !ok:
			return fmt.Errorf("statement %s of tenant %s was neither inserted nor found", p.ID, p.Tenant)
		case fp == p.Fingerprint:
			res.Duplicates++
		default:
			res.Conflicts = append(res.Conflicts, Conflict{Statement: p.Statement, Reason: reasonConflict, Existing: fp})
		}
	}
	return nil
}

// conflictsOfContent are the conflicts to record (see RecentConflicts).
func conflictsOfContent(cs []Conflict) []Conflict {
	var out []Conflict
	for _, c := range cs {
		if c.Existing != "" {
			out = append(out, c)
		}
	}
	return out
}

// maxConflictsListed bounds RecentConflicts.
const maxConflictsListed = 1000

// refTarget is a statement referred to by a new statement.
type refTarget struct {
	Tenant, ID string
	Void       bool // referred to by a voiding statement
}

// refRow is a statement seen while following StatementRefs.
type refRow struct {
	ID     string
	Stored time.Time
	Body   []byte // nil for a placeholder
}

// keyRow is one statement_keys row.
type keyRow struct {
	Tenant, Key, ID string
	Stored          time.Time
	Direct          bool
}

// statementGetter reads one statement row in a transaction.
type statementGetter interface {
	// statement returns a statement (or placeholder) row; ok=false if absent.
	statement(ctx context.Context, tenant, id string) (r refRow, ok bool, err error)
}

// refTx is what the StatementRef step needs from a backend's transaction.
type refTx interface {
	// ensureTargets inserts a placeholder for each target that is missing and
	// voids those with Void set unless they are voiding statements.
	ensureTargets(ctx context.Context, targets []refTarget) error
	statementGetter
	// referrers returns the statements whose object refers to id.
	referrers(ctx context.Context, tenant, id string) ([]refRow, error)
	// upsertKeys inserts keys, OR-ing Direct into existing rows.
	upsertKeys(ctx context.Context, keys []keyRow) error
	activityTx
}

// applyRefs is steps 4 and 5 for the statements inserted (filled marks
// those that replaced a placeholder).
func applyRefs(ctx context.Context, tx refTx, inserted []planned, filled map[string]bool) error {
	if err := applyActivities(ctx, tx, inserted); err != nil {
		return err
	}
	var targets []refTarget
	seen := map[[2]string]int{}
	for _, p := range inserted {
		if p.Ref == "" {
			continue
		}
		k := [2]string{p.Tenant, p.Ref}
		if i, ok := seen[k]; ok {
			targets[i].Void = targets[i].Void || p.Voiding
			continue
		}
		seen[k] = len(targets)
		targets = append(targets, refTarget{Tenant: p.Tenant, ID: p.Ref, Void: p.Voiding})
	}
	if len(targets) > 0 {
		if err := tx.ensureTargets(ctx, targets); err != nil {
			return fmt.Errorf("ensure StatementRef targets: %w", err)
		}
	}
	var keys []keyRow
	for _, p := range inserted {
		if p.Ref != "" {
			inherited, err := chainKeys(ctx, tx, p.Tenant, p.Ref)
			if err != nil {
				return err
			}
			keys = appendKeys(keys, p.Tenant, p.ID, p.Stored, inherited)
		}
		if filled[p.Tenant+"\x00"+p.ID] {
			up, err := p.effectiveKeys(ctx, tx)
			if err != nil {
				return err
			}
			refs, err := allReferrers(ctx, tx, p.Tenant, p.ID)
			if err != nil {
				return err
			}
			for _, r := range refs {
				keys = appendKeys(keys, p.Tenant, r.ID, r.Stored, up)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if err := tx.upsertKeys(ctx, dedupeKeys(keys)); err != nil {
		return fmt.Errorf("store inherited keys: %w", err)
	}
	return nil
}

// effectiveKeys are the keys a new statement passes to the statements
// that refer to it: its own (but its authority) plus those of its target
// chain.
func (p planned) effectiveKeys(ctx context.Context, tx refTx) ([]indexKey, error) {
	own := inheritable(p.Keys)
	if p.Ref == "" {
		return own, nil
	}
	inherited, err := chainKeys(ctx, tx, p.Tenant, p.Ref)
	if err != nil {
		return nil, err
	}
	return append(own, inherited...), nil
}

// chainKeys returns the keys of statement id and of the statements it
// refers to, recursively, but their authorities; a placeholder
// contributes nothing (yet).
func chainKeys(ctx context.Context, tx statementGetter, tenant, id string) ([]indexKey, error) {
	var keys []indexKey
	visited := map[string]bool{}
	for depth := 0; id != "" && !visited[id] && depth < maxRefDepth; depth++ {
		visited[id] = true
		r, ok, err := tx.statement(ctx, tenant, id)
		if err != nil {
			return nil, fmt.Errorf("follow StatementRef to %s: %w", id, err)
		}
		if !ok || r.Body == nil {
			break
		}
		x, err := extract(r.Body)
		if err != nil {
			return nil, fmt.Errorf("follow StatementRef to %s: %w", id, err)
		}
		keys = append(keys, inheritable(x.Keys)...)
		id = x.Ref
	}
	return keys, nil
}

// allReferrers returns the statements that refer to id directly or through
// a chain of StatementRefs.
func allReferrers(ctx context.Context, tx refTx, tenant, id string) ([]refRow, error) {
	var out []refRow
	visited := map[string]bool{id: true}
	level := []string{id}
	for depth := 0; len(level) > 0 && depth < maxRefDepth; depth++ {
		var next []string
		for _, target := range level {
			rs, err := tx.referrers(ctx, tenant, target)
			if err != nil {
				return nil, fmt.Errorf("find statements referring to %s: %w", target, err)
			}
			for _, r := range rs {
				if !visited[r.ID] {
					visited[r.ID] = true
					out = append(out, r)
					next = append(next, r.ID)
				}
			}
		}
		level = next
	}
	return out, nil
}

func appendKeys(dst []keyRow, tenant, id string, stored time.Time, keys []indexKey) []keyRow {
	for _, k := range keys {
		dst = append(dst, keyRow{Tenant: tenant, Key: k.Key, ID: id, Stored: stored, Direct: k.Direct})
	}
	return dst
}

// dedupeKeys merges rows for the same (tenant, key, id): one upsert
// statement may not touch a row twice.
func dedupeKeys(keys []keyRow) []keyRow {
	idx := make(map[[3]string]int, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		mk := [3]string{k.Tenant, k.Key, k.ID}
		if i, ok := idx[mk]; ok {
			out[i].Direct = out[i].Direct || k.Direct
			continue
		}
		idx[mk] = len(out)
		out = append(out, k)
	}
	return out
}

// mergeOffsets keeps the highest next offset per partition.
func mergeOffsets(offsets []Offset) []Offset {
	idx := map[struct {
		t string
		p int32
	}]int{}
	var out []Offset
	for _, o := range offsets {
		k := struct {
			t string
			p int32
		}{o.Topic, o.Partition}
		if i, ok := idx[k]; ok {
			out[i].Next = max(out[i].Next, o.Next)
			continue
		}
		idx[k] = len(out)
		out = append(out, o)
	}
	return out
}

// keyRows is what both backends' row iterators offer.
type keyRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// scanKeys calls fn for each (tenant, id) row and closes rows.
func scanKeys(rows keyRows, fn func(StatementKey) error) error {
	defer rows.Close()
	for rows.Next() {
		var k StatementKey
		if err := rows.Scan(&k.Tenant, &k.ID); err != nil {
			return fmt.Errorf("scan statement keys: %w", err)
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan statement keys: %w", err)
	}
	return nil
}
