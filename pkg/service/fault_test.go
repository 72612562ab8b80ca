package service

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// faultKills is how many times TestStoreWriterSurvivesKill9 kills the
// writer; LRS_FAULT_KILLS raises it for a longer run.
func faultKills() int {
	n := 20
	if v := os.Getenv("LRS_FAULT_KILLS"); v != "" {
		fmt.Sscan(v, &n)
	}
	return n
}

// producer publishes batches of statements straight to the topic, as ingest
// would, and remembers every id it got acknowledged.
type producer struct {
	t     *testing.T
	p     *stream.Producer
	mu    sync.Mutex
	ids   map[string]bool
	close func()
}

func newProducer(t *testing.T, brokers []string, tc stream.TopicConfig) *producer {
	cl, err := stream.NewClient(brokers, zap.NewNop(), stream.ProducerOpts(tc, 10*time.Second, 0)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.EnsureTopics(testenv.Context(t, 30*time.Second), cl, tc); err != nil {
		t.Fatal(err)
	}
	p, err := stream.NewProducer(cl, tc.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &producer{t: t, p: p, ids: map[string]bool{}, close: cl.Close}
}

func (p *producer) publish(ctx context.Context, batch, size int) error {
	b := stream.Batch{Tenant: "fault"}
	for i := 0; i < size; i++ {
		id := fmt.Sprintf("%08d-0000-4000-8000-%012d", batch, i)
		b.Statements = append(b.Statements, stream.Statement{
			ID: id, Stored: time.Now().UTC().Truncate(time.Millisecond), Fingerprint: "fp-" + id,
			Statement: json.RawMessage(withID(id, statement(fmt.Sprintf("l%d", i), "attempted", fmt.Sprintf("c%d", batch%7)))),
		})
	}
	if _, _, err := p.p.Publish(ctx, b); err != nil {
		return err
	}
	p.mu.Lock()
	for _, s := range b.Statements {
		p.ids[s.ID] = true
	}
	p.mu.Unlock()
	return nil
}

func (p *producer) produced() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]bool, len(p.ids))
	for k := range p.ids {
		out[k] = true
	}
	return out
}

// storedIDs reads every statement id of the tenant "fault" straight from
// PostgreSQL, with duplicates if there were any.
func storedIDs(t *testing.T, dsn string) []string { return tenantIDs(t, dsn, "fault") }

// tenantIDs reads every statement id of tenant straight from PostgreSQL,
// with duplicates if there were any.
func tenantIDs(t *testing.T, dsn, tenant string) []string {
	ctx := testenv.Context(t, 30*time.Second)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT id::text FROM statements WHERE tenant = $1 AND fingerprint IS NOT NULL", tenant)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func checkExactly(t *testing.T, produced map[string]bool, stored []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range stored {
		seen[id]++
	}
	var lost, doubled, extra int
	for id := range produced {
		if seen[id] == 0 {
			lost++
		}
	}
	for id, n := range seen {
		if n > 1 {
			doubled++
		}
		if !produced[id] {
			extra++
		}
	}
	if lost+doubled+extra > 0 || len(stored) != len(produced) {
		t.Fatalf("store holds %d rows for %d produced statements: %d lost, %d doubled, %d unknown", len(stored), len(produced), lost, doubled, extra)
	}
}

// waitApplied waits until the store-writer group applied the whole topic.
func waitApplied(t *testing.T, brokers []string, dsn, group, topic string) {
	t.Helper()
	waitAppliedFor(t, brokers, dsn, group, topic, 120*time.Second)
}

func writerEnv(brokers []string, topic, group, dsn string) []string {
	return []string{
		"LRS_KAFKA_BROKERS=" + strings.Join(brokers, ","), "LRS_KAFKA_TOPIC=" + topic, "LRS_STORE_GROUP=" + group,
		"LRS_STORE_DSN=" + dsn, "LRS_HTTP_ADDR=127.0.0.1:0", "LRS_LOG_LEVEL=warn", "LRS_KAFKA_INSTANCE_ID=" + group + "-0",
		"LRS_STORE_RETRY_MAX=500ms",
	}
}

// TestStoreWriterSurvivesKill9 kills the store-writer with SIGKILL at random
// moments while statements stream through the real Kafka into the real
// PostgreSQL; in the end the store holds exactly the produced set.
func TestStoreWriterSurvivesKill9(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn := testenv.PostgresDSN(t)
	bin := buildBinaries(t)
	tc := stream.TopicConfig{Name: testenv.UniqueName("fault"), Partitions: 3, ReplicationFactor: 1, MaxRecordBytes: 1 << 20}
	group := tc.Name + "-store"
	prod := newProducer(t, brokers, tc)
	defer prod.close()
	env := writerEnv(brokers, tc.Name, group, dsn)

	// The producer is stopped between publishes, never during one: an
	// interrupted publish may still land, and the test must know every id.
	var (
		wg       sync.WaitGroup
		stopping atomic.Bool
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := testenv.Context(t, 5*time.Minute)
		for b := 0; !stopping.Load(); b++ {
			if err := prod.publish(ctx, b, 1+b%9); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	kills := faultKills()
	for i := 0; i < kills; i++ {
		p := startProcess(t, bin, "lrs-store-writer", env)
		time.Sleep(time.Duration(150+rand.IntN(650)) * time.Millisecond)
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
	stopping.Store(true)
	wg.Wait()
	final := startProcess(t, bin, "lrs-store-writer", env)
	waitApplied(t, brokers, dsn, group, tc.Name)
	final.stop(t)
	produced := prod.produced()
	t.Logf("%d statements produced while the writer was killed %d times", len(produced), kills)
	checkExactly(t, produced, storedIDs(t, dsn))
}

// TestStoreWriterRidesOutPostgresOutage cuts PostgreSQL away from a running
// store-writer while statements keep coming: it retries with backoff, loses
// nothing, and catches up when the database is back.
func TestStoreWriterRidesOutPostgresOutage(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn := testenv.PostgresDSN(t)
	bin := buildBinaries(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := testenv.NewProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = px.Addr()
	tc := stream.TopicConfig{Name: testenv.UniqueName("outage"), Partitions: 3, ReplicationFactor: 1, MaxRecordBytes: 1 << 20}
	group := tc.Name + "-store"
	prod := newProducer(t, brokers, tc)
	defer prod.close()
	w := startProcess(t, bin, "lrs-store-writer", writerEnv(brokers, tc.Name, group, viaProxy.String()))
	ctx := testenv.Context(t, 60*time.Second)
	for b := 0; b < 50; b++ {
		if err := prod.publish(ctx, b, 4); err != nil {
			t.Fatal(err)
		}
	}
	waitApplied(t, brokers, dsn, group, tc.Name)

	px.Down()
	for b := 50; b < 150; b++ {
		if err := prod.publish(ctx, b, 4); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second) // the writer fails and backs off meanwhile
	if n := len(storedIDs(t, dsn)); n != 200 {
		t.Fatalf("during the outage the store holds %d statements, want the 200 from before", n)
	}
	px.Up(t)
	waitApplied(t, brokers, dsn, group, tc.Name)
	w.stop(t)
	checkExactly(t, prod.produced(), storedIDs(t, dsn))
}
