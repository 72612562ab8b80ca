package console

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestKafkaHealth reads lag, dead letters and re-sends one on the real
// Kafka of `make test`.
func TestKafkaHealth(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, 2*time.Minute)
	topic := testenv.UniqueName("console")
	dial := func(opts ...kgo.Opt) (*kgo.Client, error) { return stream.NewClient(brokers, zap.NewNop(), opts...) }
	cl, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := stream.EnsureTopics(ctx, cl, stream.TopicConfig{Name: topic, Partitions: 2, ReplicationFactor: 1, MaxRecordBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	k := Kafka{Client: cl, Dial: dial, Topic: topic, StoreGroup: topic + "-store",
		Applied: func(context.Context) (map[int32]int64, error) { return map[int32]int64{0: 1}, nil }}

	if dl, err := k.deadLetters(ctx, 10); err != nil || len(dl) != 0 {
		t.Fatalf("empty dead-letter topic: %v, %v", dl, err)
	}

	pinned, err := dial(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	// Three records on partition 0, one on 1; the store applied one of
	// partition 0, another group committed partition 1 only.
	produce := func(topic string, p int32, r *kgo.Record) {
		t.Helper()
		r.Topic, r.Partition = topic, p
		if err := pinned.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Minute)
	for i, p := range []int32{0, 0, 0, 1} {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte("r" + strconv.Itoa(i)), Timestamp: old}
		if err := pinned.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	other := topic + "-analytics"
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: 1, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, other, offs); err != nil {
		t.Fatal(err)
	}
	lags, err := k.lags(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	byGroup := map[string]groupLag{}
	for _, g := range lags {
		byGroup[g.Group] = g
	}
	st, an := byGroup[k.StoreGroup], byGroup[other]
	if st.Records != 3 || an.Records != 3 || st.Err != "" || an.Err != "" {
		t.Fatalf("lag: store %+v, analytics %+v; want 3 records each", st, an)
	}
	if p := st.Partitions[0]; p.Position != 1 || p.End != 3 || p.Records != 2 || p.Seconds < 50 {
		t.Errorf("store partition 0: %+v; want 2 behind, the oldest a minute old", p)
	}
	if p := an.Partitions[0]; p.Position != 0 || p.Records != 3 {
		t.Errorf("analytics partition 0 without a commit: %+v; want from the start", p)
	}
	if p := an.Partitions[1]; p.Records != 0 || p.Seconds != 0 {
		t.Errorf("analytics partition 1: %+v; want caught up", p)
	}

	// Dead letters: one the analytics-writer gave up on, one of the store-writer's.
	batch := stream.Batch{Tenant: "acme", Statements: []stream.Statement{{ID: "3f1d6c52-5d0b-4b53-9a4e-1f7c0d2e9a01", Stored: time.Now().UTC(),
		Fingerprint: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Statement: json.RawMessage(`{"id":"3f1d6c52-5d0b-4b53-9a4e-1f7c0d2e9a01"}`)}}}
	rec, err := batch.Record(topic)
	if err != nil {
		t.Fatal(err)
	}
	dlq := k.dlqTopic()
	headers := func(group, reason string) []kgo.RecordHeader {
		return []kgo.RecordHeader{{Key: stream.DeadLetterReasonHeader, Value: []byte(reason)}, {Key: stream.DeadLetterGroupHeader, Value: []byte(group)},
			{Key: stream.DeadLetterSourceHeader, Value: []byte(topic)}, {Key: stream.DeadLetterPartitionHeader, Value: []byte("0")}, {Key: stream.DeadLetterOffsetHeader, Value: []byte("2")}}
	}
	produce(dlq, 0, &kgo.Record{Value: rec.Value, Headers: headers(other, "ClickHouse refused the row: no such column")})
	produce(dlq, 0, &kgo.Record{Value: []byte("not a batch"), Headers: headers(k.StoreGroup, "decode batch: invalid character")})
	dls, err := k.deadLetters(ctx, 10)
	if err != nil || len(dls) != 2 {
		t.Fatalf("dead letters %+v, %v; want 2", dls, err)
	}
	var resendable, stuck deadLetter
	for _, d := range dls {
		if d.Group == other {
			resendable = d
		} else {
			stuck = d
		}
	}
	if !resendable.Resendable || resendable.Tenant != "acme" || len(resendable.StatementIDs) != 1 || resendable.Source != topic {
		t.Errorf("analytics dead letter %+v", resendable)
	}
	if stuck.Resendable || stuck.Reason != "decode batch: invalid character" {
		t.Errorf("store-writer dead letter %+v", stuck)
	}
	if f := (deadLetterFilter{Reason: "CLICKHOUSE"}); !f.match(resendable) || f.match(stuck) {
		t.Error("reason filter")
	}
	if f := (deadLetterFilter{Group: k.StoreGroup, Tenant: ""}); f.match(resendable) || !f.match(stuck) {
		t.Error("group filter")
	}

	if _, err := k.resend(ctx, stuck.Partition, stuck.Offset); !errors.Is(err, errNotResendable) {
		t.Errorf("re-send of the store-writer's dead letter: %v", err)
	}
	if _, err := k.resend(ctx, 0, 99); !errors.Is(err, errNotFound) {
		t.Errorf("re-send of no dead letter: %v", err)
	}
	ends, _ := stream.EndOffsets(ctx, cl, topic)
	if _, err := k.resend(ctx, resendable.Partition, resendable.Offset); err != nil {
		t.Fatal(err)
	}
	after, _ := stream.EndOffsets(ctx, cl, topic)
	at := map[int32]int64{}
	for p, e := range after {
		if e > ends[p] {
			at[p] = ends[p]
		}
	}
	got, err := k.read(ctx, topic, at, 1)
	if err != nil || len(at) != 1 {
		t.Fatalf("re-sent record: %v (new records in %v)", err, at)
	}
	for _, rs := range got {
		b, err := stream.DecodeBatch(rs[0])
		if err != nil || b.Tenant != "acme" || len(b.Statements) != 1 || b.Statements[0].ID != batch.Statements[0].ID {
			t.Errorf("re-sent batch %+v, %v", b, err)
		}
		tenant, ids, err := stream.RecordIDs(rs[0])
		if err != nil || tenant != "acme" || len(ids) != 1 {
			t.Errorf("re-sent record's headers: %q %v %v", tenant, ids, err)
		}
	}
}
