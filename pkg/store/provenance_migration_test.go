package store_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/store/storetest"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// A store migrated before provenance moved into the statements' rows
// keeps the provenance it had: migration 0012 carries statement_provenance
// over. The old schema is made by undoing 0012 on a store that holds an
// imported statement.
func TestProvenanceSurvivesItsMigration(t *testing.T) {
	backends := []struct {
		name   string
		dsn    func(t *testing.T) string
		driver func(dsn string) (string, string)
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "lrs.db") },
			func(dsn string) (string, string) { return "sqlite", "file:" + strings.TrimPrefix(dsn, "sqlite:") }},
		{"postgres", func(t *testing.T) string { return testenv.PostgresDSN(t) },
			func(dsn string) (string, string) { return "pgx", dsn }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			s := openMigrated(t, dsn)
			ctx := testenv.Context(t, time.Minute)
			original := time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)
			imported := storetest.S("t1", "00000000-0000-4000-8000-0000000000a1", time.Now(), map[string]any{
				"actor": map[string]any{"mbox": "mailto:a@example.com"}, "verb": map[string]any{"id": "http://v/did"},
				"object": map[string]any{"id": "http://act/1"}})
			imported.Provenance = store.Provenance{Source: "file:///exports/old.ndjson", OriginalStored: original}
			live := storetest.S("t1", "00000000-0000-4000-8000-0000000000a2", time.Now(), map[string]any{
				"actor": map[string]any{"mbox": "mailto:a@example.com"}, "verb": map[string]any{"id": "http://v/did"},
				"object": map[string]any{"id": "http://act/1"}})
			if _, err := s.ApplyStatements(ctx, "g", []store.Statement{imported, live}, nil); err != nil {
				t.Fatal(err)
			}
			driver, source := b.driver(dsn)
			raw, err := sql.Open(driver, source)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			// statement_provenance as migration 0011 left it, from the rows.
			old := "CREATE TABLE statement_provenance AS SELECT tenant, id, source, original_stored FROM statements WHERE source IS NOT NULL"
			for _, q := range []string{old, "ALTER TABLE statements DROP COLUMN source", "ALTER TABLE statements DROP COLUMN original_stored",
				"DELETE FROM schema_migrations WHERE version = 12"} {
				if _, err := raw.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate from the old schema: %v", err)
			}
			p, err := s.StatementProvenance(ctx, "t1", imported.ID)
			if err != nil || p.Source != imported.Provenance.Source || !p.OriginalStored.Equal(original) {
				t.Fatalf("provenance after the migration: %+v, %v; want %+v", p, err, imported.Provenance)
			}
			if _, err := s.StatementProvenance(ctx, "t1", live.ID); err == nil {
				t.Fatal("a statement that was not imported has provenance after the migration")
			}
			var left int
			if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM statements WHERE source IS NOT NULL").Scan(&left); err != nil || left != 1 {
				t.Fatalf("%d rows with a source, %v; want 1", left, err)
			}
		})
	}
}
