package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestSQLitePageSize: a database file the store creates gets 16 KiB pages
// (the driver would leave SQLite's 4 KiB, see initSQLiteFile), and a file
// created before keeps its page size and opens as before.
func TestSQLitePageSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	raw, err := sql.Open("sqlite", "file:"+old)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA page_size = 4096", "PRAGMA journal_mode = wal", "CREATE TABLE x (a)"} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	for _, tc := range []struct {
		path string
		want int
	}{
		{filepath.Join(dir, "new.db"), 16384},
		{old, 4096},
	} {
		openMigrated(t, "sqlite:"+tc.path)
		db, err := sql.Open("sqlite", "file:"+tc.path+"?_pragma=query_only(1)")
		if err != nil {
			t.Fatal(err)
		}
		var size int
		var mode string
		if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if size != tc.want || mode != "wal" {
			t.Errorf("%s: page size %d, journal mode %s; want %d, wal", filepath.Base(tc.path), size, mode, tc.want)
		}
	}
}
