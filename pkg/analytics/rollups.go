package analytics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// rollups pairs each rollup table with the view it materializes; the table
// has the view's columns in the view's order.
var rollups = []struct{ table, view string }{
	{"rollup_learners_daily", "learners_daily"},
	{"rollup_activity_daily", "activity_daily"},
	{"rollup_score_distribution_daily", "score_distribution_daily"},
	{"rollup_time_spent_daily", "time_spent_daily"},
}

// defaultDirtyMargin re-reads marks made this long before the previous
// refresh began: an insert still in flight when that refresh read the
// marks is then picked up by the next one.
const defaultDirtyMargin = 5 * time.Minute

// RefreshRollups recomputes every rollup month that received statements or
// voids since the previous refresh began, and returns those months
// (YYYYMM). Call it periodically (say once a minute) from one or several
// writers: concurrent refreshes compute the same numbers.
func (c *ClickHouse) RefreshRollups(ctx context.Context) ([]int, error) {
	var start, last time.Time
	if err := c.conn.QueryRow(ctx, "SELECT now(), (SELECT max(started_at) FROM rollup_refreshes)").Scan(&start, &last); err != nil {
		return nil, fmt.Errorf("analytics: read last rollup refresh: %w", err)
	}
	since := max(last.Add(-c.dirtyMargin).Unix(), 0)
	months, err := c.months(ctx, "SELECT DISTINCT month FROM rollup_dirty WHERE marked_at >= toDateTime(?)", since)
	if err != nil {
		return nil, err
	}
	// A void changes the month of its target, which only the target knows.
	voided, err := c.months(ctx, `SELECT DISTINCT toYYYYMM(timestamp) FROM statements
		WHERE (tenant, statement_id) IN (SELECT tenant, target_statement_id FROM voided_statements WHERE inserted_at >= toDateTime(?))`, since)
	if err != nil {
		return nil, err
	}
	months = append(months, voided...)
	slices.Sort(months)
	months = slices.Compact(months)
	if err := c.RefreshMonths(ctx, months); err != nil {
		return nil, err
	}
	if err := c.recordRefresh(ctx, start, months); err != nil {
		return nil, err
	}
	return months, nil
}

// RefreshMonths recomputes the given months (YYYYMM) of every rollup.
func (c *ClickHouse) RefreshMonths(ctx context.Context, months []int) error {
	for _, m := range months {
		for _, r := range rollups {
			if err := c.refreshMonth(ctx, r.table, r.view, m); err != nil {
				return fmt.Errorf("analytics: refresh %s for %d: %w", r.table, m, err)
			}
		}
	}
	return nil
}

// refreshMonth computes one month into a private staging table and swaps
// it in whole: readers see the old month, or for a moment none, or the new
// one, never a mix; a month that no longer has rows (all voided) is
// emptied.
func (c *ClickHouse) refreshMonth(ctx context.Context, table, view string, month int) error {
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	staging := table + "_staging_" + hex.EncodeToString(suffix[:])
	if err := c.conn.Exec(ctx, "CREATE TABLE "+staging+" AS "+table); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = c.conn.Exec(ctx, "DROP TABLE IF EXISTS "+staging)
	}()
	if err := c.conn.Exec(ctx, "INSERT INTO "+staging+" SELECT * FROM "+view+" WHERE toYYYYMM(day) = ?", month); err != nil {
		return fmt.Errorf("compute: %w", err)
	}
	// The month is dropped, then the staged one attached. REPLACE PARTITION
	// would do both at once, but on a plain MergeTree it only deactivates
	// the old parts in memory: a restart before they are cleaned up (8
	// minutes by default) brings them back beside the new ones, doubling
	// the month for good (ClickHouse #107605, fixed in 2026; chDB 2.1.1,
	// ClickHouse 24.8, reloads them at every query). DROP PARTITION leaves
	// an empty part covering them on disk. Readers may see the month empty
	// for the moment between the two. Dropping a missing partition is a
	// no-op on every release, and an emptied month has nothing to attach
	// (26.6 and later refuse to take a partition from a source without it).
	if err := c.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %d", table, month)); err != nil {
		return fmt.Errorf("drop the old month: %w", err)
	}
	var rows uint64
	if err := c.conn.QueryRow(ctx, "SELECT count() FROM "+staging).Scan(&rows); err != nil {
		return fmt.Errorf("count staged rows: %w", err)
	}
	if rows == 0 {
		return nil
	}
	if err := c.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ATTACH PARTITION %d FROM %s", table, month, staging)); err != nil {
		return fmt.Errorf("attach the new month: %w", err)
	}
	return nil
}

func (c *ClickHouse) months(ctx context.Context, query string, args ...any) ([]int, error) {
	rows, err := c.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: find months to refresh: %w", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var m uint32
		if err := rows.Scan(&m); err != nil {
			return nil, fmt.Errorf("analytics: find months to refresh: %w", err)
		}
		out = append(out, int(m))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: find months to refresh: %w", err)
	}
	return out, nil
}

func (c *ClickHouse) recordRefresh(ctx context.Context, start time.Time, months []int) error {
	batch, err := c.conn.PrepareBatch(ctx, "INSERT INTO rollup_refreshes (started_at, months)")
	if err != nil {
		return fmt.Errorf("analytics: record refresh: %w", err)
	}
	ms := make([]uint32, len(months))
	for i, m := range months {
		ms[i] = uint32(m)
	}
	if err := batch.Append(start, ms); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("analytics: record refresh: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("analytics: record refresh: %w", err)
	}
	return nil
}
