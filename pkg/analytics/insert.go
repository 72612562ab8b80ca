package analytics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// columns is the explicit column list every INSERT names (ClickHouse 18.16
// requires it for batch inserts), in the order appendColumns fills them.
var columns = []string{
	"tenant", "statement_id", "timestamp", "timestamp_ms", "stored", "stored_ms",
	"actor_kind", "actor_ifi_kind", "actor_ifi", "actor_name", "actor_account_home_page", "actor_account_name",
	"verb_id", "verb_display", "object_kind", "object_id", "object_type", "object_name",
	"result_success", "result_completion", "result_score_scaled", "result_score_raw", "result_score_min",
	"result_score_max", "result_duration_s", "result_response",
	"context_registration", "context_platform", "context_language", "context_instructor", "context_team",
	"context_parent_ids", "context_grouping_ids", "context_category_ids", "context_other_ids",
	"context_agents", "context_groups", "context_extension_keys", "result_extension_keys", "object_extension_keys",
	"version", "authority", "voided_statement_id", "statement_json",
	"source", "original_stored", "original_stored_ms",
}

var insertQuery = "INSERT INTO statements (" + strings.Join(columns, ", ") + ")"

// Insert writes the statements. Retrying with the same or overlapping input
// never makes the views count a statement twice. Statements that can never
// be written are skipped and returned as bad rows with a nil error; any
// other error means nothing is known to be written and the caller retries
// the whole call later.
func (c *ClickHouse) Insert(ctx context.Context, stmts []Statement) (bad []RowError, err error) {
	rows, bad := c.flattenAll(stmts)
	var pieces [][]row
	for _, chunk := range splitByPartitions(rows, c.cfg.MaxPartitionsPerInsert) {
		pieces = append(pieces, cut(chunk, c.cfg.InsertConcurrency, minRowsPerInsert)...)
	}
	if err := c.sendAll(ctx, pieces); err != nil {
		return nil, err
	}
	return bad, nil
}

// minRowsPerInsert keeps the pieces of a cut batch large: ClickHouse wants
// few, big inserts.
const minRowsPerInsert = 10000

// cut splits rows into at most n pieces of at least minRows rows each.
func cut(rows []row, n, minRows int) [][]row {
	n = max(1, min(n, len(rows)/minRows))
	per := (len(rows) + n - 1) / n
	var out [][]row
	for lo := 0; lo < len(rows); lo += per {
		out = append(out, rows[lo:min(lo+per, len(rows))])
	}
	return out
}

