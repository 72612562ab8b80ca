package analytics

import (
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
	chschema "github.com/streamlrs/streamlrs/schemas/clickhouse"
)

// TestProvenanceColumns: an imported statement's source and original
// stored time reach the table and both deduplicated views on every engine;
// a statement sent directly has an empty source and NULL.
func TestProvenanceColumns(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		imported, importedID := known("acme", "alice", "passed", "A", "2019-04-01T10:00:00Z", "", "lms-1")
		imported.Source = "https://lms.example.com/xapi"
		imported.OriginalStored = time.Date(2019, 4, 1, 10, 0, 1, 250e6, time.UTC)
		direct, directID := known("acme", "bob", "passed", "A", "2019-04-01T10:00:00Z", "", "lms-1")
		mustInsert(t, c, []Statement{imported, direct})
		ctx := testenv.Context(t, time.Minute)
		for _, view := range []string{"statements", "statements_all", "statements_current"} {
			var source string
			var orig *time.Time
			var ms uint16
			q := "SELECT source, original_stored, original_stored_ms FROM " + view + " WHERE statement_id = ?"
			if err := c.conn.QueryRow(ctx, q, importedID.String()).Scan(&source, &orig, &ms); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if source != imported.Source || orig == nil || !orig.Equal(imported.OriginalStored.Truncate(time.Second)) || ms != 250 {
				t.Errorf("%s: imported statement has %q, %v, %d", view, source, orig, ms)
			}
			if err := c.conn.QueryRow(ctx, q, directID.String()).Scan(&source, &orig, &ms); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if source != "" || orig != nil || ms != 0 {
				t.Errorf("%s: direct statement has %q, %v, %d", view, source, orig, ms)
			}
		}
	})
}

// TestProvenanceMigrationRerun: a run interrupted after 0009's ADD COLUMNs
// and before its record (simulated by applying it again under another
// number) completes on every engine, 18.16's lack of ADD COLUMN IF NOT
// EXISTS notwithstanding.
func TestProvenanceMigrationRerun(t *testing.T) {
	migs, err := loadMigrations(chschema.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	var again []migration
	for _, m := range migs {
		if m.name == "provenance" {
			m.version = 9999
			again = append(again, m)
		}
	}
	if len(again) != 1 {
		t.Fatal("no provenance migration embedded")
	}
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		ctx := testenv.Context(t, time.Minute)
		server, err := c.serverVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.migrate(ctx, again, server); err != nil {
			t.Fatalf("re-run: %v", err)
		}
		if n := queryInt(t, c, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'statements_current' AND name LIKE 'original_stored%'"); n != 2 {
			t.Fatalf("statements_current has %d original_stored columns after the re-run", n)
		}
	})
}
