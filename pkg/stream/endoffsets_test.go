package stream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSharedEndOffsets checks the promise every caller relies on (the
// answer was read after its call began) under concurrent callers while the
// topic grows, and that rounds overlap up to the number of fetchers.
func TestSharedEndOffsets(t *testing.T) {
	tests := []struct {
		name     string
		fetchers int
	}{
		{name: "one fetcher", fetchers: 1},
		{name: "three fetchers", fetchers: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var end, inFlight, maxInFlight, rounds atomic.Int64
			fetch := func(context.Context) (map[int32]int64, error) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
				}
				rounds.Add(1)
				at := end.Load() // what the broker sees when the request arrives
				time.Sleep(2 * time.Millisecond)
				return map[int32]int64{0: at}, nil
			}
			fetchers := make([]EndOffsetsFetch, tt.fetchers)
			for i := range fetchers {
				fetchers[i] = fetch
			}
			s, err := NewSharedEndOffsets(fetchers...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { // producers acknowledging records all along
				for ctx.Err() == nil {
					end.Add(1)
					time.Sleep(50 * time.Microsecond)
				}
			}()
			const callers, calls = 32, 40
			var wg sync.WaitGroup
			var stale atomic.Int64
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range calls {
						before := end.Load()
						ends, _, err := s.Get(ctx)
						if err != nil {
							t.Error(err)
							return
						}
						if ends[0] < before {
							stale.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if n := stale.Load(); n > 0 {
				t.Errorf("%d answers were read before their call began", n)
			}
			if got, want := maxInFlight.Load(), int64(tt.fetchers); got != want {
				t.Errorf("at most %d rounds were out at once, want %d", got, want)
			}
			if r := rounds.Load(); r >= callers*calls {
				t.Errorf("%d rounds for %d calls: rounds are not shared", r, callers*calls)
			}
		})
	}
}

func TestSharedEndOffsetsError(t *testing.T) {
	boom := errors.New("broker down")
	s, err := NewSharedEndOffsets(func(context.Context) (map[int32]int64, error) { return nil, boom })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the fetch's error", err)
	}
	if _, err := NewSharedEndOffsets(); err == nil {
		t.Fatal("no fetcher accepted")
	}
	if _, err := NewSharedEndOffsets(nil); err == nil {
		t.Fatal("nil fetcher accepted")
	}
}
