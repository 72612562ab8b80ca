package service

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestStoreWriterBacklog measures the store-writer draining a backlog of
// 1 KB statements from the real Kafka into the real PostgreSQL: throughput
// and resident memory. It is a benchmark, so it runs only when
// LRS_BENCH_BACKLOG gives the number of statements (e.g. 1000000), and it
// asserts nothing about speed.
func TestStoreWriterBacklog(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LRS_BENCH_BACKLOG"))
	if n <= 0 {
		t.Skip("set LRS_BENCH_BACKLOG=<statements> to run the store-writer backlog benchmark")
	}
	brokers := testenv.KafkaBrokers(t)
	dsn := testenv.PostgresDSN(t)
	bin := buildBinaries(t)
	tc := stream.TopicConfig{Name: testenv.UniqueName("backlog"), Partitions: 6, ReplicationFactor: 1, MaxRecordBytes: 4 << 20}
	group := tc.Name + "-store"
	prod := newProducer(t, brokers, tc)
	defer prod.close()

	const perRecord = 100
	pad := strings.Repeat("x", 560) // brings a statement to about 1 KB
	start := time.Now()
	ctx := testenv.Context(t, 30*time.Minute)
	for r := 0; r*perRecord < n; r++ {
		b := stream.Batch{Tenant: "bench"}
		for i := 0; i < perRecord; i++ {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", r, i)
			stmt := `{"id":"` + id + `","actor":{"mbox":"mailto:learner` + strconv.Itoa(i%5000) + `@example.com","name":"Learner"},` +
				`"verb":{"id":"http://adlnet.gov/expapi/verbs/` + []string{"attempted", "completed", "passed", "failed"}[i%4] + `"},` +
				`"object":{"id":"http://example.com/courses/` + strconv.Itoa(r%300) + `/module/` + strconv.Itoa(i%12) + `"},` +
				`"context":{"registration":"` + fmt.Sprintf("%08x-1111-4000-8000-%012x", r%1000, i%50) + `","extensions":{"http://example.com/pad":"` + pad + `"}},` +
				`"timestamp":"2026-11-26T10:00:00.000Z","stored":"2026-11-26T10:00:00.000Z","version":"1.0.0"}`
			b.Statements = append(b.Statements, stream.Statement{ID: id, Stored: time.Now().UTC(), Fingerprint: id, Statement: json.RawMessage(stmt)})
		}
		if _, _, err := prod.p.Publish(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	produceTook := time.Since(start)

	env := writerEnv(brokers, tc.Name, group, dsn)
	// Records of 100 statements: 50 records make 5000 statements per transaction.
	batch := os.Getenv("LRS_BENCH_BATCH_RECORDS")
	if batch == "" {
		batch = "50"
	}
	env = append(env, "LRS_STORE_BATCH_RECORDS="+batch)
	start = time.Now()
	w := startProcess(t, bin, "lrs-store-writer", env)
	var peak int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
				if kb := statusKB(w.cmd.Process.Pid, "VmRSS"); kb > peak {
					peak = kb
				}
			}
		}
	}()
	waitAppliedFor(t, brokers, dsn, group, tc.Name, 30*time.Minute)
	took := time.Since(start)
	close(done)
	w.stop(t)
	t.Logf("\n| statements | produce | store-writer drain | statements/s | peak RSS |\n|---|---|---|---|---|\n| %d | %v | %v | %.0f | %d MiB |",
		n, produceTook.Round(time.Millisecond), took.Round(time.Millisecond), float64(n)/took.Seconds(), peak/1024)
}

// waitAppliedFor is waitApplied with a longer bound, for large backlogs.
func waitAppliedFor(t *testing.T, brokers []string, dsn, group, topic string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cl, err := stream.NewClient(brokers, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := stream.EndOffsets(ctx, cl, topic)
	if err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		applied, err := st.AppliedOffsets(ctx, group, topic)
		if err == nil {
			done := true
			for p, end := range ends {
				done = done && applied[p] >= end
			}
			if done {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatal("backlog not applied in time")
}
