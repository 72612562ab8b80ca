package stream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Example_changeFeed is the consumer of docs/change-feed.md, run against
// kfake: a consumer group of its own on the statements topic, decoding
// statements.v1 records with encoding/json alone (a consumer needs none of
// this repository's packages), skipping other formats and tenants, and
// taking an id it has seen with the same fingerprint as the same statement
// (records are delivered at least once).
func Example_changeFeed() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "xapi.statements"))
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// What ingest publishes: one record per accepted request. The first
	// one twice, as a producer retry can.
	stored := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	stmt := func(id, verb string) stream.Statement {
		return stream.Statement{ID: id, Stored: stored, Fingerprint: "fp-" + id[:8],
			Statement: json.RawMessage(`{"id":"` + id + `","actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"` + verb + `"},"object":{"id":"http://example.com/course"}}`)}
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	first := stream.Batch{Tenant: "acme", Statements: []stream.Statement{
		stmt("4b3c8f7e-0000-4000-8000-000000000001", "http://adlnet.gov/expapi/verbs/attempted"),
		stmt("4b3c8f7e-0000-4000-8000-000000000002", "http://adlnet.gov/expapi/verbs/completed")}}
	other := stream.Batch{Tenant: "beta", Statements: []stream.Statement{stmt("4b3c8f7e-0000-4000-8000-000000000003", "http://adlnet.gov/expapi/verbs/passed")}}
	for _, b := range []stream.Batch{first, other, first} {
		rec, err := b.Record("xapi.statements")
		if err != nil {
			panic(err)
		}
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			panic(err)
		}
	}

	if err := consume(ctx, c.ListenAddrs(), "acme", 3); err != nil {
		panic(err)
	}
	// Output:
	// acme 4b3c8f7e-0000-4000-8000-000000000001 stored 2026-12-02T09:30:00Z http://adlnet.gov/expapi/verbs/attempted
	// acme 4b3c8f7e-0000-4000-8000-000000000002 stored 2026-12-02T09:30:00Z http://adlnet.gov/expapi/verbs/completed
}

// consume reads the statements of tenant until it has read records records.
func consume(ctx context.Context, brokers []string, tenant string, records int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup("my-dashboard"), kgo.ConsumeTopics("xapi.statements"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		return err
	}
	defer cl.Close()
	// A real consumer keeps what it has seen with its own output (in the
	// same transaction), so that a restart after a crash skips it too.
	seen := map[string]string{} // tenant/id -> fingerprint
	for read := 0; read < records; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			if header(r, "lrs-format") != "statements.v1" || header(r, "lrs-tenant") != tenant {
				return // another format (upgrade this consumer), or another tenant
			}
			var batch struct {
				Tenant     string `json:"tenant"`
				Statements []struct {
					ID          string          `json:"id"`
					Stored      string          `json:"stored"`
					Fingerprint string          `json:"fingerprint"`
					Statement   json.RawMessage `json:"statement"`
				} `json:"statements"`
			}
			if err := json.Unmarshal(r.Value, &batch); err != nil {
				return // the LRS dead-letters what it cannot read; so may we
			}
			for _, s := range batch.Statements {
				key := batch.Tenant + "/" + s.ID
				if seen[key] == s.Fingerprint {
					continue // delivered again: the same statement
				}
				seen[key] = s.Fingerprint
				var st struct {
					Verb struct {
						ID string `json:"id"`
					} `json:"verb"`
				}
				json.Unmarshal(s.Statement, &st)
				fmt.Println(batch.Tenant, s.ID, "stored", s.Stored, st.Verb.ID)
			}
		})
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			return err
		}
	}
	return nil
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
