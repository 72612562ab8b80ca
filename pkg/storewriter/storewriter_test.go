package storewriter

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// A statement whose id is stored with other content (also when a record
// carries the id upper case, which the store makes lower case), and a
// record nobody can decode, end in the dead-letter topic with their reasons;
// the store keeps the first statement and its offsets move past all.
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
	for _, v := range []struct{ fp, id string }{{"first", id}, {"second", id}, {"third", strings.ToUpper(id)}} {
		rec, err := stream.Batch{Tenant: "t", Statements: []stream.Statement{{ID: v.id, Stored: time.Now(), Fingerprint: v.fp, Statement: stmt(v.fp)}}}.Record(tc.Name)
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
	w, err := New(st, "writer", 2, 0, 0, dlq, zap.NewNop())
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
	conflicts := map[string]bool{} // fingerprints dead-lettered
	for len(conflicts) < 2 && ctx.Err() == nil {
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
			if err != nil || (b.Statements[0].Fingerprint != "second" && b.Statements[0].Fingerprint != "third") {
				t.Errorf("dead letter %s: %v", r.Value, err)
				return
			}
			conflicts[b.Statements[0].Fingerprint] = true
			kinds["conflict"] = reason
		})
	}
	if kinds["undecodable"] == "" || kinds["conflict"] == "" || len(conflicts) != 2 {
		t.Fatalf("dead letters with reasons: %v, conflicts %v; want the second and third statements and an undecodable record", kinds, conflicts)
	}
}

// recordingStore records each transaction's statements and offsets.
type recordingStore struct {
	txs     []recordedTx
	applied map[int32]int64
	// purgeable is how many statements retention finds to remove.
	purgeable int
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
	return r.applied, nil
}

// EraseAgent records an erasure as a transaction of -1 statements.
func (r *recordingStore) EraseAgent(_ context.Context, _ string, _ store.Erasure, offsets []store.Offset) (store.ErasureCounts, error) {
	r.txs = append(r.txs, recordedTx{-1, offsets})
	return store.ErasureCounts{}, nil
}

// PurgeBefore records a retention transaction as one of -2 statements.
func (r *recordingStore) PurgeBefore(_ context.Context, _ string, _ time.Time, limit int, _ bool) (store.ErasureCounts, error) {
	r.txs = append(r.txs, recordedTx{-2, nil})
	n := min(limit, r.purgeable)
	r.purgeable -= n
	return store.ErasureCounts{Statements: n}, nil
}

// A retention record purges in chunks until a chunk comes back short, then
// saves its offset; a retry after that skips it.
func TestRetentionPurgesInChunks(t *testing.T) {
	recs, err := stream.Erasure{ID: "r1", Tenant: "t", Retention: true, Before: time.Now()}.Records("stmts", []int32{0})
	if err != nil {
		t.Fatal(err)
	}
	recs[0].Offset = 7
	for _, tt := range []struct {
		name      string
		purgeable int
		applied   map[int32]int64
		want      []recordedTx
	}{
		{"nothing to purge", 0, nil, []recordedTx{{-2, nil}, {0, offs(8)}}},
		{"two chunks and a rest", 2*purgeChunk + 3, nil, []recordedTx{{-2, nil}, {-2, nil}, {-2, nil}, {0, offs(8)}}},
		{"applied already", purgeChunk, map[int32]int64{0: 8}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantTransactions(t, &recordingStore{applied: tt.applied, purgeable: tt.purgeable}, 0, 0, recs, tt.want)
		})
	}
}

// An erasure record cuts the batch: the records before it are applied
// first, the erasure with its own offset, then the rest; a retry of a
// batch whose erasure the store applied already does not apply it again.
func TestErasureAppliedInOrder(t *testing.T) {
	var recs []*kgo.Record
	for off := range int64(3) {
		var rec *kgo.Record
		if off == 1 {
			erasure, err := stream.Erasure{ID: "e1", Tenant: "t", Agent: json.RawMessage(`{"mbox":"mailto:a@example.com"}`), Before: time.Now()}.Records("stmts", []int32{0})
			if err != nil {
				t.Fatal(err)
			}
			rec = erasure[0]
		} else {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", off)
			var err error
			rec, err = stream.Batch{Tenant: "t", Statements: []stream.Statement{{ID: id, Stored: time.Now(), Fingerprint: "f", Statement: json.RawMessage(`{"id":"` + id + `"}`)}}}.Record("stmts")
			if err != nil {
				t.Fatal(err)
			}
		}
		rec.Partition, rec.Offset = 0, off
		recs = append(recs, rec)
	}
	tests := []struct {
		name    string
		applied map[int32]int64
		want    []recordedTx
	}{
		{"first time", nil, []recordedTx{{1, offs(1)}, {-1, offs(2)}, {1, offs(3)}}},
		{"retry after the erasure", map[int32]int64{0: 2}, []recordedTx{{1, offs(1)}, {1, offs(3)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantTransactions(t, &recordingStore{applied: tt.applied}, 0, 0, recs, tt.want)
		})
	}
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
			wantTransactions(t, &recordingStore{}, tt.max, 0, recs, tt.want)
		})
	}
}

