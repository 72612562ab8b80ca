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
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Store is what the writer needs of the statement store.
type Store interface {
	ApplyStatements(ctx context.Context, group string, stmts []store.Statement, offsets []store.Offset) (store.ApplyResult, error)
	AppliedOffsets(ctx context.Context, group, topic string) (map[int32]int64, error)
	EraseAgent(ctx context.Context, group string, e store.Erasure, offsets []store.Offset) (store.ErasureCounts, error)
	PurgeBefore(ctx context.Context, tenant string, before time.Time, limit int, dryRun bool) (store.ErasureCounts, error)
}

// purgeChunk bounds the statements one retention transaction removes: the
// first retention of a tenant with years of statements must not hold the
// SQLite writer for minutes.
const purgeChunk = 5000

// Writer is a stream.Handler and stream.OffsetSource.
type Writer struct {
	store            Store
	group            string
	lanes            int
	maxStatements    int
	importStatements int
	dlq              *stream.DeadLetter
	log              *zap.Logger
}

// New returns a writer for consumer group group. Records of different
// partitions are applied in up to lanes concurrent transactions (each with
// its own partitions' offsets): PostgreSQL applies two batches at once
// faster than one large one. maxStatements (0: no bound) splits a batch
// into transactions of about that many statements, each with the offsets
// of its records: SQLite has one writer, and a transaction of a whole
// fetch (3,300 statements, 430 ms on the test machine) held every
// attachment and document write of the API behind it. Smaller
// transactions cost SQLite throughput (each commit rewrites the index
// pages it touched), so the bound is a trade. importStatements (0: no
// bound) is the bound of a transaction of imported statements only (lrs
// import and lrs pull: they carry a source): a bulk load, where the rate
// matters more than how long an API write waits for the writer. On SQLite
// one transaction of a whole batch cost 20 % less CPU per statement than
// transactions of 1000, as each commit writes every index page it touched.
func New(s Store, group string, lanes, maxStatements, importStatements int, dlq *stream.DeadLetter, log *zap.Logger) (*Writer, error) {
	if s == nil || group == "" || dlq == nil || log == nil {
		return nil, errors.New("store writer needs a store, a group, a dead-letter topic and a logger")
	}
	if lanes < 1 {
		return nil, fmt.Errorf("store writer lanes %d: want at least 1", lanes)
	}
	if maxStatements < 0 || importStatements < 0 {
		return nil, fmt.Errorf("store writer statements per transaction %d, %d imported: want 0 (no bound) or more", maxStatements, importStatements)
	}
	return &Writer{store: s, group: group, lanes: lanes, maxStatements: maxStatements, importStatements: importStatements, dlq: dlq, log: log}, nil
}

// AppliedOffsets tells the consumer where to resume.
func (w *Writer) AppliedOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	return w.store.AppliedOffsets(ctx, w.group, topic)
}

type origin struct {
	rec  *kgo.Record
	stmt stream.Statement
}

// originOf finds the record a conflicting statement came from. Conflicts
// are rare, so a search beats indexing every statement of every batch. The
// last copy wins, as the store keeps the first and reports the others. The
// id is compared regardless of case: the store reports it canonical (lower
// case), while a record from another producer may carry it upper case.
// ok is false when no record of decoded holds the statement.
func originOf(decoded []stream.Decoded, st store.Statement) (o origin, ok bool) {
	for _, d := range decoded {
		if d.Batch.Tenant != st.Tenant {
			continue
		}
		for _, s := range d.Batch.Statements {
			if s.Fingerprint == st.Fingerprint && strings.EqualFold(s.ID, st.ID) {
				o, ok = origin{rec: d.Record, stmt: s}, true
			}
		}
	}
	return o, ok
}

// lane is the share of a batch applied in one transaction.
type lane struct {
	stmts   []store.Statement
	offsets []store.Offset
	res     store.ApplyResult
	err     error
}

