package importer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

func TestSchedule(t *testing.T) {
	once := store.PullSource{Tenant: "t1", Name: "once"}
	every := store.PullSource{Tenant: "t1", Name: "every", Interval: 20 * time.Millisecond}
	sameNameOtherTenant := store.PullSource{Tenant: "t2", Name: "once"}
	tests := []struct {
		name    string
		sources []store.PullSource
		forever bool
		fail    string // the source whose pull fails
		runFor  time.Duration
		wantErr bool
		// at least and at most this many pulls per tenant/name
		min, max map[string]int
	}{
		{name: "sources without interval are pulled once, then it returns", sources: []store.PullSource{once, sameNameOtherTenant},
			min: map[string]int{"t1/once": 1, "t2/once": 1}, max: map[string]int{"t1/once": 1, "t2/once": 1}},
		{name: "a source with an interval is pulled again until ctx ends", sources: []store.PullSource{once, every}, runFor: 300 * time.Millisecond,
			min: map[string]int{"t1/once": 1, "t1/every": 4}, max: map[string]int{"t1/once": 1, "t1/every": 16}},
		{name: "forever keeps listing without sources", forever: true, runFor: 100 * time.Millisecond},
		{name: "a failing source without interval ends it", sources: []store.PullSource{once, every}, fail: "t1/once", wantErr: true,
			max: map[string]int{"t1/once": 1}},
		{name: "a failing source with an interval is tried again", sources: []store.PullSource{every}, fail: "t1/every", runFor: 200 * time.Millisecond,
			min: map[string]int{"t1/every": 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.runFor > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.runFor)
				defer cancel()
			}
			var mu sync.Mutex
			pulls, lists := map[string]int{}, 0
			list := func(context.Context) ([]store.PullSource, error) {
				mu.Lock()
				defer mu.Unlock()
				lists++
				return tc.sources, nil
			}
			pull := func(_ context.Context, ps store.PullSource) error {
				mu.Lock()
				defer mu.Unlock()
				k := ps.Tenant + "/" + ps.Name
				pulls[k]++
				if k == tc.fail {
					return errors.New("source down")
				}
				return nil
			}
			done := make(chan error, 1)
			go func() { done <- Schedule(ctx, list, pull, 10*time.Millisecond, tc.forever) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Schedule did not return")
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("Schedule = %v, want an error: %v", err, tc.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, n := range tc.min {
				if pulls[k] < n {
					t.Errorf("%s pulled %d times, want at least %d", k, pulls[k], n)
				}
			}
			for k, n := range tc.max {
				if pulls[k] > n {
					t.Errorf("%s pulled %d times, want at most %d", k, pulls[k], n)
				}
			}
			if tc.forever && lists < 3 {
				t.Errorf("the sources listed %d times in %v with a recheck of 10ms", lists, tc.runFor)
			}
		})
	}
}
