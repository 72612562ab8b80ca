package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenPicksBackend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// A DSN wrongly taken for a SQLite path would create a file here.
	t.Chdir(dir)
	cases := []struct {
		dsn  string
		want string // "sqlite", "postgres" or an error substring
	}{
		{"sqlite:" + filepath.Join(dir, "a.db"), "sqlite"},
		{filepath.Join(dir, "b.db"), "sqlite"},
		{"postgres://u:secret@127.0.0.1:1/db", "postgres"},
		{"postgresql://u@127.0.0.1:1/db", "postgres"},
		{"mysql://u:secret@host/db", "unsupported DSN scheme"},
		{"", "empty DSN"},
		{"sqlite:", "is empty"},
		{"sqlite:" + dir + "/x.db?mode=ro", "holds '?'"},
		{"relative.db", "sqlite"},
		{"sqlite:host=db.db", "sqlite"}, // an odd file name is still possible
		{"host=db user=lrs password=secret dbname=lrs", "looks like a PostgreSQL key=value DSN"},
		{"host=db", "looks like a PostgreSQL key=value DSN"},
		{"dbname = lrs", "looks like a PostgreSQL key=value DSN"},
		{"./my db.sqlite mode=ro", "looks like a PostgreSQL key=value DSN"},
		{"file:lrs.db", "unsupported DSN scheme"},
		{"postgres:host=db password=secret", "unsupported DSN scheme"},
	}
	for _, tc := range cases {
		s, err := Open(ctx, tc.dsn)
		var got string
		switch v := s.(type) {
		case *SQLite:
			got = "sqlite"
			v.Close()
		case *Postgres:
			got = "postgres"
			v.Close()
		default:
			if err != nil {
				got = err.Error()
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("Open(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
		if strings.Contains(got, "secret") {
			t.Errorf("Open(%q) error shows the password: %q", tc.dsn, got)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		switch filepath.Base(f) {
		case "a.db", "b.db", "relative.db", "host=db.db":
		default:
			if !strings.Contains(f, ".db-") { // SQLite's -wal and -shm
				t.Errorf("Open left a file %q that is no SQLite database asked for", filepath.Base(f))
			}
		}
	}
}
