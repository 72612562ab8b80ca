package ingest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/stream"
)

// fakeLog is a one-partition topic and a store applying it.
type fakeLog struct {
	end, applied atomic.Int64
	endCalls     atomic.Int64
	storeDown    atomic.Bool
}

func (f *fakeLog) watermark(t *testing.T, wait time.Duration) *Watermark {
	ends, err := stream.NewSharedEndOffsets(func(context.Context) (map[int32]int64, error) {
		f.endCalls.Add(1)
		time.Sleep(time.Millisecond) // a broker round trip
		return map[int32]int64{0: f.end.Load()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWatermark(ends,
		func(context.Context) (map[int32]int64, error) {
			if f.storeDown.Load() {
				return nil, errors.New("store down")
			}
			return map[int32]int64{0: f.applied.Load()}, nil
		}, wait)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWatermarkSync(t *testing.T) {
	tests := []struct {
		name       string
		end        int64
		applied    int64
		applyAfter time.Duration // when the store applies everything (0: never)
		storeDown  bool
		wantCaught bool
		wantErr    bool
	}{
		{name: "idle topic is caught up", end: 5, applied: 5, wantCaught: true},
		{name: "store catches up within the wait", end: 5, applied: 3, applyAfter: 60 * time.Millisecond, wantCaught: true},
		{name: "store too slow", end: 5, applied: 3},
		{name: "store unreachable", end: 5, applied: 5, storeDown: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLog{}
			f.end.Store(tt.end)
			f.applied.Store(tt.applied)
			f.storeDown.Store(tt.storeDown)
			w := f.watermark(t, 300*time.Millisecond)
			if tt.applyAfter > 0 {
				time.AfterFunc(tt.applyAfter, func() { f.applied.Store(tt.end) })
			}
			start := time.Now()
			through, caught, err := w.Sync(context.Background())
			if (err != nil) != tt.wantErr || caught != tt.wantCaught {
				t.Fatalf("caught=%v err=%v, want caught=%v err=%v", caught, err, tt.wantCaught, tt.wantErr)
			}
			if caught && (through.Before(start) || time.Since(through) > time.Second) {
				t.Fatalf("through %v is not the start of the call (%v)", through, start)
			}
			if !caught && !through.IsZero() {
				t.Fatalf("not caught up, yet through = %v", through)
			}
		})
	}
}

// A write acknowledged before Sync began must be applied before Sync says
// caught up, however many calls share the broker requests.
func TestWatermarkSharedCallsStillReadTheirWrites(t *testing.T) {
	f := &fakeLog{}
	w := f.watermark(t, 2*time.Second)
	var wg sync.WaitGroup
	var violations atomic.Int64
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written := f.end.Add(1) // this caller's write is acknowledged
			_, caught, err := w.Sync(context.Background())
			if err != nil || !caught {
				violations.Add(1)
				return
			}
			if f.applied.Load() < written {
				violations.Add(1)
			}
		}()
	}
	// The store applies everything, a bit behind.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				f.applied.Store(f.end.Load())
			}
		}
	}()
	wg.Wait()
	close(stop)
	if v := violations.Load(); v > 0 {
		t.Fatalf("%d calls returned before their write was applied (or not caught up)", v)
	}
	if calls := f.endCalls.Load(); calls >= 200 {
		t.Errorf("%d end-offset requests for 200 calls: they are not shared", calls)
	} else {
		t.Logf("200 concurrent calls shared %d end-offset requests", calls)
	}
}
