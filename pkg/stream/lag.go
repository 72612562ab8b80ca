package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// positionsFunc returns, per partition, the next offset the group will
// write (its applied or committed position); a missing partition has none.
type positionsFunc func(ctx context.Context) (map[int32]int64, error)

// lagTracker samples the group's lag on a timer, from what the sink has
// applied (or the group committed) against the topic's end offsets, so that
// lag and readiness stay true while no batch arrives (a stuck consumer
// writes none).
type lagTracker struct {
	topic     string
	stall     time.Duration
	positions positionsFunc
	ends      func(ctx context.Context) (map[int32]int64, error)
	starts    func(ctx context.Context) (map[int32]int64, error)
	now       func() time.Time

	lag     *prometheus.GaugeVec
	stalled prometheus.Gauge

	mu      sync.Mutex
	parts   map[int32]*partLag
	owned   map[int32]bool
	lastOK  time.Time
	lastErr error
	started time.Time
}

type partLag struct {
	position, end int64
	// since is when position last moved, or lag last was zero.
	since time.Time
}

func newLagTracker(cl *kgo.Client, topic string, stall time.Duration, positions positionsFunc, labels prometheus.Labels) *lagTracker {
	adm := kadm.NewClient(cl)
	return &lagTracker{
		topic: topic, stall: stall, positions: positions, now: time.Now,
		ends: func(ctx context.Context) (map[int32]int64, error) { return EndOffsets(ctx, cl, topic) },
		starts: func(ctx context.Context) (map[int32]int64, error) {
			offs, err := adm.ListStartOffsets(ctx, topic)
			if err != nil {
				return nil, err
			}
			out := map[int32]int64{}
			offs.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					out[o.Partition] = o.Offset
				}
			})
			return out, nil
		},
		lag:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lrs_consumer_lag_records", Help: "Records in the partition not yet written by the group (sampled on a timer; every member reports the whole group).", ConstLabels: labels}, []string{"partition"}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lrs_consumer_stalled_partitions", Help: "Partitions with lag whose group position has not moved within the stall timeout.", ConstLabels: labels}),
		parts:   map[int32]*partLag{},
		owned:   map[int32]bool{},
		started: time.Now(),
	}
}

// committedPositions reads the group's committed offsets of topic.
func committedPositions(cl *kgo.Client, group, topic string) positionsFunc {
	adm := kadm.NewClient(cl)
	return func(ctx context.Context) (map[int32]int64, error) {
		resp, err := adm.FetchOffsetsForTopics(ctx, group, topic)
		if err != nil {
			return nil, fmt.Errorf("fetch committed offsets of %s: %w", group, err)
		}
		out := map[int32]int64{}
		var errs []error
		resp.Each(func(o kadm.OffsetResponse) {
			switch {
			case o.Err != nil:
				errs = append(errs, fmt.Errorf("partition %d: %w", o.Partition, o.Err))
			case o.Topic == topic && o.At >= 0:
				out[o.Partition] = o.At
			}
		})
		return out, errors.Join(errs...)
	}
}

// run samples every interval until ctx ends.
func (l *lagTracker) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, max(interval, 5*time.Second))
		l.sample(sctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample reads the offsets once and updates lag and stall state.
func (l *lagTracker) sample(ctx context.Context) {
	ends, err := l.ends(ctx)
	var pos, starts map[int32]int64
	if err == nil {
		pos, err = l.positions(ctx)
	}
	if err == nil {
		starts, err = l.starts(ctx)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.lastErr = err
		return
	}
	l.lastOK, l.lastErr = now, nil
	stalled := 0
	for p, end := range ends {
		// No position yet: the group starts at the log start.
		position, ok := pos[p]
		if !ok || position < starts[p] {
			position = starts[p]
		}
		pl := l.parts[p]
		if pl == nil {
			pl = &partLag{position: position, since: now}
			l.parts[p] = pl
		}
		if position != pl.position || position >= end {
			pl.since = now
		}
		pl.position, pl.end = position, end
		l.lag.WithLabelValues(strconv.Itoa(int(p))).Set(float64(max(end-position, 0)))
		if l.isStalled(pl, now) {
			stalled++
		}
	}
	l.stalled.Set(float64(stalled))
}

func (l *lagTracker) isStalled(pl *partLag, now time.Time) bool {
	return pl.end > pl.position && now.Sub(pl.since) >= l.stall
}

// progressed is told that the consumer finished a batch: a partition it
// wrote to is moving even if the last sample did not see it yet.
func (l *lagTracker) progressed(recs []*kgo.Record) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		if pl := l.parts[r.Partition]; pl != nil {
			pl.since = now
		}
	}
}

func (l *lagTracker) assign(ps []int32, owned bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range ps {
		if owned {
			l.owned[p] = true
		} else {
			delete(l.owned, p)
		}
	}
}

// check is the readiness of this member: not ready while a partition it
// owns has lag and no progress within the stall timeout, or while it owns
// none although the group's partitions stall (a member stuck outside the
// group), or while the lag cannot be read for that long.
func (l *lagTracker) check(context.Context) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	known := l.started
	if l.lastOK.After(known) {
		known = l.lastOK
	}
	if l.lastErr != nil && now.Sub(known) >= l.stall {
		return fmt.Errorf("lag unknown for %s: %w", now.Sub(known).Round(time.Second), l.lastErr)
	}
	var bad []string
	for p, pl := range l.parts {
		if (len(l.owned) == 0 || l.owned[p]) && l.isStalled(pl, now) {
			bad = append(bad, fmt.Sprintf("partition %d: %d records behind, no progress for %s", p, pl.end-pl.position, now.Sub(pl.since).Round(time.Second)))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	msg := strings.Join(bad, "; ")
	if len(l.owned) == 0 {
		msg = "no partitions assigned while the group stalls: " + msg
	}
	return errors.New("consumer stalled: " + msg)
}
