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
//
// Concurrent requests share the work: end offsets come from a shared
// fetcher (one broker request per round, see stream.SharedEndOffsets), and
// one poller reads the store's offsets for all waiting callers.
type Watermark struct {
	ends    EndOffsets
	applied func(ctx context.Context) (map[int32]int64, error)
	maxWait time.Duration
	poll    time.Duration

	mu      sync.Mutex
	through time.Time // the latest instant known to be fully applied
	waiters map[*waiter]struct{}
	polling bool
}

// EndOffsets gives the topic's end offsets as of a moment after the call
// began, and that moment (stream.SharedEndOffsets).
type EndOffsets interface {
	Get(ctx context.Context) (map[int32]int64, time.Time, error)
}

type waiter struct {
	ends map[int32]int64
	done chan error
}

// NewWatermark waits at most maxWait per call.
func NewWatermark(ends EndOffsets, applied func(ctx context.Context) (map[int32]int64, error), maxWait time.Duration) (*Watermark, error) {
	if ends == nil || applied == nil {
		return nil, errors.New("watermark needs the topic's end offsets and the store's applied offsets")
	}
	if maxWait < 0 {
		return nil, fmt.Errorf("max wait %v: want >= 0", maxWait)
	}
	return &Watermark{ends: ends, applied: applied, maxWait: maxWait, poll: 3 * time.Millisecond, waiters: map[*waiter]struct{}{}}, nil
}

// Sync waits (bounded) until the store has applied every record the topic
// held when Sync began. It returns the instant up to which the store is
// known to be complete, and whether this call's start was reached. When the
// broker or store cannot be asked, the last known instant is returned with
// the error.
func (w *Watermark) Sync(ctx context.Context) (through time.Time, caughtUp bool, err error) {
	return w.SyncWithin(ctx, w.maxWait)
}

// SyncWithin is Sync with its own bound on the wait.
func (w *Watermark) SyncWithin(ctx context.Context, maxWait time.Duration) (through time.Time, caughtUp bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, max(maxWait, time.Second))
	defer cancel()
	ends, at, err := w.ends.Get(ctx)
	if err != nil {
		return w.last(), false, err
	}
	wt := &waiter{ends: ends, done: make(chan error, 1)}
	w.mu.Lock()
	w.waiters[wt] = struct{}{}
	if !w.polling {
		w.polling = true
		go w.pollApplied()
	}
	w.mu.Unlock()
	timer := time.NewTimer(time.Until(at.Add(maxWait)))
	defer timer.Stop()
	select {
	case err := <-wt.done:
		if err != nil {
			return w.last(), false, err
		}
		return w.advance(at), true, nil
	case <-timer.C:
	case <-ctx.Done():
		err = ctx.Err()
	}
	w.mu.Lock()
	delete(w.waiters, wt)
	w.mu.Unlock()
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil // the bounded wait ran out: not an error, just not caught up
	}
	return w.last(), false, err
}

// pollApplied reads the store's offsets while anyone waits, and releases
// each waiter whose end offsets are reached.
func (w *Watermark) pollApplied() {
	poll := w.poll
	for {
		w.mu.Lock()
		if len(w.waiters) == 0 {
			w.polling = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		applied, err := w.applied(ctx)
		cancel()
		released := 0
		w.mu.Lock()
		for wt := range w.waiters {
			if err != nil || reached(applied, wt.ends) {
				wt.done <- err
				delete(w.waiters, wt)
				released++
			}
		}
		w.mu.Unlock()
		if released > 0 {
			poll = w.poll
		} else {
			poll = min(poll*2, 50*time.Millisecond)
		}
		time.Sleep(poll)
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
