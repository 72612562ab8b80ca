package store_test

import (
	"context"
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
