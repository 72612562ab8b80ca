package storewriter

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// A statement whose id is stored with other content, and a record nobody can
// decode, end in the dead-letter topic with their reasons; the store keeps
// the first statement and its offsets move past both.
func TestConflictsAndBadRecordsAreDeadLettered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := stream.StartEmbeddedBroker(t.TempDir(), 0, 1<<20, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tc := stream.TopicConfig{Name: "stmts", Partitions: 2, ReplicationFactor: 1, MaxRecordBytes: 1 << 20}
	cl, err := stream.NewClient(b.Addrs(), zap.NewNop(), append(stream.ProducerOpts(tc, 10*time.Second, 0), b.ClientOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := stream.EnsureTopics(ctx, cl, tc); err != nil {
		t.Fatal(err)
	}
	const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	stmt := func(verb string) json.RawMessage {
		return json.RawMessage(`{"id":"` + id + `","actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://example.com/` + verb + `"},"object":{"id":"http://example.com/x"},"stored":"2026-01-01T00:00:00.000Z","timestamp":"2026-01-01T00:00:00.000Z","version":"1.0.0"}`)
	}
	for _, fp := range []string{"first", "second"} {
		rec, err := stream.Batch{Tenant: "t", Statements: []stream.Statement{{ID: id, Stored: time.Now(), Fingerprint: fp, Statement: stmt(fp)}}}.Record(tc.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: tc.Name, Value: []byte("not a batch")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lrs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dlq, err := stream.NewDeadLetter(cl, tc.DeadLetterTopic(), "writer", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(st, "writer", 2, 0, dlq, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c, err := stream.NewConsumer(stream.ConsumerConfig{Brokers: b.Addrs(), ClientOpts: b.ClientOpts(), Topic: tc.Name, Group: "writer"}, w, w, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	ends, err := stream.EndOffsets(ctx, cl, tc.Name)
	if err != nil {
		t.Fatal(err)
	}
	for {
		applied, err := st.AppliedOffsets(ctx, "writer", tc.Name)
		if err != nil {
			t.Fatal(err)
		}
		caught := true
		for p, end := range ends {
			caught = caught && applied[p] >= end
		}
		if caught {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("offsets %v never reached %v", applied, ends)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fp, err := st.Fingerprints(ctx, []store.StatementKey{{Tenant: "t", ID: id}}); err != nil || fp[store.StatementKey{Tenant: "t", ID: id}] != "first" {
		t.Fatalf("stored fingerprint %q, %v; want the first statement's", fp, err)
	}

	rd, err := stream.NewClient(b.Addrs(), zap.NewNop(), append(b.ClientOpts(), kgo.ConsumeTopics(tc.DeadLetterTopic()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	kinds := map[string]string{}
	for len(kinds) < 2 && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var reason string
			for _, h := range r.Headers {
				if h.Key == stream.DeadLetterReasonHeader {
					reason = string(h.Value)
				}
			}
			if string(r.Value) == "not a batch" {
				kinds["undecodable"] = reason
				return
			}
			b, err := stream.DecodeBatch(r)
			if err != nil || b.Statements[0].Fingerprint != "second" {
				t.Errorf("dead letter %s: %v", r.Value, err)
			}
			kinds["conflict"] = reason
		})
	}
	if kinds["undecodable"] == "" || kinds["conflict"] == "" {
		t.Fatalf("dead letters with reasons: %v; want a conflict and an undecodable record", kinds)
	}
}

// recordingStore records each transaction's statements and offsets.
type recordingStore struct {
	txs []recordedTx
}

type recordedTx struct {
	statements int
	offsets    []store.Offset
}

func (r *recordingStore) ApplyStatements(_ context.Context, _ string, stmts []store.Statement, offsets []store.Offset) (store.ApplyResult, error) {
	r.txs = append(r.txs, recordedTx{len(stmts), offsets})
	return store.ApplyResult{Inserted: len(stmts)}, nil
}

func (r *recordingStore) AppliedOffsets(context.Context, string, string) (map[int32]int64, error) {
	return nil, nil
}

// A batch splits into transactions of about maxStatements statements at
// record boundaries, each carrying the offsets of its own records.
func TestTransactionsOfBoundedSize(t *testing.T) {
	var recs []*kgo.Record
	for off := range int64(3) {
		b := stream.Batch{Tenant: "t"}
		for i := range int64(3) {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", off*3+i)
			b.Statements = append(b.Statements, stream.Statement{ID: id, Stored: time.Now(), Fingerprint: "f", Statement: json.RawMessage(`{"id":"` + id + `"}`)})
		}
		rec, err := b.Record("stmts")
		if err != nil {
			t.Fatal(err)
		}
		rec.Partition, rec.Offset = 0, off
		recs = append(recs, rec)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1")) // never used: no record is bad
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dlq, err := stream.NewDeadLetter(cl, "stmts.dlq", "writer", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		max  int
		want []recordedTx
	}{
		{0, []recordedTx{{9, offs(3)}}},
		{5, []recordedTx{{3, offs(1)}, {3, offs(2)}, {3, offs(3)}}},
		{6, []recordedTx{{6, offs(2)}, {3, offs(3)}}},
		{1, []recordedTx{{3, offs(1)}, {3, offs(2)}, {3, offs(3)}}}, // a record is never split
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			st := &recordingStore{}
			w, err := New(st, "writer", 1, tt.max, dlq, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Handle(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st.txs, tt.want) {
				t.Fatalf("transactions %+v, want %+v", st.txs, tt.want)
			}
		})
	}
}

func offs(next int64) []store.Offset {
	return []store.Offset{{Topic: "stmts", Partition: 0, Next: next}}
}
