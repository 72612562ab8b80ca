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
}
