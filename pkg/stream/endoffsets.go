package stream

import (
	"context"
	"errors"
	"sync"
	"time"
)

// EndOffsetsFetch fetches a topic's end offsets, e.g. EndOffsets over one
// client.
type EndOffsetsFetch func(ctx context.Context) (map[int32]int64, error)

// SharedEndOffsets asks for a topic's end offsets on behalf of many
// concurrent callers: one request to the broker serves every caller that
// arrived before it was sent, never one that arrived after, which could
// miss a record acknowledged in between. Read-your-writes and the conflict
// check both need "the end of the topic when my request began" for every
// request, and this keeps that at one broker round trip per round instead
// of one per request.
//
// With one fetcher a caller that arrives while a round is out waits for it
// and then for its own round: measured, that doubled the wait. Several
// fetchers (each its own client, so its own connection: a broker answers one
// connection's requests in order) let such a caller start a round at once on
// an idle one.
type SharedEndOffsets struct {
	mu      sync.Mutex
	pending []chan endsResult
	idle    []EndOffsetsFetch
}

type endsResult struct {
	ends map[int32]int64
	at   time.Time // when the request for them was sent
	err  error
}

// NewSharedEndOffsets shares fetchers, each able to have one round out.
func NewSharedEndOffsets(fetchers ...EndOffsetsFetch) (*SharedEndOffsets, error) {
	if len(fetchers) == 0 {
		return nil, errors.New("shared end offsets need a way to fetch them")
	}
	for _, f := range fetchers {
		if f == nil {
			return nil, errors.New("shared end offsets: nil fetcher")
		}
	}
	return &SharedEndOffsets{idle: append([]EndOffsetsFetch(nil), fetchers...)}, nil
}

// Get returns end offsets fetched after the call began, and when the fetch
// was sent: every record acknowledged before that instant is below them.
// The map is shared between callers and must not be modified.
func (s *SharedEndOffsets) Get(ctx context.Context) (map[int32]int64, time.Time, error) {
	ch := make(chan endsResult, 1)
	s.mu.Lock()
	s.pending = append(s.pending, ch)
	if n := len(s.idle); n > 0 {
		f := s.idle[n-1]
		s.idle = s.idle[:n-1]
		go s.loop(f)
	}
	s.mu.Unlock()
	select {
	case r := <-ch:
		return r.ends, r.at, r.err
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
}

// loop runs rounds on fetch while callers wait, each round answering those
// that were waiting when it was sent, then gives fetch back.
func (s *SharedEndOffsets) loop(fetch EndOffsetsFetch) {
	for {
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		if len(batch) == 0 {
			s.idle = append(s.idle, fetch)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		at := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ends, err := fetch(ctx)
		cancel()
		for _, ch := range batch {
			ch <- endsResult{ends: ends, at: at, err: err}
		}
	}
}
