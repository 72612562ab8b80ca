package conflict

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// The tail starts where the store stopped applying, and indexes every
// record published after it started, from the record header; it reads past
// erasure records.
func TestTailOnTheEmbeddedBroker(t *testing.T) {
	b, err := stream.StartEmbeddedBroker(t.TempDir(), 0, 1<<20, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := stream.TopicConfig{Name: "statements", Partitions: 1, ReplicationFactor: 1, MaxRecordBytes: 1 << 20}
	cl, err := stream.NewClient(b.Addrs(), zap.NewNop(), append(stream.ProducerOpts(tc, 10*time.Second, 0), b.ClientOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := stream.EnsureTopics(ctx, cl, tc); err != nil {
		t.Fatal(err)
	}
	p, err := stream.NewProducer(cl, tc.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(id, content string) int64 {
		_, off, err := p.Publish(ctx, stream.Batch{Tenant: "t", Statements: []stream.Statement{
			{ID: id, Stored: time.Now(), Fingerprint: fp(content), Statement: []byte(`{"id":"` + id + `"}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	applied, pending := uuid.NewString(), uuid.NewString()
	appliedOff := publish(applied, "a")
	publish(pending, "a")

	idx := NewIndex(100, NewFilter(1<<20))
	cfg := Config{Wait: time.Second, LookupTimeout: time.Second, MaxEntries: 100, Lookback: time.Minute}
	storeAt := func(context.Context) (map[int32]int64, error) { return map[int32]int64{0: appliedOff + 1}, nil }
	tail, err := OpenTail(ctx, cfg, tc.Name, idx, cl,
		func(opts ...kgo.Opt) (*kgo.Client, error) {
			return stream.NewClient(b.Addrs(), zap.NewNop(), append(opts, b.ClientOpts()...)...)
		}, storeAt, func(_ context.Context, fn func(store.StatementKey) error) error {
			return fn(store.StatementKey{Tenant: "t", ID: applied})
		}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	go tail.Run(tctx)

	later := uuid.NewString()
	publish(later, "b")
	// An erasure record names no statement: the tail reads past it.
	erasure, err := stream.Erasure{ID: uuid.NewString(), Tenant: "t", Agent: []byte(`{"mbox":"mailto:a@example.com"}`), Before: time.Now()}.Records(tc.Name, []int32{0})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, erasure...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	afterErasure := uuid.NewString()
	publish(afterErasure, "c")
	ends, err := stream.EndOffsets(ctx, cl, tc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.wait(ctx, ends, tail.missing); err != nil {
		t.Fatalf("tail did not reach %v: %v", ends, err)
	}
	for _, c := range []struct {
		id, content string
		want        bool
	}{{applied, "a", false}, {pending, "a", true}, {later, "b", true}, {afterErasure, "c", true}} {
		got, ok := indexed(idx, key{"t", uuid.MustParse(c.id)})
		if ok != c.want || (ok && got != sid(t, c.id, c.content).Fingerprint) {
			t.Errorf("%s: indexed %v (want %v)", c.id, ok, c.want)
		}
	}
	if idx.hole() {
		t.Error("a tail started at the applied offsets reports a hole")
	}
	// The filter holds the store's statements and the tail's: only an id
	// that is in neither is certainly new.
	deadline := time.Now().Add(5 * time.Second)
	for !absent(idx, key{"t", uuid.New()}) {
		if time.Now().After(deadline) {
			t.Fatal("the filter was not loaded within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, id := range []string{applied, pending, later} {
		if absent(idx, key{"t", uuid.MustParse(id)}) {
			t.Errorf("%s: the filter says absent", id)
		}
	}
}

// indexed is the index's answer for one key.
func indexed(x *Index, k key) ([32]byte, bool) {
	fps, found := make([][32]byte, 1), make([]bool, 1)
	x.lookupAll([]key{k}, fps, found)
	return fps[0], found[0]
}

// absent reports whether the filter can tell that k was never acknowledged.
func absent(x *Index, k key) bool {
	fps, found := make([][32]byte, 1), make([]bool, 1)
	return x.lookupAll([]key{k}, fps, found) && !x.seen.MayContain(k.tenant, k.id)
}
