package conflict

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Tail reads the statements topic into an Index: each record's ids and
// fingerprints (stream.IDsHeader), nothing else. It reads every partition
// directly, without a consumer group: every ingest instance needs all of it.
type Tail struct {
	cl      *kgo.Client
	topic   string
	idx     *Index
	applied func(ctx context.Context) (map[int32]int64, error)
	scan    Scan
	log     *zap.Logger
	added   chan []int32
}

// Scan calls fn with the key of every statement the store holds.
type Scan func(ctx context.Context, fn func(store.StatementKey) error) error

// trimInterval is how often the tail reads the store's applied offsets to
// drop what the store answers for: the index then holds about a second of
// statements beyond the store's lag.
const trimInterval = 500 * time.Millisecond

// OpenTail finds where to start in each partition (the store's applied
// offset, so that everything acknowledged but not applied is indexed) and
// opens a consuming client with newClient. admin answers the offset
// queries; applied reads the store's offsets; scan (nil when idx has no
// filter) loads the filter with what the store holds.
func OpenTail(ctx context.Context, cfg Config, topic string, idx *Index, admin *kgo.Client,
	newClient func(opts ...kgo.Opt) (*kgo.Client, error),
	applied func(ctx context.Context) (map[int32]int64, error), scan Scan, log *zap.Logger) (*Tail, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if topic == "" {
		return nil, errors.New("tail: topic is empty")
	}
	if idx == nil || admin == nil || newClient == nil || applied == nil || log == nil {
		return nil, errors.New("tail needs an index, an admin client, a client factory, the applied offsets and a logger")
	}
	if (idx.seen == nil) != (scan == nil) {
		return nil, errors.New("tail: an index with a filter needs a store scan, and only then")
	}
	adm := kadm.NewClient(admin)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("tail: end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("tail: start offsets of %s: %w", topic, err)
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	done, appliedErr := applied(actx)
	cancel()
	var back kadm.ListedOffsets
	if appliedErr != nil || len(done) < len(ends[topic]) {
		back, err = adm.ListOffsetsAfterMilli(ctx, time.Now().Add(-cfg.Lookback).UnixMilli(), topic)
		if err == nil {
			err = back.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("tail: offsets %v back in %s: %w", cfg.Lookback, topic, err)
		}
	}
	if appliedErr != nil {
		log.Warn("the store's applied offsets are unknown; the conflict index starts at the lookback and has a hole until the store catches up",
			zap.Duration("lookback", cfg.Lookback), zap.Error(appliedErr))
	}
	at := map[int32]kgo.Offset{}
	ends.Each(func(e kadm.ListedOffset) {
		first := starts[topic][e.Partition].Offset
		from, ok := done[e.Partition]
		if !ok {
			from = back[topic][e.Partition].Offset
			if from < 0 { // nothing that recent: start at the end
				from = e.Offset
			}
		}
		from = min(max(from, first), e.Offset)
		// Records below the log start are gone for the store-writer too:
		// only unread records above it and the applied offset are a hole.
		idx.start(e.Partition, from, max(done[e.Partition], first))
		at[e.Partition] = kgo.NewOffset().At(from)
	})
	cl, err := newClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: at}),
		// Records deleted by retention before they were read are a hole.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("tail client: %w", err)
	}
	return &Tail{cl: cl, topic: topic, idx: idx, applied: applied, scan: scan, log: log, added: make(chan []int32, 1)}, nil
}

// missing is called by waiting requests for partitions the tail does not
// read: a partition added to the topic, read from its start.
func (t *Tail) missing(parts []int32) {
	select {
	case t.added <- parts:
	default: // the tail is adding partitions already
	}
}

// Run reads the topic until ctx ends, and trims the index on a timer.
func (t *Tail) Run(ctx context.Context) {
	defer t.cl.Close()
	go t.trimLoop(ctx)
	if t.scan != nil {
		go t.loadFilter(ctx)
	}
	var lastErr time.Time
	for {
		select {
		case parts := <-t.added:
			add := map[int32]kgo.Offset{}
			for _, p := range parts {
				add[p] = kgo.NewOffset().AtStart()
				t.idx.start(p, 0, 0)
			}
			t.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{t.topic: add})
		default:
		}
		fs := t.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			// The client retries by itself; say so at most every few seconds.
			if time.Since(lastErr) > 5*time.Second {
				t.log.Warn("conflict index: fetch failed, retrying", zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
				lastErr = time.Now()
			}
		})
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, r := range fp.Records {
				var (
					tenant string
					ids    []stream.StatementID
					err    error
				)
				// An erasure record names no statement; it is read past.
				if !stream.IsErasure(r) {
					tenant, ids, err = stream.RecordIDs(r)
				}
				if err != nil {
					// The writers dead-letter it; its ids are not worth a stall.
					t.log.Warn("conflict index: unreadable record", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
				}
				t.idx.skipTo(r.Partition, r.Offset)
				t.idx.sized(r.Partition, r.Offset, int64(len(r.Value)))
				t.idx.add(r.Partition, r.Offset, tenant, ids)
			}
		})
	}
}

// loadFilter adds every statement the store holds to the index's filter.
// It runs after OpenTail read the store's applied offsets, so everything
// below them is in the store's answer and everything above is read by the
// tail. A failed scan is retried whole (adding an id twice is harmless);
// until one succeeds, new ids are looked up in the store.
func (t *Tail) loadFilter(ctx context.Context) {
	for {
		start := time.Now()
		var n int64
		err := t.scan(ctx, func(k store.StatementKey) error {
			id, err := uuid.Parse(k.ID)
			if err != nil {
				return nil // not a statement a client id can meet
			}
			t.idx.seen.Add(k.Tenant, id)
			if n++; n%1_000_000 == 0 {
				t.log.Info("conflict filter: loading the store's statement ids", zap.Int64("statements", n))
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			t.idx.loaded()
			fields := []zap.Field{zap.Int64("statements", n), zap.Int("bytes", t.idx.seen.Bytes()), zap.Duration("took", time.Since(start))}
			if t.idx.unread() {
				t.log.Warn("conflict filter loaded, but records the tail could not read (retention, or a store that could not tell its offsets at start) leave it unusable: new ids are looked up in the store until a restart", fields...)
			} else {
				t.log.Info("conflict filter loaded: new client-chosen ids are accepted without a store lookup", fields...)
			}
			return
		}
		t.log.Warn("conflict filter: store scan failed; new ids are looked up in the store until it succeeds", zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

func (t *Tail) trimLoop(ctx context.Context) {
	tick := time.NewTicker(trimInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		actx, cancel := context.WithTimeout(ctx, trimInterval)
		applied, err := t.applied(actx)
		cancel()
		if err == nil {
			t.idx.trim(applied)
		}
	}
}
