package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/store/storetest"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// BenchmarkHotPath times, on each backend, the calls every request or batch
// makes: the store-writer's ApplyStatements, the API's reads, the conflict
// lookup and the credential read. It is small enough to run in seconds, so
// that a refactor of the store can be checked before and after.
func BenchmarkHotPath(b *testing.B) {
	backends := []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "lrs.db") }},
		{"postgres", func(b *testing.B) string { return testenv.PostgresDSN(b) }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { benchHotPath(b, be.dsn(b)) })
	}
}

// benchStatement is one statement with its own actor, verb and activity.
func benchStatement(tenant string, i int, stored time.Time) store.Statement {
	return storetest.S(tenant, uuid.NewString(), stored, map[string]any{
		"actor":  map[string]any{"mbox": fmt.Sprintf("mailto:a%d@example.com", i%50)},
		"verb":   map[string]any{"id": fmt.Sprintf("http://example.com/verbs/v%d", i%5)},
		"object": map[string]any{"id": fmt.Sprintf("http://example.com/activities/a%d", i%20)},
	})
}

func benchHotPath(b *testing.B, dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const tenant, seed, batch = "bench", 2000, 100
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var keys []store.StatementKey
	for i := 0; i < seed; i += batch {
		stmts := make([]store.Statement, batch)
		for j := range stmts {
			stmts[j] = benchStatement(tenant, i+j, start.Add(time.Duration(i+j)*time.Millisecond))
			keys = append(keys, store.StatementKey{Tenant: tenant, ID: stmts[j].ID})
		}
		if _, err := s.ApplyStatements(ctx, "g", stmts, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.CreateTenant(ctx, store.Tenant{ID: tenant}); err != nil {
		b.Fatal(err)
	}
	if err := s.PutCredential(ctx, store.Credential{Key: "k", SecretHash: "h", Tenant: tenant, Scopes: []string{"all"}}); err != nil {
		b.Fatal(err)
	}

	b.Run("ApplyStatements", func(b *testing.B) {
		next := int64(0)
		for n := 0; b.Loop(); n++ {
			b.StopTimer()
			stmts := make([]store.Statement, batch)
			for j := range stmts {
				stmts[j] = benchStatement(tenant, j, start.Add(time.Hour+time.Duration(n*batch+j)*time.Millisecond))
			}
			next += batch
			b.StartTimer()
			if _, err := s.ApplyStatements(ctx, "g", stmts, []store.Offset{{Topic: "t", Partition: 0, Next: next}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetStatement", func(b *testing.B) {
		for n := 0; b.Loop(); n++ {
			if _, err := s.GetStatement(ctx, tenant, keys[n%len(keys)].ID, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("QueryStatements", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.QueryStatements(ctx, store.Query{Tenant: tenant, Verb: "http://example.com/verbs/v1", Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Fingerprints", func(b *testing.B) {
		for n := 0; b.Loop(); n++ {
			i := (n * batch) % (len(keys) - batch)
			if _, err := s.Fingerprints(ctx, keys[i:i+batch]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppliedOffsets", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.AppliedOffsets(ctx, "g", "t"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetCredential", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetCredential(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetTenant", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetTenant(ctx, tenant); err != nil {
				b.Fatal(err)
			}
		}
	})
}
