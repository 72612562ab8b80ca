package stream

import (
	"context"
	"errors"
	"sync"
	"time"
)

// SharedEndOffsets asks for a topic's end offsets on behalf of many
// concurrent callers: one request to the broker serves every caller that
// arrived before it was sent, never one that arrived after, which could
// miss a record acknowledged in between. Read-your-writes and the conflict
// check both need "the end of the topic when my request began" for every
// request, and this keeps that at one broker round trip per round instead
// of one per request.
type SharedEndOffsets struct {
	fetch func(ctx context.Context) (map[int32]int64, error)

	mu       sync.Mutex
	pending  []chan endsResult
	fetching bool
}

type endsResult struct {
	ends map[int32]int64
	at   time.Time // when the request for them was sent
	err  error
}

// NewSharedEndOffsets shares fetch (e.g. EndOffsets of the statements topic).
func NewSharedEndOffsets(fetch func(ctx context.Context) (map[int32]int64, error)) (*SharedEndOffsets, error) {
	if fetch == nil {
		return nil, errors.New("shared end offsets need a way to fetch them")
	}
	return &SharedEndOffsets{fetch: fetch}, nil
}

// Get returns end offsets fetched after the call began, and when the fetch
// was sent: every record acknowledged before that instant is below them.
// The map is shared between callers and must not be modified.
func (s *SharedEndOffsets) Get(ctx context.Context) (map[int32]int64, time.Time, error) {
	ch := make(chan endsResult, 1)
	s.mu.Lock()
	s.pending = append(s.pending, ch)
	if !s.fetching {
		s.fetching = true
		go s.loop()
	}
	s.mu.Unlock()
	select {
	case r := <-ch:
		return r.ends, r.at, r.err
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
}

func (s *SharedEndOffsets) loop() {
	for {
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		if len(batch) == 0 {
			s.fetching = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		at := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ends, err := s.fetch(ctx)
		cancel()
		for _, ch := range batch {
			ch <- endsResult{ends: ends, at: at, err: err}
		}
	}
}
