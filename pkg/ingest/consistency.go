package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Watermark implements read-your-writes over an asynchronous store. The
// store records, in the same transaction as the rows, the next offset it
// applied in each partition. A request that must see every acknowledged
// write notes the time, reads the topic's end offsets, and waits until the
// store's offsets reach them: then everything acknowledged before that time
// is readable, which is exactly what X-Experience-API-Consistent-Through
// promises. Because an idle topic is trivially caught up, the watermark
// keeps advancing while nothing is written.
type Watermark struct {
	ends    func(ctx context.Context) (map[int32]int64, error)
	applied func(ctx context.Context) (map[int32]int64, error)
	maxWait time.Duration
	poll    time.Duration

	mu      sync.Mutex
	through time.Time // the latest instant known to be fully applied
}

// NewWatermark waits at most maxWait per call.
func NewWatermark(ends, applied func(ctx context.Context) (map[int32]int64, error), maxWait time.Duration) (*Watermark, error) {
	if ends == nil || applied == nil {
		return nil, errors.New("watermark needs the topic's end offsets and the store's applied offsets")
	}
	if maxWait < 0 {
		return nil, fmt.Errorf("max wait %v: want >= 0", maxWait)
	}
	return &Watermark{ends: ends, applied: applied, maxWait: maxWait, poll: 5 * time.Millisecond}, nil
}

// Sync waits (bounded) until the store has applied every record the topic
// held when Sync began. It returns the instant up to which the store is
// known to be complete, and whether this call's start was reached. When the
// broker or store cannot be asked, the last known instant is returned with
// the error.
func (w *Watermark) Sync(ctx context.Context) (through time.Time, caughtUp bool, err error) {
	start := time.Now()
	ends, err := w.ends(ctx)
	if err != nil {
		return w.last(), false, err
	}
	deadline := start.Add(w.maxWait)
	poll := w.poll
	for {
		applied, err := w.applied(ctx)
		if err != nil {
			return w.last(), false, err
		}
		if reached(applied, ends) {
			return w.advance(start), true, nil
		}
		if !time.Now().Before(deadline) {
			return w.last(), false, nil
		}
		select {
		case <-ctx.Done():
			return w.last(), false, ctx.Err()
		case <-time.After(min(poll, time.Until(deadline))):
		}
		poll = min(poll*2, 50*time.Millisecond)
	}
}

func reached(applied, ends map[int32]int64) bool {
	for p, end := range ends {
		if applied[p] < end {
			return false
		}
	}
	return true
}

func (w *Watermark) advance(t time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.After(w.through) {
		w.through = t
	}
	return w.through
}

// Last is the latest instant known to be fully applied, without asking
// anything: for answers that must carry Consistent-Through but are refused
// before any work (bad credentials, bad version).
func (w *Watermark) Last() time.Time { return w.last() }

func (w *Watermark) last() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.through
}
