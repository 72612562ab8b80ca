// Package storewriter is the consumer that writes the statements topic into
// the statement store. Each batch of records is applied in one store
// transaction together with the offsets it came from, so the store is
// exactly-once even though Kafka delivers at least once: a replayed record
// is a no-op and a restart resumes from the offsets in the store.
package storewriter

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Store is what the writer needs of the statement store.
type Store interface {
	ApplyStatements(ctx context.Context, group string, stmts []store.Statement, offsets []store.Offset) (store.ApplyResult, error)
	AppliedOffsets(ctx context.Context, group, topic string) (map[int32]int64, error)
}

// Writer is a stream.Handler and stream.OffsetSource.
type Writer struct {
	store Store
	group string
	dlq   *stream.DeadLetter
	log   *zap.Logger
}

// New returns a writer for consumer group group.
func New(s Store, group string, dlq *stream.DeadLetter, log *zap.Logger) (*Writer, error) {
	if s == nil || group == "" || dlq == nil || log == nil {
		return nil, errors.New("store writer needs a store, a group, a dead-letter topic and a logger")
	}
	return &Writer{store: s, group: group, dlq: dlq, log: log}, nil
}

// AppliedOffsets tells the consumer where to resume.
func (w *Writer) AppliedOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	return w.store.AppliedOffsets(ctx, w.group, topic)
}

// Handle applies recs. Offsets advance for every record, including records
// that were dead-lettered, so that readers waiting for the store to reach
// the topic's end are never held up by a bad record.
func (w *Writer) Handle(ctx context.Context, recs []*kgo.Record) error {
	decoded, err := stream.DecodeAll(ctx, recs, w.dlq)
	if err != nil {
		return err
	}
	type origin struct {
		rec  *kgo.Record
		stmt stream.Statement
	}
	var (
		stmts   []store.Statement
		origins = map[[2]string]origin{}
		next    = map[string]map[int32]int64{}
	)
	for _, r := range recs {
		if next[r.Topic] == nil {
			next[r.Topic] = map[int32]int64{}
		}
		next[r.Topic][r.Partition] = max(next[r.Topic][r.Partition], r.Offset+1)
	}
	for _, d := range decoded {
		for _, s := range d.Batch.Statements {
			stmts = append(stmts, store.Statement{Tenant: d.Batch.Tenant, ID: s.ID, Stored: s.Stored, JSON: s.Statement, Fingerprint: s.Fingerprint})
			origins[[2]string{d.Batch.Tenant, s.ID}] = origin{rec: d.Record, stmt: s}
		}
	}
	var offsets []store.Offset
	for topic, parts := range next {
		for p, n := range parts {
			offsets = append(offsets, store.Offset{Topic: topic, Partition: p, Next: n})
		}
	}
	res, err := w.store.ApplyStatements(ctx, w.group, stmts, offsets)
	if err != nil {
		return fmt.Errorf("apply %d statements: %w", len(stmts), err)
	}
	for _, c := range res.Conflicts {
		o := origins[[2]string{c.Statement.Tenant, c.Statement.ID}]
		w.log.Warn("statement conflicts with a stored one; dead-lettered",
			zap.String("tenant", c.Statement.Tenant), zap.String("statement_id", c.Statement.ID), zap.String("reason", c.Reason))
		b := stream.Batch{Tenant: c.Statement.Tenant, Statements: []stream.Statement{o.stmt}}
		rec, err := b.Record(o.rec.Topic)
		if err != nil {
			return err
		}
		// If this send fails the batch is retried: the store already has
		// the rows and offsets, so the retry only re-finds the conflict.
		if err := w.dlq.Send(ctx, o.rec, rec.Value, "conflict", c.Reason); err != nil {
			return err
		}
	}
	return nil
}
