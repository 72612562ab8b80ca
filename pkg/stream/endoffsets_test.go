package stream

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every caller gets end offsets asked for after it arrived, from at most
// maxRounds requests at once, and callers share requests.
func TestSharedEndOffsetsNeverAnswersWithAnOlderRequest(t *testing.T) {
	var inflight, most, requests atomic.Int64
	s, err := NewSharedEndOffsets(func(context.Context) (map[int32]int64, error) {
		n := inflight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		requests.Add(1)
		time.Sleep(2 * time.Millisecond)
		inflight.Add(-1)
		return map[int32]int64{0: time.Now().UnixNano()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const callers = 400
	for i := range callers {
		wg.Go(func() {
			time.Sleep(time.Duration(i%40) * 250 * time.Microsecond)
			arrived := time.Now()
			ends, at, err := s.Get(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			if at.Before(arrived) || ends[0] < arrived.UnixNano() {
				t.Errorf("a caller that arrived at %v got a request sent at %v", arrived, at)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > maxRounds {
		t.Fatalf("%d requests at once, want at most %d", m, maxRounds)
	}
	if r := requests.Load(); r >= callers {
		t.Fatalf("%d requests for %d callers: not shared", r, callers)
	}
}
