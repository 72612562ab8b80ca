package stream

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

func TestErasureValidate(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	agent := json.RawMessage(`{"mbox":"mailto:a@example.com"}`)
	for _, c := range []struct {
		name string
		e    Erasure
		ok   bool
	}{
		{"agent", Erasure{ID: "e1", Tenant: "t", Agent: agent, Before: at}, true},
		{"retention", Erasure{ID: "e1", Tenant: "t", Retention: true, Before: at}, true},
		{"retention naming an agent", Erasure{ID: "e1", Tenant: "t", Agent: agent, Retention: true, Before: at}, false},
		{"no agent", Erasure{ID: "e1", Tenant: "t", Before: at}, false},
		{"agent not an object", Erasure{ID: "e1", Tenant: "t", Agent: json.RawMessage(`"a"`), Before: at}, false},
		{"no tenant", Erasure{ID: "e1", Agent: agent, Before: at}, false},
		{"no id", Erasure{Tenant: "t", Agent: agent, Before: at}, false},
		{"no time", Erasure{ID: "e1", Tenant: "t", Agent: agent}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.e.Validate(); (err == nil) != c.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, c.ok)
			}
		})
	}
}

// TestErasurePublisherWritesOneCopyPerPartition: every partition's
// consumers must meet the erasure after the records before it there.
func TestErasurePublisherWritesOneCopyPerPartition(t *testing.T) {
	for _, k := range brokerKinds {
		t.Run(k.name, func(t *testing.T) {
			c := k.start(t)
			tc := testTopic(t, c)
			cl, err := NewClient(c.brokers, zap.NewNop(), append(LifecycleProducerOpts(tc.Name, 10*time.Second), c.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			p, err := NewErasurePublisher(cl, tc.Name)
			if err != nil {
				t.Fatal(err)
			}
			ctx := testenv.Context(t, 30*time.Second)
			e := Erasure{ID: "e1", Tenant: "t1", Retention: true, Before: time.Now().Truncate(time.Millisecond).UTC()}
			n, err := p.Publish(ctx, e)
			if err != nil || n != int(tc.Partitions) {
				t.Fatalf("Publish = %d, %v: want a copy in each of %d partitions", n, err, tc.Partitions)
			}
			rd, err := NewClient(c.brokers, zap.NewNop(), append([]kgo.Opt{kgo.ConsumeTopics(tc.Name), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, c.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			seen := map[int32]int{}
			for len(seen) < int(tc.Partitions) {
				fs := rd.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					t.Fatalf("copies seen in %v: %v", seen, err)
				}
				fs.EachRecord(func(r *kgo.Record) {
					got, err := DecodeErasure(r)
					if !IsErasure(r) || err != nil || got.ID != e.ID || !got.Retention || !got.Before.Equal(e.Before) {
						t.Errorf("partition %d: record %s (%v) is not the erasure", r.Partition, r.Value, err)
					}
					seen[r.Partition]++
				})
			}
			for p, n := range seen {
				if n != 1 {
					t.Errorf("partition %d holds %d copies", p, n)
				}
			}
		})
	}
}
