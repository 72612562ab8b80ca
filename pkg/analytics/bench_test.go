package analytics

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// benchGenerator spreads timestamps over LRS_BENCH_DAYS days (default 3:
// a live stream touches one or two monthly partitions per insert; 365
// models a back-fill touching twelve).
func benchGenerator(tb testing.TB) *generator {
	days := envInt(tb, "LRS_BENCH_DAYS", 3)
	return newGenerator(genConfig{seed: 42, tenants: 3, learners: 20000, activities: 500,
		start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), days: days})
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q is not a positive integer", name, v)
	}
	return n
}

// BenchmarkFlatten measures the Go side alone: JSON decoding and
// flattening on all cores, the part of Insert that does not wait for the
// server.
func BenchmarkFlatten(b *testing.B) {
	stmts := benchGenerator(b).batch(20000)
	cfg, err := (&Config{DSN: "unused"}).withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	c := &ClickHouse{cfg: cfg}
	b.ResetTimer()
	for b.Loop() {
		if _, bad := c.flattenAll(stmts); len(bad) != 0 {
			b.Fatalf("bad rows: %+v", bad[0])
		}
	}
	b.ReportMetric(float64(b.N*len(stmts))/b.Elapsed().Seconds(), "statements/s")
}

// BenchmarkInsert measures Insert into the real ClickHouse in batches of
// LRS_BENCH_BATCH statements (default 20000): b.N statements in all.
func BenchmarkInsert(b *testing.B) {
	batchSize := envInt(b, "LRS_BENCH_BATCH", 20000)
	c := openTest(b, testenv.ClickHouseDSN(b), Config{InsertConcurrency: envInt(b, "LRS_BENCH_CONCURRENCY", 2)})
	g := benchGenerator(b)
	ctx := testenv.Context(b, time.Hour)
	var bytes int64
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		stmts := g.batch(min(batchSize, b.N-done))
		for _, s := range stmts {
			bytes += int64(len(s.JSON))
		}
		b.StartTimer()
		if bad, err := c.Insert(ctx, stmts); err != nil || len(bad) != 0 {
			b.Fatalf("insert: %v, %d bad", err, len(bad))
		}
		done += len(stmts)
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "statements/s")
	b.ReportMetric(float64(bytes)/secs/1e6, "JSON-MB/s")
	b.Logf("| statements | batch | days | concurrency | seconds | statements/s | JSON MB/s |\n|---|---|---|---|---|---|---|\n| %d | %d | %d | %d | %.1f | %.0f | %.1f |",
		b.N, batchSize, g.cfg.days, c.cfg.InsertConcurrency, secs, float64(b.N)/secs, float64(bytes)/secs/1e6)
}
