package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// cluster is where a test connects: brokers, and the options that
// authenticate to them.
type cluster struct {
	brokers []string
	opts    []kgo.Opt
}

func embedded(b *EmbeddedBroker) cluster { return cluster{b.Addrs(), b.ClientOpts()} }

// brokerKinds runs a test against the embedded kfake broker and against the
// real Kafka that `make test` starts.
var brokerKinds = []struct {
	name  string
	start func(t *testing.T) cluster
}{
	{"kfake", func(t *testing.T) cluster {
		b, err := StartEmbeddedBroker(t.TempDir(), 0, 1<<20, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		return embedded(b)
	}},
	{"kafka", func(t *testing.T) cluster { return cluster{brokers: testenv.KafkaBrokers(t)} }},
}

func testTopic(t *testing.T, k cluster) TopicConfig {
	t.Helper()
	tc := TopicConfig{Name: testenv.UniqueName("stmts"), Partitions: 3, ReplicationFactor: 1, MaxRecordBytes: 1 << 20}
	cl, err := NewClient(k.brokers, zap.NewNop(), k.opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := EnsureTopics(testenv.Context(t, 30*time.Second), cl, tc); err != nil {
		t.Fatal(err)
	}
	return tc
}

func publish(t *testing.T, k cluster, tc TopicConfig, from, n int) {
	t.Helper()
	cl, err := NewClient(k.brokers, zap.NewNop(), append(ProducerOpts(tc, 10*time.Second, 0), k.opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	p, err := NewProducer(cl, tc.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 30*time.Second)
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		b := Batch{Tenant: "t1", Statements: []Statement{{ID: id, Fingerprint: "f", Statement: json.RawMessage(`{"id":"` + id + `"}`)}}}
		if _, _, err := p.Publish(ctx, b); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

// collector is a sink that fails its first failures calls, then records ids.
type collector struct {
	mu       sync.Mutex
	failures int
	calls    int
	ids      map[string]int
	offsets  map[int32]int64
}

func (c *collector) Handle(_ context.Context, recs []*kgo.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.calls <= c.failures {
		return fmt.Errorf("sink down (call %d)", c.calls)
	}
	for _, r := range recs {
		b, err := DecodeBatch(r)
		if err != nil {
			return err
		}
		for _, s := range b.Statements {
			c.ids[s.ID]++
		}
		c.offsets[r.Partition] = r.Offset + 1
	}
	return nil
}

func (c *collector) count() (distinct, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.ids {
		distinct++
		total += n
	}
	return distinct, total
}

func runConsumer(t *testing.T, cfg ConsumerConfig, h Handler, src OffsetSource) (stop func()) {
	t.Helper()
	c, err := NewConsumer(cfg, h, src, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConsumerDeliversEveryRecordOnceAcrossRestart(t *testing.T) {
	for _, bk := range brokerKinds {
		t.Run(bk.name, func(t *testing.T) {
			k := bk.start(t)
			tc := testTopic(t, k)
			cfg := ConsumerConfig{Brokers: k.brokers, ClientOpts: k.opts, Topic: tc.Name, Group: testenv.UniqueName("g"), MaxBatchWait: 20 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
			publish(t, k, tc, 0, 50)
			// The sink is down for the first three attempts: the consumer
			// must retry the same records, not skip them.
			c := &collector{failures: 3, ids: map[string]int{}, offsets: map[int32]int64{}}
			stop := runConsumer(t, cfg, c, nil)
			waitFor(t, "50 statements", func() bool { d, _ := c.count(); return d == 50 })
			stop()
			// A new member of the same group resumes after the commit.
			c2 := &collector{ids: map[string]int{}, offsets: map[int32]int64{}}
			publish(t, k, tc, 50, 20)
			stop2 := runConsumer(t, cfg, c2, nil)
			waitFor(t, "20 new statements", func() bool { d, _ := c2.count(); return d == 20 })
			time.Sleep(200 * time.Millisecond)
			stop2()
			if d, total := c.count(); d != 50 || total != 50 {
				t.Errorf("first consumer: %d distinct, %d total; want 50, 50", d, total)
			}
			if d, total := c2.count(); d != 20 || total != 20 {
				t.Errorf("second consumer: %d distinct, %d total; want 20, 20 (no redelivery of committed records)", d, total)
			}
			if c.calls < 4 {
				t.Errorf("sink was called %d times; want the failed attempts retried", c.calls)
			}
		})
	}
}

type fixedOffsets map[int32]int64

func (f fixedOffsets) AppliedOffsets(context.Context, string) (map[int32]int64, error) { return f, nil }

func TestConsumerResumesFromSinkOffsets(t *testing.T) {
	for _, bk := range brokerKinds {
		t.Run(bk.name, func(t *testing.T) {
			k := bk.start(t)
			tc := testTopic(t, k)
			tc.Partitions = 1
			tc.Name = testenv.UniqueName("one")
			cl, _ := NewClient(k.brokers, zap.NewNop(), k.opts...)
			if err := EnsureTopics(testenv.Context(t, 30*time.Second), cl, tc); err != nil {
				t.Fatal(err)
			}
			cl.Close()
			publish(t, k, tc, 0, 10)
			// The sink says it applied offsets 0..6 already (e.g. it crashed
			// after its transaction but before the Kafka commit).
			c := &collector{ids: map[string]int{}, offsets: map[int32]int64{}}
			stop := runConsumer(t, ConsumerConfig{Brokers: k.brokers, ClientOpts: k.opts, Topic: tc.Name, Group: testenv.UniqueName("g")}, c, fixedOffsets{0: 7})
			waitFor(t, "3 statements", func() bool { d, _ := c.count(); return d == 3 })
			time.Sleep(200 * time.Millisecond)
			stop()
			if d, _ := c.count(); d != 3 {
				t.Fatalf("got %d statements; want only offsets 7..9", d)
			}
		})
	}
}

func TestEmbeddedBrokerKeepsRecordsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := StartEmbeddedBroker(dir, 0, 1<<20, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	tc := testTopic(t, embedded(b))
	publish(t, embedded(b), tc, 0, 5)
	b.Close()

	b2, err := StartEmbeddedBroker(dir, 0, 1<<20, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	c := &collector{ids: map[string]int{}, offsets: map[int32]int64{}}
	stop := runConsumer(t, ConsumerConfig{Brokers: b2.Addrs(), ClientOpts: b2.ClientOpts(), Topic: tc.Name, Group: "g"}, c, nil)
	waitFor(t, "5 statements after restart", func() bool { d, _ := c.count(); return d == 5 })
	stop()
}

func TestDecodeBatchRejectsBadRecords(t *testing.T) {
	tests := []struct {
		name string
		rec  *kgo.Record
	}{
		{"not json", &kgo.Record{Value: []byte("{")}},
		{"no tenant", &kgo.Record{Value: []byte(`{"statements":[{"id":"a","statement":{}}]}`)}},
		{"no id", &kgo.Record{Value: []byte(`{"tenant":"t","statements":[{"statement":{}}]}`)}},
		{"unknown format", &kgo.Record{Value: []byte(`{"tenant":"t"}`), Headers: []kgo.RecordHeader{{Key: FormatHeader, Value: []byte("v9")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeBatch(tt.rec); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

func TestBatchRecordRoundTrip(t *testing.T) {
	b := Batch{Tenant: "acme \"eu\" <x>\x01", Statements: []Statement{
		{ID: "00000000-0000-4000-8000-000000000001", Stored: time.Date(2026, 11, 26, 10, 0, 0, 123e6, time.UTC), Fingerprint: "ab", Statement: json.RawMessage(`{"id":"00000000-0000-4000-8000-000000000001","x":"\u00e9\n"}`)},
		{ID: "00000000-0000-4000-8000-000000000002", Stored: time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC), Fingerprint: "cd", Statement: json.RawMessage(`{"id":"00000000-0000-4000-8000-000000000002"}`)},
	}}
	rec, err := b.Record("t")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(rec.Value) {
		t.Fatalf("record value is not JSON: %s", rec.Value)
	}
	want, _ := json.Marshal(b)
	if string(rec.Value) != string(want) {
		t.Fatalf("encoding differs from encoding/json:\n got %s\nwant %s", rec.Value, want)
	}
	got, err := DecodeBatch(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tenant != b.Tenant || len(got.Statements) != 2 || !got.Statements[0].Stored.Equal(b.Statements[0].Stored) || string(got.Statements[1].Statement) != string(b.Statements[1].Statement) {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := (Batch{Tenant: "t", Statements: []Statement{{ID: "x", Statement: json.RawMessage(`[1]`)}}}).Record("t"); err == nil {
		t.Fatal("a statement that is not an object must be refused")
	}
}

// FuzzDecodeBatch: whatever the bytes, decoding never panics; a batch that
// went through Record always comes back field for field, whichever decoder
// path reads it.
func FuzzDecodeBatch(f *testing.F) {
	f.Add("default", "00000000-0000-4000-8000-000000000001", "ab", `{"id":"x","s":"a\"}b","n":[1,{"k":"]"}]}`, []byte(`{"tenant":"t","statements":[]}`))
	f.Add("acme \"eu\"", "id", "", `{}`, []byte(`{"tenant":"t","statements":[{"id":"a","stored":"2026-01-01T00:00:00Z","fingerprint":"f","statement":{"x":"\u00e9"}}]}`))
	f.Fuzz(func(t *testing.T, tenant, id, fp, stmt string, raw []byte) {
		_, _ = DecodeBatch(&kgo.Record{Value: raw})
		// encoding/json replaces invalid UTF-8; names are never that.
		if tenant == "" || id == "" || !utf8.ValidString(tenant+id+fp) || !json.Valid([]byte(stmt)) || !strings.HasPrefix(strings.TrimSpace(stmt), "{") {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(stmt)); err != nil {
			return
		}
		in := Batch{Tenant: tenant, Statements: []Statement{
			{ID: id, Stored: time.Unix(1764150000, 123456789).UTC(), Fingerprint: fp, Statement: compact.Bytes()},
			{ID: id + "2", Stored: time.Unix(1764150001, 0).UTC(), Fingerprint: fp, Statement: json.RawMessage(`{"a":1}`)},
		}}
		rec, err := in.Record("t")
		if err != nil {
			t.Fatal(err)
		}
		out, err := DecodeBatch(rec)
		if err != nil {
			t.Fatalf("decode %s: %v", rec.Value, err)
		}
		if out.Tenant != in.Tenant || len(out.Statements) != 2 {
			t.Fatalf("got %+v from %s", out, rec.Value)
		}
		for i := range in.Statements {
			a, b := in.Statements[i], out.Statements[i]
			if a.ID != b.ID || a.Fingerprint != b.Fingerprint || !a.Stored.Equal(b.Stored) || string(a.Statement) != string(b.Statement) {
				t.Fatalf("statement %d: got %+v want %+v", i, b, a)
			}
		}
	})
}

// BenchmarkDecodeBatch: a record of 100 statements of about 1 KB, through
// the writers' decoder and through encoding/json.
func BenchmarkDecodeBatch(b *testing.B) {
	stmt := `{"id":"00000000-0000-4000-8000-000000000001","actor":{"mbox":"mailto:a@example.com","name":"A \"quoted\" name"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},` +
		`"object":{"id":"http://example.com/a","definition":{"name":{"en-US":"` + strings.Repeat("x", 700) + `"}}}}`
	in := Batch{Tenant: "default"}
	for i := 0; i < 100; i++ {
		in.Statements = append(in.Statements, Statement{ID: fmt.Sprint(i), Stored: time.Now(), Fingerprint: "f", Statement: json.RawMessage(stmt)})
	}
	rec, _ := in.Record("t")
	b.SetBytes(int64(len(rec.Value)))
	b.Run("writers", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeBatch(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var out Batch
			if err := json.Unmarshal(rec.Value, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A record in the writers' layout whose statement is malformed is not
// decoded into a statement cut in the wrong place, nor passed on: the
// general decoder refuses it too.
func TestDecodeBatchRejectsMalformedStatements(t *testing.T) {
	for _, stmt := range []string{
		`{"a":[}]}`, `{"a":[1}}`, `{"a":{]}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":"\q"}`, `{"a" 1}`, `{"a":01}`,
	} {
		raw := `{"tenant":"t","statements":[{"id":"a","stored":"2026-01-01T00:00:00Z","fingerprint":"f","statement":` + stmt + `}]}`
		if b, err := DecodeBatch(&kgo.Record{Value: []byte(raw)}); err == nil {
			t.Errorf("decoded %s as %+v", raw, b)
		}
	}
}