// sendAll runs up to InsertConcurrency inserts at once: while the server
// writes one piece, the client converts the next, and on two cores that
// overlap is most of the gain. The first error stops the rest; whatever
// was written stays, and the caller's retry cannot count it twice.
func (c *ClickHouse) sendAll(ctx context.Context, pieces [][]row) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// At least one slot: with none, the first send would wait for ever.
	sem := make(chan struct{}, max(1, c.cfg.InsertConcurrency))
	var wg sync.WaitGroup
	for _, p := range pieces {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.send(ctx, p); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// flattenAll parses the statements on FlattenWorkers goroutines: JSON
// decoding, not the network, bounds the insert rate.
func (c *ClickHouse) flattenAll(stmts []Statement) ([]row, []RowError) {
	rows := make([]row, len(stmts))
	errs := make([]error, len(stmts))
	workers := min(c.cfg.FlattenWorkers, (len(stmts)+255)/256)
	flattenRange := func(lo, hi int) {
		var f flattener
		for i := lo; i < hi; i++ {
			rows[i], errs[i] = f.flatten(stmts[i])
		}
	}
	if workers <= 1 {
		flattenRange(0, len(stmts))
	} else {
		var wg sync.WaitGroup
		per := (len(stmts) + workers - 1) / workers
		for lo := 0; lo < len(stmts); lo += per {
			wg.Go(func() { flattenRange(lo, min(lo+per, len(stmts))) })
		}
		wg.Wait()
	}
	var bad []RowError
	good := rows[:0]
	for i := range rows {
		if errs[i] != nil {
			bad = append(bad, RowError{Index: i, Reason: errs[i].Error()})
			continue
		}
		good = append(good, rows[i])
	}
	return good, bad
}

// splitByPartitions orders rows by partition and cuts them into chunks
// that each touch at most maxParts partitions.
func splitByPartitions(rows []row, maxParts int) [][]row {
	if len(rows) == 0 {
		return nil
	}
	byMonth := func(a, b row) int { return a.month - b.month }
	// A live stream is almost always within one month: skip moving rows.
	if !slices.IsSortedFunc(rows, byMonth) {
		slices.SortStableFunc(rows, byMonth)
	}
	var chunks [][]row
	start, parts := 0, 1
	for i := 1; i < len(rows); i++ {
		if rows[i].month == rows[i-1].month {
			continue
		}
		if parts == maxParts {
			chunks = append(chunks, rows[start:i])
			start, parts = i, 0
		}
		parts++
	}
	return append(chunks, rows[start:])
}

// send writes one chunk with a new batch: a clickhouse-go batch cannot be
// re-sent after a failure, so a retry always starts here again.
func (c *ClickHouse) send(ctx context.Context, rows []row) error {
	batch, err := c.conn.PrepareBatch(ctx, insertQuery)
	if err != nil {
		return fmt.Errorf("analytics: prepare insert: %w", err)
	}
	err = appendColumns(rows, func(i int, v any) error { return batch.Column(i).Append(v) })
	if err != nil {
		_ = batch.Abort()
		return fmt.Errorf("analytics: append column: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("analytics: insert %d rows: %w", len(rows), err)
	}
	return nil
}

// column returns a builder of one column's values for a columnar append,
// which clickhouse-go converts far faster than row-by-row Append.
func column[T any](rows []row, f func(*row) T) func() any {
	return func() any {
		out := make([]T, len(rows))
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}
}

// nonNil gives ClickHouse an empty array where a statement has none.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// appendColumns builds every column and hands it to add.
func appendColumns(rows []row, add func(i int, v any) error) error {
	builders := []func() any{
		column(rows, func(r *row) string { return r.tenant }),
		column(rows, func(r *row) uuid.UUID { return r.statementID }),
		column(rows, func(r *row) int64 { return r.timestamp }),
		column(rows, func(r *row) uint16 { return r.timestampMS }),
		column(rows, func(r *row) int64 { return r.stored }),
		column(rows, func(r *row) uint16 { return r.storedMS }),
		column(rows, func(r *row) string { return r.actorKind }),
		column(rows, func(r *row) string { return r.actorIFIKind }),
		column(rows, func(r *row) string { return r.actorIFI }),
		column(rows, func(r *row) string { return r.actorName }),
		column(rows, func(r *row) string { return r.actorAccountHomePage }),
		column(rows, func(r *row) string { return r.actorAccountName }),
		column(rows, func(r *row) string { return r.verbID }),
		column(rows, func(r *row) string { return r.verbDisplay }),
		column(rows, func(r *row) string { return r.objectKind }),
		column(rows, func(r *row) string { return r.objectID }),
		column(rows, func(r *row) string { return r.objectType }),
		column(rows, func(r *row) string { return r.objectName }),
		column(rows, func(r *row) *uint8 { return r.resultSuccess }),
		column(rows, func(r *row) *uint8 { return r.resultCompletion }),
		column(rows, func(r *row) *float64 { return r.scoreScaled }),
		column(rows, func(r *row) *float64 { return r.scoreRaw }),
		column(rows, func(r *row) *float64 { return r.scoreMin }),
		column(rows, func(r *row) *float64 { return r.scoreMax }),
		column(rows, func(r *row) *float64 { return r.durationS }),
		column(rows, func(r *row) *string { return r.response }),
		column(rows, func(r *row) *uuid.UUID { return r.registration }),
		column(rows, func(r *row) string { return r.platform }),
		column(rows, func(r *row) string { return r.language }),
		column(rows, func(r *row) string { return r.instructor }),
		column(rows, func(r *row) string { return r.team }),
		column(rows, func(r *row) []string { return nonNil(r.parentIDs) }),
		column(rows, func(r *row) []string { return nonNil(r.groupingIDs) }),
		column(rows, func(r *row) []string { return nonNil(r.categoryIDs) }),
		column(rows, func(r *row) []string { return nonNil(r.otherIDs) }),
		column(rows, func(r *row) []string { return nonNil(r.contextAgents) }),
		column(rows, func(r *row) []string { return nonNil(r.contextGroups) }),
		column(rows, func(r *row) []string { return nonNil(r.contextExtKeys) }),
		column(rows, func(r *row) []string { return nonNil(r.resultExtKeys) }),
		column(rows, func(r *row) []string { return nonNil(r.objectExtKeys) }),
		column(rows, func(r *row) string { return r.version }),
		column(rows, func(r *row) string { return r.authority }),
		column(rows, func(r *row) *uuid.UUID { return r.voidedStatementID }),
		column(rows, func(r *row) []byte { return r.json }),
		column(rows, func(r *row) string { return r.source }),
		column(rows, func(r *row) *int64 { return r.originalStored }),
		column(rows, func(r *row) uint16 { return r.originalStoredMS }),
	}
	for i, b := range builders {
		if err := add(i, b()); err != nil {
			return fmt.Errorf("%s: %w", columns[i], err)
		}
	}
	return nil
}
