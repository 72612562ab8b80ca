// Package analyticswriter is the consumer that writes the statements topic
// into ClickHouse. It hands whole polled batches to the analytics inserter
// (thousands of rows per insert, as ClickHouse wants); the Kafka offsets
// are committed only after ClickHouse acknowledged, and the tables
// deduplicate by statement id, so replays never count a statement twice.
// While ClickHouse is down the consumer retries with backoff and lag grows;
// ingestion and the statement store do not notice.
package analyticswriter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Inserter writes statements to the analytics database, and erases them.
type Inserter interface {
	Insert(ctx context.Context, stmts []analytics.Statement) ([]analytics.RowError, error)
	EraseAgent(ctx context.Context, e analytics.Erasure, dryRun bool) (analytics.ErasureCounts, error)
	PurgeBefore(ctx context.Context, tenant string, before time.Time, dryRun bool) (analytics.ErasureCounts, error)
}

// applyErasure applies an erasure record, or a retention record, to ins.
func applyErasure(ctx context.Context, ins Inserter, e stream.Erasure) (analytics.ErasureCounts, error) {
	if e.Retention {
		return ins.PurgeBefore(ctx, e.Tenant, e.Before, false)
	}
	return ins.EraseAgent(ctx, analytics.Erasure{Tenant: e.Tenant, Agent: e.Agent, Before: e.Before}, false)
}

// Writer is a stream.Handler.
type Writer struct {
	ins Inserter
	dlq *stream.DeadLetter

	mu sync.Mutex
	// retained is the latest retention cut applied per tenant and
	// partition: the records of the other ingest instances with the same
	// cut would each cost ClickHouse a scan of the tenant's rows to delete
	// nothing.
	retained map[retainedKey]time.Time
}

type retainedKey struct {
	tenant    string
	partition int32
}

// New returns a writer inserting through ins.
func New(ins Inserter, dlq *stream.DeadLetter) (*Writer, error) {
	if ins == nil || dlq == nil {
		return nil, errors.New("analytics writer needs an inserter and a dead-letter topic")
	}
	return &Writer{ins: ins, dlq: dlq, retained: map[retainedKey]time.Time{}}, nil
}

// Handle inserts every statement of recs and applies their erasure (and
// retention) records, in order: an erasure deletes what the records before it
// inserted. Rows ClickHouse can never take go to the dead-letter topic with
// the reason. A retry applies an erasure again, which deletes nothing more.
func (w *Writer) Handle(ctx context.Context, recs []*kgo.Record) error {
	for _, seg := range stream.Split(recs) {
		var err error
		if e := seg.Erasure; e != nil {
			k := retainedKey{e.Tenant, seg.Records[0].Partition}
			if w.retainedAlready(k, *e) {
				continue
			}
			_, err = applyErasure(ctx, w.ins, *e)
			if err == nil && e.Retention {
				w.mu.Lock()
				w.retained[k] = e.Before
				w.mu.Unlock()
			}
			if errors.Is(err, analytics.ErrNoAgent) {
				err = w.dlq.Send(ctx, seg.Records[0], seg.Records[0].Value, "undecodable", err.Error())
			} else if err != nil {
				err = fmt.Errorf("apply erasure %s: %w", e.ID, err)
			}
		} else {
			err = w.insert(ctx, seg.Records)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// retainedAlready reports a retention record whose cut one applied
// earlier in the same partition covers: every statement of the partition
// before this record was inserted before that one, or stored after its cut.
func (w *Writer) retainedAlready(k retainedKey, e stream.Erasure) bool {
	if !e.Retention {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok := w.retained[k]
	return ok && !e.Before.After(last)
}

// insert inserts the statements of recs.
func (w *Writer) insert(ctx context.Context, recs []*kgo.Record) error {
	decoded, err := stream.DecodeAll(ctx, recs, w.dlq)
	if err != nil {
		return err
	}
	var (
		stmts []analytics.Statement
		src   []stream.Decoded
		orig  []stream.Statement
	)
	for _, d := range decoded {
		for _, s := range d.Batch.Statements {
			stmts = append(stmts, analytics.Statement{Tenant: d.Batch.Tenant, JSON: s.Statement, Source: s.Source, OriginalStored: s.OriginalStored})
			src = append(src, d)
			orig = append(orig, s)
		}
	}
	if len(stmts) == 0 {
		return nil
	}
	bad, err := w.ins.Insert(ctx, stmts)
	if err != nil {
		return fmt.Errorf("insert %d statements into ClickHouse: %w", len(stmts), err)
	}
	for _, b := range bad {
		if b.Index < 0 || b.Index >= len(stmts) {
			return fmt.Errorf("inserter reported row %d of %d", b.Index, len(stmts))
		}
		d := src[b.Index]
		rec, err := stream.Batch{Tenant: d.Batch.Tenant, Statements: []stream.Statement{orig[b.Index]}}.Record(d.Record.Topic)
		if err != nil {
			return err
		}
		if err := w.dlq.Send(ctx, d.Record, rec.Value, "unwritable_row", b.Reason); err != nil {
			return err
		}
	}
	return nil
}
