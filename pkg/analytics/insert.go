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
}

var insertQuery = "INSERT INTO statements (" + strings.Join(columns, ", ") + ")"

// Insert writes the statements. Retrying with the same or overlapping input
// never makes the views count a statement twice. Statements that can never
// be written are skipped and returned as bad rows with a nil error; any
// other error means nothing is known to be written and the caller retries
// the whole call later.
func (c *ClickHouse) Insert(ctx context.Context, stmts []Statement) (bad []RowError, err error) {
	rows, bad := c.flattenAll(stmts)
	for _, chunk := range splitByPartitions(rows, c.cfg.MaxPartitionsPerInsert) {
		if err := c.send(ctx, chunk); err != nil {
			return nil, err
		}
	}
	return bad, nil
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
	slices.SortStableFunc(rows, func(a, b row) int { return a.month - b.month })
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
	if err := appendColumns(rows, func(i int, v any) error { return batch.Column(i).Append(v) }); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("analytics: append column: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("analytics: insert %d rows: %w", len(rows), err)
	}
	return nil
}

// appendColumns hands the rows to the batch column by column, which
// clickhouse-go converts far faster than row-by-row Append.
func appendColumns(rows []row, add func(i int, v any) error) error {
	n := len(rows)
	str := func(f func(*row) string) []string {
		out := make([]string, n)
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}
	strs := func(f func(*row) []string) [][]string {
		out := make([][]string, n)
		for i := range rows {
			out[i] = f(&rows[i])
			if out[i] == nil {
				out[i] = []string{}
			}
		}
		return out
	}
	i64 := func(f func(*row) int64) []int64 {
		out := make([]int64, n)
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}
	u16 := func(f func(*row) uint16) []uint16 {
		out := make([]uint16, n)
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}
	optU8 := func(f func(*row) *uint8) []*uint8 {
		out := make([]*uint8, n)
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}
	optF64 := func(f func(*row) *float64) []*float64 {
		out := make([]*float64, n)
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}
	optUUID := func(f func(*row) *uuid.UUID) []*uuid.UUID {
		out := make([]*uuid.UUID, n)
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}
	ids := make([]uuid.UUID, n)
	responses := make([]*string, n)
	docs := make([][]byte, n)
	for i := range rows {
		ids[i] = rows[i].statementID
		responses[i] = rows[i].response
		docs[i] = rows[i].json
	}
	values := []any{
		str(func(r *row) string { return r.tenant }),
		ids,
		i64(func(r *row) int64 { return r.timestamp }),
		u16(func(r *row) uint16 { return r.timestampMS }),
		i64(func(r *row) int64 { return r.stored }),
		u16(func(r *row) uint16 { return r.storedMS }),
		str(func(r *row) string { return r.actorKind }),
		str(func(r *row) string { return r.actorIFIKind }),
		str(func(r *row) string { return r.actorIFI }),
		str(func(r *row) string { return r.actorName }),
		str(func(r *row) string { return r.actorAccountHomePage }),
		str(func(r *row) string { return r.actorAccountName }),
		str(func(r *row) string { return r.verbID }),
		str(func(r *row) string { return r.verbDisplay }),
		str(func(r *row) string { return r.objectKind }),
		str(func(r *row) string { return r.objectID }),
		str(func(r *row) string { return r.objectType }),
		str(func(r *row) string { return r.objectName }),
		optU8(func(r *row) *uint8 { return r.resultSuccess }),
		optU8(func(r *row) *uint8 { return r.resultCompletion }),
		optF64(func(r *row) *float64 { return r.scoreScaled }),
		optF64(func(r *row) *float64 { return r.scoreRaw }),
		optF64(func(r *row) *float64 { return r.scoreMin }),
		optF64(func(r *row) *float64 { return r.scoreMax }),
		optF64(func(r *row) *float64 { return r.durationS }),
		responses,
		optUUID(func(r *row) *uuid.UUID { return r.registration }),
		str(func(r *row) string { return r.platform }),
		str(func(r *row) string { return r.language }),
		str(func(r *row) string { return r.instructor }),
		str(func(r *row) string { return r.team }),
		strs(func(r *row) []string { return r.parentIDs }),
		strs(func(r *row) []string { return r.groupingIDs }),
		strs(func(r *row) []string { return r.categoryIDs }),
		strs(func(r *row) []string { return r.otherIDs }),
		strs(func(r *row) []string { return r.contextAgents }),
		strs(func(r *row) []string { return r.contextGroups }),
		strs(func(r *row) []string { return r.contextExtKeys }),
		strs(func(r *row) []string { return r.resultExtKeys }),
		strs(func(r *row) []string { return r.objectExtKeys }),
		str(func(r *row) string { return r.version }),
		str(func(r *row) string { return r.authority }),
		optUUID(func(r *row) *uuid.UUID { return r.voidedStatementID }),
		docs,
	}
	for i, v := range values {
		if err := add(i, v); err != nil {
			return fmt.Errorf("%s: %w", columns[i], err)
		}
	}
	return nil
}
