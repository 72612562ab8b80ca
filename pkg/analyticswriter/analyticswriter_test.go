package analyticswriter

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// recordingInserter records the erasures and purges it is asked for.
type recordingInserter struct{ calls []string }

func (r *recordingInserter) Insert(context.Context, []analytics.Statement) ([]analytics.RowError, error) {
	return nil, nil
}

func (r *recordingInserter) EraseAgent(_ context.Context, e analytics.Erasure, _ bool) (analytics.ErasureCounts, error) {
	r.calls = append(r.calls, "erase "+e.Tenant)
	return analytics.ErasureCounts{}, nil
}

func (r *recordingInserter) PurgeBefore(_ context.Context, tenant string, before time.Time, _ bool) (analytics.ErasureCounts, error) {
	r.calls = append(r.calls, "purge "+tenant+" "+before.Format("15:04"))
	return analytics.ErasureCounts{}, nil
}

// A retention cut that one applied before in the same partition covers is
// skipped (the same cut from another ingest instance, an older one); every
// copy of an agent's erasure is applied, and a retention copy in another
// partition too.
func TestRetentionAppliedOncePerPartition(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	var recs []*kgo.Record
	add := func(e stream.Erasure, partition int32) {
		rs, err := e.Records("stmts", []int32{partition})
		if err != nil {
			t.Fatal(err)
		}
		rs[0].Offset = int64(len(recs))
		recs = append(recs, rs[0])
	}
	retention := func(id, tenant string, h int) stream.Erasure {
		return stream.Erasure{ID: id, Tenant: tenant, Retention: true, Before: at(h)}
	}
	agent := stream.Erasure{ID: "e1", Tenant: "t1", Agent: json.RawMessage(`{"mbox":"mailto:a@example.com"}`), Before: at(12)}
	add(retention("r1", "t1", 10), 0)
	add(retention("r2", "t1", 10), 0) // another instance, same cut
	add(retention("r3", "t1", 9), 0)  // an older cut
	add(retention("r1", "t1", 10), 1) // the copy in partition 1
	add(retention("r4", "t2", 10), 0) // another tenant
	add(retention("r5", "t1", 11), 0) // a later cut
	add(agent, 0)
	add(agent, 1)
	ins := &recordingInserter{}
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dlq, err := stream.NewDeadLetter(cl, "stmts.dlq", "analytics", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(ins, dlq)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handle(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	want := []string{"purge t1 10:00", "purge t1 10:00", "purge t2 10:00", "purge t1 11:00", "erase t1", "erase t1"}
	if !reflect.DeepEqual(ins.calls, want) {
		t.Fatalf("calls %q, want %q", ins.calls, want)
	}
}