// Handle applies recs in order, cutting them at erasure records: an
// erasure removes what the records before it wrote. Offsets advance for
// every record, including records that were dead-lettered, so that readers
// waiting for the store to reach the topic's end are never held up by a
// bad record.
func (w *Writer) Handle(ctx context.Context, recs []*kgo.Record) error {
	for _, seg := range stream.Split(recs) {
		var err error
		if seg.Erasure != nil {
			err = w.erase(ctx, seg.Records[0], *seg.Erasure)
		} else {
			err = w.handle(ctx, seg.Records)
		}
		if err != nil {
			// What was applied already is skipped or a no-op with the retry.
			return err
		}
	}
	return nil
}

// erase applies one copy of an erasure, with its offset, unless the store
// applied it already (a retry of the batch).
func (w *Writer) erase(ctx context.Context, r *kgo.Record, e stream.Erasure) error {
	applied, err := w.store.AppliedOffsets(ctx, w.group, r.Topic)
	if err != nil {
		return fmt.Errorf("read applied offsets: %w", err)
	}
	if applied[r.Partition] > r.Offset {
		return nil
	}
	offsets := []store.Offset{{Topic: r.Topic, Partition: r.Partition, Next: r.Offset + 1}}
	if e.Retention {
		return w.purge(ctx, e, offsets)
	}
	n, err := w.store.EraseAgent(ctx, w.group, store.Erasure{ID: e.ID, Tenant: e.Tenant, Agent: e.Agent, Before: e.Before, RequestedBy: e.RequestedBy},
		offsets)
	if errors.Is(err, store.ErrInvalidQuery) {
		// An agent the store cannot identify can never be erased.
		return w.dlq.Send(ctx, r, r.Value, "undecodable", err.Error())
	}
	if err != nil {
		return fmt.Errorf("apply erasure %s: %w", e.ID, err)
	}
	// The agent is not logged: the log outlives the erasure.
	w.log.Info("erasure applied", zap.String("tenant", e.Tenant), zap.String("erasure_id", e.ID), zap.Int32("partition", r.Partition),
		zap.Int("statements", n.Statements), zap.Int("attachments", n.Attachments), zap.Int("documents", n.Documents))
	return nil
}

// purge applies a retention record: the tenant's statements stored before
// e.Before go, a chunk per transaction, then the record's offset is saved.
// Interrupted, the retry removes the rest.
func (w *Writer) purge(ctx context.Context, e stream.Erasure, offsets []store.Offset) error {
	total := 0
	for {
		n, err := w.store.PurgeBefore(ctx, e.Tenant, e.Before, purgeChunk, false)
		if err != nil {
			return fmt.Errorf("apply retention %s: %w", e.ID, err)
		}
		total += n.Statements
		if n.Statements < purgeChunk {
			break
		}
	}
	if _, err := w.store.ApplyStatements(ctx, w.group, nil, offsets); err != nil {
		return fmt.Errorf("apply retention %s: save offsets: %w", e.ID, err)
	}
	if total > 0 {
		w.log.Info("retention applied", zap.String("tenant", e.Tenant), zap.Time("before", e.Before), zap.Int("statements", total))
	}
	return nil
}

// handle applies statement records.
func (w *Writer) handle(ctx context.Context, recs []*kgo.Record) error {
	decoded, err := stream.DecodeAll(ctx, recs, w.dlq)
	if err != nil {
		return err
	}
	for len(recs) > 0 {
		n, m := w.chunk(recs, decoded)
		if err := w.apply(ctx, recs[:n], decoded[:m]); err != nil {
			// The chunks applied already are replayed as no-ops with the retry.
			return err
		}
		recs, decoded = recs[n:], decoded[m:]
	}
	return nil
}

