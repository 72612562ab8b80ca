package analytics

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	chschema "github.com/streamlrs/streamlrs/schemas/clickhouse"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestUpgradeKeepsViewResults fills a database migrated as on ClickHouse
// 18.16 (no gated migrations), then migrates it on the server it runs on,
// as after a server upgrade: every view gives the same rows before and
// after, the skip indexes cover the parts written before the upgrade, and
// the views read the same with the old query analyzer.
func TestUpgradeKeepsViewResults(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		ctx := testenv.Context(t, 3*time.Minute)
		c, err := Open(ctx, Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		migs, err := loadMigrations(chschema.Migrations)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.migrate(ctx, migs, serverVersion{18, 16}); err != nil {
			t.Fatalf("migrate as 18.16: %v", err)
		}
		stmts := knownDataset()
		mustInsert(t, c, stmts)
		before := map[string][]string{}
		for _, v := range views {
			before[v] = snapshot(t, c, v)
		}

		if err := c.Migrate(ctx); err != nil {
			t.Fatalf("migrate after the upgrade: %v", err)
		}
		server, err := c.serverVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		applicable, gated := 0, 0
		for _, m := range migs {
			if !server.less(m.minServer) {
				applicable++
				if m.minServer != (serverVersion{}) {
					gated++
				}
			}
		}
		if n := queryInt(t, c, "SELECT count() FROM schema_migrations"); n != uint64(applicable) {
			t.Fatalf("schema_migrations has %d rows after the upgrade, want %d", n, applicable)
		}
		for _, v := range views {
			if after := snapshot(t, c, v); !slices.Equal(before[v], after) {
				t.Errorf("view %s changed with the upgrade:\nbefore %q\nafter  %q", v, before[v], after)
			}
		}
		if gated == 0 {
			t.Logf("server %s takes no gated migration: the upgrade changed nothing", server)
			return
		}

		// The mutations of the upgrade (MODIFY COLUMN, MATERIALIZE INDEX)
		// run in the background; once done, every part has every index.
		deadline := time.Now().Add(time.Minute)
		for queryInt(t, c, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = 'statements' AND NOT is_done") > 0 {
			if time.Now().After(deadline) {
				t.Fatal("the upgrade's mutations are not done after a minute")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n := queryInt(t, c, `SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'statements' AND active
			AND secondary_indices_uncompressed_bytes = 0`); n != 0 {
			t.Errorf("%d parts written before the upgrade have no skip indexes", n)
		}
		// A look-up through an index the server must use.
		id := queryString(t, c, "SELECT toString(statement_id) FROM statements LIMIT 1")
		if n := queryInt(t, c, "SELECT count() FROM statements WHERE statement_id = toUUID(?) SETTINGS force_data_skipping_indices = 'idx_statement_id'", id); n == 0 {
			t.Error("the look-up by statement id through idx_statement_id found nothing")
		}

		for _, setting := range []string{"enable_analyzer", "allow_experimental_analyzer"} {
			if queryInt(t, c, "SELECT count() FROM system.settings WHERE name = ?", setting) == 0 {
				continue
			}
			old := clickhouseSettings(testenv.Context(t, time.Minute), map[string]any{setting: 0})
			// 26.9 and later refuse to turn the analyzer off: nothing to compare.
			if err := c.conn.Exec(old, "SELECT 1"); err != nil {
				var ex *clickhouse.Exception
				if !errors.As(err, &ex) || ex.Code != codeSettingConstraintViolation {
					t.Fatalf("SELECT 1 with %s = 0: %v", setting, err)
				}
				t.Logf("server %s refuses %s = 0 (the analyzer is mandatory): %v", server, setting, err)
				break
			}
			for _, v := range views {
				if got := snapshotWith(t, c, old, v); !slices.Equal(before[v], got) {
					t.Errorf("view %s with %s = 0 differs:\n%q\nwant\n%q", v, setting, got, before[v])
				}
			}
			break
		}
	})
}

// codeSettingConstraintViolation is ClickHouse's SETTING_CONSTRAINT_VIOLATION.
const codeSettingConstraintViolation = 452

func queryString(t testing.TB, c *ClickHouse, q string, args ...any) string {
	t.Helper()
	var s string
	if err := c.conn.QueryRow(testenv.Context(t, time.Minute), q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// TestRollupRefreshEmptiesAMonth refreshes months for which some views have
// no rows (no scores or durations that month; every statement voided):
// the refresh goes through on every release and those rollup months are
// empty.
func TestRollupRefreshEmptiesAMonth(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		c.dirtyMargin = 0
		ctx := testenv.Context(t, 2*time.Minute)
		plain, _ := known("acme", "alice", "experienced", "A", "2024-04-10T10:00:00Z", "", "lms-1")
		scored, scoredID := known("acme", "bob", "passed", "A", "2024-05-10T10:00:00Z", `{"success":true,"score":{"scaled":0.9},"duration":"PT5M"}`, "lms-1")
		mustInsert(t, c, []Statement{plain, scored})
		time.Sleep(1100 * time.Millisecond)
		if months, err := c.RefreshRollups(ctx); err != nil || !slices.Equal(months, []int{202404, 202405}) {
			t.Fatalf("first refresh: months %v, err %v", months, err)
		}
		monthRows := func(table string, month int) uint64 {
			return queryInt(t, c, "SELECT count() FROM "+table+" WHERE toYYYYMM(day) = ?", month)
		}
		for _, r := range rollups {
			if n := monthRows(r.table, 202405); n != 1 {
				t.Fatalf("%s has %d rows for May, want 1", r.table, n)
			}
		}
		if n := monthRows("rollup_score_distribution_daily", 202404); n != 0 {
			t.Fatalf("rollup_score_distribution_daily has %d rows for April, which has no score", n)
		}

		// May's only statement is voided (by a statement in April).
		mustInsert(t, c, []Statement{voidingStatement("acme", scoredID, "2024-04-11T00:00:00Z")})
		time.Sleep(1100 * time.Millisecond)
		if months, err := c.RefreshRollups(ctx); err != nil || !slices.Equal(months, []int{202404, 202405}) {
			t.Fatalf("refresh after the void: months %v, err %v", months, err)
		}
		for _, r := range rollups {
			if n := monthRows(r.table, 202405); n != 0 {
				t.Errorf("%s still has %d rows for May, all of whose statements are voided", r.table, n)
			}
		}
		if n := monthRows("rollup_learners_daily", 202404); n != 1 {
			t.Errorf("rollup_learners_daily has %d rows for April, want 1", n)
		}
		// A later refresh must not be stuck on an earlier failure.
		if months, err := c.RefreshRollups(ctx); err != nil || len(months) != 0 {
			t.Errorf("idle refresh: months %v, err %v", months, err)
		}
	})
}
