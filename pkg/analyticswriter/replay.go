package analyticswriter

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// TopicSource replays the statements topic from its start up to the end it
// had when the source was opened: an analytics.Source for back-fills. It
// reads outside any consumer group, so the running analytics-writer is not
// disturbed, and ClickHouse deduplicates what both write.
type TopicSource struct {
	cl      *kgo.Client
	ends    map[int32]int64
	done    map[int32]bool
	pending []analytics.Statement
	// Skipped counts records that could not be decoded.
	Skipped int
	// Erasures are the erasure records read, once each (every partition
	// holds a copy): the statements read are inserted as they come, so
	// whoever replays applies these once the replay is done (ApplyErasures).
	Erasures []stream.Erasure
	seen     map[string]bool
}

// ApplyErasures applies the erasures read to ins, so that a back-fill
// does not bring an erased learner back (nor statements past a tenant's
// retention); it returns the statements removed.
func (s *TopicSource) ApplyErasures(ctx context.Context, ins Inserter) (int, error) {
	n := 0
	for _, e := range s.Erasures {
		c, err := applyErasure(ctx, ins, e)
		if errors.Is(err, analytics.ErrNoAgent) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("apply erasure %s: %w", e.ID, err)
		}
		n += c.Statements
	}
	return n, nil
}

// NewTopicSource opens topic on brokers; opts are added to its clients (the
// connection's security).
func NewTopicSource(ctx context.Context, brokers []string, topic string, log *zap.Logger, opts ...kgo.Opt) (*TopicSource, error) {
	probe, err := stream.NewClient(brokers, log, opts...)
	if err != nil {
		return nil, err
	}
	ends, err := stream.EndOffsets(ctx, probe, topic)
	probe.Close()
	if err != nil {
		return nil, err
	}
	offsets := map[int32]kgo.Offset{}
	done := map[int32]bool{}
	for p, end := range ends {
		offsets[p] = kgo.NewOffset().AtStart()
		if end == 0 {
			done[p] = true
		}
	}
	cl, err := stream.NewClient(brokers, log, append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))...)
	if err != nil {
		return nil, err
	}
	return &TopicSource{cl: cl, ends: ends, done: done, seen: map[string]bool{}}, nil
}

// Next returns the next statement, or io.EOF once every partition reached
// the end it had at the start.
func (s *TopicSource) Next(ctx context.Context) (analytics.Statement, error) {
	for len(s.pending) == 0 {
		if len(s.done) == len(s.ends) {
			return analytics.Statement{}, io.EOF
		}
		fetches := s.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return analytics.Statement{}, err
		}
		var errs []error
		fetches.EachError(func(_ string, p int32, err error) { errs = append(errs, fmt.Errorf("partition %d: %w", p, err)) })
		if len(errs) > 0 {
			return analytics.Statement{}, errors.Join(errs...)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if s.done[r.Partition] {
				return
			}
			if r.Offset+1 >= s.ends[r.Partition] {
				s.done[r.Partition] = true
			}
			if stream.IsErasure(r) {
				e, err := stream.DecodeErasure(r)
				if err != nil {
					s.Skipped++
				} else if !s.seen[e.Tenant+"/"+e.ID] {
					s.seen[e.Tenant+"/"+e.ID] = true
					s.Erasures = append(s.Erasures, e)
				}
				return
			}
			b, err := stream.DecodeBatch(r)
			if err != nil {
				s.Skipped++
				return
			}
			for _, st := range b.Statements {
				s.pending = append(s.pending, analytics.Statement{Tenant: b.Tenant, JSON: st.Statement, Source: st.Source, OriginalStored: st.OriginalStored})
			}
		})
	}
	st := s.pending[0]
	s.pending = s.pending[1:]
	return st, nil
}

// Close releases the Kafka client.
func (s *TopicSource) Close() { s.cl.Close() }