// chunk returns how many of recs (and of their decoded batches, in the
// same order without the undecodable ones) go into the next transaction:
// records up to maxStatements statements, or up to importStatements while
// every record so far holds imported statements; at least one record.
func (w *Writer) chunk(recs []*kgo.Record, decoded []stream.Decoded) (n, m int) {
	stmts := 0
	imports := true
	for n < len(recs) {
		ok := m < len(decoded) && decoded[m].Record == recs[n]
		size := 0
		if ok {
			size = len(decoded[m].Batch.Statements)
			imports = imports && imported(decoded[m].Batch)
		}
		bound := w.maxStatements
		if imports {
			bound = w.importStatements
		}
		if n > 0 && bound > 0 && stmts+size > bound {
			break
		}
		stmts += size
		if ok {
			m++
		}
		n++
	}
	return n, m
}

// imported reports whether b's statements came from an import or a pull
// (a request's statements share its source).
func imported(b stream.Batch) bool {
	return len(b.Statements) > 0 && b.Statements[0].Source != ""
}

// apply writes recs in one transaction per lane, with their offsets.
func (w *Writer) apply(ctx context.Context, recs []*kgo.Record, decoded []stream.Decoded) error {
	lanes := make([]lane, w.lanes)
	laneOf := func(p int32) *lane { return &lanes[int(p)%w.lanes] }
	next := map[string]map[int32]int64{}
	for _, r := range recs {
		if next[r.Topic] == nil {
			next[r.Topic] = map[int32]int64{}
		}
		next[r.Topic][r.Partition] = max(next[r.Topic][r.Partition], r.Offset+1)
	}
	for topic, parts := range next {
		for p, n := range parts {
			l := laneOf(p)
			l.offsets = append(l.offsets, store.Offset{Topic: topic, Partition: p, Next: n})
		}
	}
	for _, d := range decoded {
		l := laneOf(d.Record.Partition)
		for _, s := range d.Batch.Statements {
			l.stmts = append(l.stmts, store.Statement{Tenant: d.Batch.Tenant, ID: s.ID, Stored: s.Stored, JSON: s.Statement, Fingerprint: s.Fingerprint,
				Provenance: store.Provenance{Source: s.Source, OriginalStored: s.OriginalStored}})
		}
	}
	var wg sync.WaitGroup
	for i := range lanes {
		l := &lanes[i]
		if len(l.offsets) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.res, l.err = w.store.ApplyStatements(ctx, w.group, l.stmts, l.offsets)
		}()
	}
	wg.Wait()
	var errs []error
	for _, l := range lanes {
		if l.err != nil {
			errs = append(errs, fmt.Errorf("apply %d statements: %w", len(l.stmts), l.err))
		}
	}
	if len(errs) > 0 {
		// Lanes that succeeded are replayed as no-ops with the retry.
		return errors.Join(errs...)
	}
	for _, l := range lanes {
		for _, c := range l.res.Conflicts {
			o, ok := originOf(decoded, c.Statement)
			if !ok {
				// Without its record there is nothing to dead-letter and no
				// source to name: a store bug, reported rather than dropped.
				return fmt.Errorf("store reported a conflict for statement %s of tenant %s, which no record of the batch holds", c.Statement.ID, c.Statement.Tenant)
			}
			if err := w.deadLetter(ctx, o, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer) deadLetter(ctx context.Context, o origin, c store.Conflict) error {
	w.log.Warn("statement conflicts with a stored one; dead-lettered",
		zap.String("tenant", c.Statement.Tenant), zap.String("statement_id", c.Statement.ID), zap.String("reason", c.Reason))
	b := stream.Batch{Tenant: c.Statement.Tenant, Statements: []stream.Statement{o.stmt}}
	rec, err := b.Record(o.rec.Topic)
	if err != nil {
		return err
	}
	// If this send fails the batch is retried: the store already has the
	// rows and offsets, so the retry only re-finds the conflict.
	return w.dlq.Send(ctx, o.rec, rec.Value, "conflict", c.Reason)
}