// Transactions of imported statements (they carry a source) have their
// own bound; a record of the API's ends such a transaction if the
// ordinary bound would be exceeded.
func TestImportTransactions(t *testing.T) {
	var recs []*kgo.Record
	for off, source := range []string{"file:///a.ndjson", "file:///a.ndjson", "", "file:///a.ndjson", "file:///a.ndjson"} {
		b := stream.Batch{Tenant: "t"}
		for i := range 3 {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", off*3+i)
			b.Statements = append(b.Statements, stream.Statement{ID: id, Stored: time.Now(), Fingerprint: "f", Source: source, Statement: json.RawMessage(`{"id":"` + id + `"}`)})
		}
		rec, err := b.Record("stmts")
		if err != nil {
			t.Fatal(err)
		}
		rec.Partition, rec.Offset = 0, int64(off)
		recs = append(recs, rec)
	}
	tests := []struct {
		max, imports int
		want         []recordedTx
	}{
		{4, 0, []recordedTx{{6, offs(2)}, {3, offs(3)}, {6, offs(5)}}},
		{4, 7, []recordedTx{{6, offs(2)}, {3, offs(3)}, {6, offs(5)}}},
		{4, 5, []recordedTx{{3, offs(1)}, {3, offs(2)}, {3, offs(3)}, {3, offs(4)}, {3, offs(5)}}},
		{7, 0, []recordedTx{{6, offs(2)}, {6, offs(4)}, {3, offs(5)}}},
		{0, 4, []recordedTx{{3, offs(1)}, {12, offs(5)}}}, // a live record lifts the import bound
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max, "/", tt.imports), func(t *testing.T) {
			wantTransactions(t, &recordingStore{}, tt.max, tt.imports, recs, tt.want)
		})
	}
}

// wantTransactions has a writer with these bounds handle recs on st and
// compares the transactions st recorded with want.
func wantTransactions(t *testing.T, st *recordingStore, maxStatements, importStatements int, recs []*kgo.Record, want []recordedTx) {
	t.Helper()
	w, err := New(st, "writer", 1, maxStatements, importStatements, unusedDeadLetter(t), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handle(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.txs, want) {
		t.Fatalf("transactions %+v, want %+v", st.txs, want)
	}
}

func offs(next int64) []store.Offset {
	return []store.Offset{{Topic: "stmts", Partition: 0, Next: next}}
}

func TestOriginOf(t *testing.T) {
	const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	rec := func(tenant, id, fp string) stream.Decoded {
		return stream.Decoded{Record: &kgo.Record{Value: []byte(fp)}, Batch: stream.Batch{Tenant: tenant, Statements: []stream.Statement{{ID: id, Fingerprint: fp}}}}
	}
	decoded := []stream.Decoded{rec("t", id, "a"), rec("t", id, "b"), rec("t", strings.ToUpper(id), "c"), rec("u", id, "b")}
	decoded = append(decoded, rec("t", id, "b")) // a later copy
	tests := []struct {
		name       string
		st         store.Statement
		wantRecord int // index in decoded, -1: none
	}{
		{"found", store.Statement{Tenant: "t", ID: id, Fingerprint: "a"}, 0},
		{"last copy wins", store.Statement{Tenant: "t", ID: id, Fingerprint: "b"}, 4},
		{"record id upper case", store.Statement{Tenant: "t", ID: id, Fingerprint: "c"}, 2},
		{"other fingerprint", store.Statement{Tenant: "t", ID: id, Fingerprint: "z"}, -1},
		{"other tenant", store.Statement{Tenant: "v", ID: id, Fingerprint: "a"}, -1},
		{"other id", store.Statement{Tenant: "t", ID: "00000000-0000-4000-8000-000000000000", Fingerprint: "a"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := originOf(decoded, tt.st)
			switch {
			case tt.wantRecord < 0 && ok:
				t.Fatalf("originOf found record %s, want none", o.rec.Value)
			case tt.wantRecord >= 0 && (!ok || o.rec != decoded[tt.wantRecord].Record):
				t.Fatalf("originOf = %v, %v; want record %d", o.rec, ok, tt.wantRecord)
			}
		})
	}
}

// conflictStore reports one conflict for a statement of its choosing.
type conflictStore struct {
	*recordingStore
	conflict store.Statement
}

func (c conflictStore) ApplyStatements(_ context.Context, _ string, stmts []store.Statement, _ []store.Offset) (store.ApplyResult, error) {
	return store.ApplyResult{Inserted: len(stmts), Conflicts: []store.Conflict{{Statement: c.conflict, Reason: "test"}}}, nil
}

// A conflict the store reports for a statement no record of the batch holds
// is an error of the batch, not a nil record dereferenced.
func TestConflictOutsideTheBatch(t *testing.T) {
	const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	rec, err := stream.Batch{Tenant: "t", Statements: []stream.Statement{{ID: id, Stored: time.Now(), Fingerprint: "f", Statement: json.RawMessage(`{"id":"` + id + `"}`)}}}.Record("stmts")
	if err != nil {
		t.Fatal(err)
	}
	dlq := unusedDeadLetter(t)
	w, err := New(conflictStore{&recordingStore{}, store.Statement{Tenant: "t", ID: id, Fingerprint: "other"}}, "writer", 1, 0, 0, dlq, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	err = w.Handle(context.Background(), []*kgo.Record{rec})
	if err == nil || !strings.Contains(err.Error(), "no record of the batch holds") {
		t.Fatalf("Handle = %v, want the conflict named as outside the batch", err)
	}
}

// unusedDeadLetter is a dead-letter topic for tests in which nothing is
// dead-lettered: its client points at a port where no broker listens.
func unusedDeadLetter(t *testing.T) *stream.DeadLetter {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	dlq, err := stream.NewDeadLetter(cl, "stmts.dlq", "writer", nil)
	if err != nil {
		t.Fatal(err)
	}
	return dlq
}
