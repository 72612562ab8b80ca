package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/store/storetest"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

func openMigrated(t *testing.T, dsn string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openMigrated(t, "sqlite:"+filepath.Join(t.TempDir(), "lrs.db"))
	})
}

func TestPostgres(t *testing.T) {
	testenv.PostgresDSN(t) // skip (or fail under make test) before running the suite
	storetest.Run(t, func(t *testing.T) store.Store {
		return openMigrated(t, testenv.PostgresDSN(t))
	})
}

// TestPostgresBatchIsAtomic: a batch that fails in the database leaves
// neither statements nor offsets behind, so the consumer retries it whole.
func TestPostgresBatchIsAtomic(t *testing.T) {
	s := openMigrated(t, testenv.PostgresDSN(t))
	ctx := testenv.Context(t, time.Minute)
	good := storetest.S("t1", "00000000-0000-4000-8000-000000000001", time.Now(), map[string]any{
		"actor": map[string]any{"mbox": "mailto:a@example.com"}, "verb": map[string]any{"id": "http://v/did"},
		"object": map[string]any{"id": "http://act/1"}})
	// PostgreSQL text cannot hold NUL: the COPY fails after good was sent.
	bad := storetest.S("t\x00", "00000000-0000-4000-8000-000000000002", time.Now(), map[string]any{
		"actor": map[string]any{"mbox": "mailto:a@example.com"}, "verb": map[string]any{"id": "http://v/did"},
		"object": map[string]any{"id": "http://act/1"}})
	_, err := s.ApplyStatements(ctx, "g", []store.Statement{good, bad}, []store.Offset{{Topic: "st", Partition: 0, Next: 2}})
	if err == nil {
		t.Fatal("ApplyStatements accepted a tenant with a NUL byte")
	}
	if _, err := s.GetStatement(ctx, "t1", good.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetStatement after a failed batch: %v, want ErrNotFound", err)
	}
	if offs, err := s.AppliedOffsets(ctx, "g", "st"); err != nil || len(offs) != 0 {
		t.Fatalf("AppliedOffsets after a failed batch = %v, %v; want none", offs, err)
	}
	if res, err := s.ApplyStatements(ctx, "g", []store.Statement{good}, []store.Offset{{Topic: "st", Partition: 0, Next: 2}}); err != nil || res.Inserted != 1 {
		t.Fatalf("retry = %+v, %v; want the statement inserted", res, err)
	}
}
