package analytics

import (
	"slices"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

func assertRollupsMatchViews(t *testing.T, c *ClickHouse) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range rollups {
		view, table := snapshot(t, c, r.view), snapshot(t, c, r.table)
		if len(view) == 0 {
			t.Fatalf("view %s is empty: the comparison would prove nothing", r.view)
		}
		if !slices.Equal(view, table) {
			t.Errorf("%s has %d rows that differ from view %s (%d rows)", r.table, len(table), r.view, len(view))
		}
		out[r.table] = table
	}
	return out
}

func TestRollupRefresh(t *testing.T) {
	testenv.ForEachClickHouseFull(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		c.dirtyMargin = 0
		ctx := testenv.Context(t, 5*time.Minute)
		g := newGenerator(genConfig{seed: 9, tenants: 2, learners: 30, activities: 6,
			start: time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC), days: 60})
		stmts := g.batch(2000)
		mustInsert(t, c, stmts)
		// Marks are second-precise and a refresh rereads the second it began in
		// (harmless, but this test counts what is recomputed).
		time.Sleep(1100 * time.Millisecond)

		months, err := c.RefreshRollups(ctx)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if want := []int{202401, 202402, 202403}; !slices.Equal(months, want) {
			t.Fatalf("refreshed months %v, want %v", months, want)
		}
		before := assertRollupsMatchViews(t, c)

		// Nothing new: nothing to refresh.
		if months, err := c.RefreshRollups(ctx); err != nil || len(months) != 0 {
			t.Fatalf("idle refresh recomputed %v (err %v)", months, err)
		}

		// A replay marks its months but changes no rollup.
		mustInsert(t, c, stmts)
		time.Sleep(1100 * time.Millisecond)
		if months, err := c.RefreshRollups(ctx); err != nil || len(months) != 3 {
			t.Fatalf("refresh after replay: months %v, err %v", months, err)
		}
		after := assertRollupsMatchViews(t, c)
		for table := range before {
			if !slices.Equal(before[table], after[table]) {
				t.Errorf("%s changed after a replay", table)
			}
		}

		// A void arriving in June of a January statement refreshes January.
		var target row
		for _, s := range stmts {
			r, err := flatten(s)
			if err != nil {
				t.Fatal(err)
			}
			if r.month == 202401 && r.verbID == "http://adlnet.gov/expapi/verbs/passed" {
				target = r
				break
			}
		}
		mustInsert(t, c, []Statement{voidingStatement(target.tenant, target.statementID, "2024-06-01T00:00:00Z")})
		time.Sleep(1100 * time.Millisecond)
		months, err = c.RefreshRollups(ctx)
		if err != nil {
			t.Fatalf("refresh after void: %v", err)
		}
		if want := []int{202401, 202406}; !slices.Equal(months, want) {
			t.Fatalf("refreshed months %v after a void, want %v", months, want)
		}
		voided := assertRollupsMatchViews(t, c)
		if slices.Equal(before["rollup_activity_daily"], voided["rollup_activity_daily"]) {
			t.Error("rollup_activity_daily did not change after a passed statement was voided")
		}
	})
}
