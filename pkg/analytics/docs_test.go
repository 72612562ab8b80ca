package analytics

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// docQueries returns the statements of every ```sql block of
// docs/analytics.md, as a reader would copy them.
func docQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/analytics.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(b), "```sql\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		out = append(out, splitStatements(block)...)
	}
	if len(out) < 5 {
		t.Fatalf("docs/analytics.md has %d SQL statements: the test would prove little", len(out))
	}
	return out
}

// TestDocsExampleQueriesRun runs the example queries of docs/analytics.md,
// as written, on every engine, after the rollups were refreshed.
func TestDocsExampleQueriesRun(t *testing.T) {
	queries := docQueries(t)
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		mustInsert(t, c, knownDataset())
		ctx := testenv.Context(t, 2*time.Minute)
		if _, err := c.RefreshRollups(ctx); err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			rows, err := c.conn.Query(ctx, q)
			if err != nil {
				t.Errorf("%s\n: %v", q, err)
				continue
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Errorf("%s\n: %v", q, err)
			}
			rows.Close()
		}
	})
}

// TestReaderRoleParses checks schemas/clickhouse/roles/analytics_reader.sql
// on the engines that have SQL access control. They cannot run it (chDB has
// one built-in user and no access storage), so each statement goes through
// the server's parser with formatQuery; 18.16 has neither and is skipped.
func TestReaderRoleParses(t *testing.T) {
	b, err := os.ReadFile("../../schemas/clickhouse/roles/analytics_reader.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts := splitStatements(string(b))
	if len(stmts) < 8 {
		t.Fatalf("analytics_reader.sql has %d statements", len(stmts))
	}
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c, err := Open(testenv.Context(t, time.Minute), Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if queryInt(t, c, "SELECT count() FROM system.functions WHERE name = 'formatQuery'") == 0 {
			t.Skip("no formatQuery on this server (and no SQL access control before 20.5)")
		}
		for _, s := range stmts {
			if got := queryString(t, c, "SELECT formatQuery(?)", s); got == "" {
				t.Errorf("formatQuery of %.60q is empty", s)
			}
		}
	})
}
