package stream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fakeOffsets drives a lagTracker without a broker.
type fakeOffsets struct {
	now       time.Time
	ends, pos map[int32]int64
	err       error
}

func (f *fakeOffsets) tracker() *lagTracker {
	l := newLagTracker(nil, "t", time.Minute, func(context.Context) (map[int32]int64, error) { return f.pos, f.err }, prometheus.Labels{"group": "g"})
	l.now = func() time.Time { return f.now }
	l.started = f.now
	l.ends = func(context.Context) (map[int32]int64, error) { return f.ends, f.err }
	l.starts = func(context.Context) (map[int32]int64, error) { return map[int32]int64{0: 0, 1: 0}, f.err }
	return l
}

func TestLagTrackerReadiness(t *testing.T) {
	type step struct {
		after     time.Duration
		ends, pos map[int32]int64
		err       error
		owned     []int32
		wrote     int32 // a batch finished on this partition (-1: none)
	}
	tests := []struct {
		name    string
		steps   []step
		lag     map[string]float64
		wantErr string
	}{
		{
			name:  "caught up stays ready however long",
			steps: []step{{ends: map[int32]int64{0: 10, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, owned: []int32{0, 1}, wrote: -1}, {after: 10 * time.Minute, ends: map[int32]int64{0: 10, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, wrote: -1}},
			lag:   map[string]float64{"0": 0, "1": 0},
		},
		{
			name:  "lag that moves is ready",
			steps: []step{{ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, owned: []int32{0}, wrote: -1}, {after: 50 * time.Second, ends: map[int32]int64{0: 200, 1: 5}, pos: map[int32]int64{0: 20, 1: 5}, wrote: -1}, {after: 50 * time.Second, ends: map[int32]int64{0: 300, 1: 5}, pos: map[int32]int64{0: 30, 1: 5}, wrote: -1}},
			lag:   map[string]float64{"0": 270, "1": 0},
		},
		{
			name:    "lag that stands on an owned partition is not ready",
			steps:   []step{{ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, owned: []int32{0, 1}, wrote: -1}, {after: 61 * time.Second, ends: map[int32]int64{0: 150, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, wrote: -1}},
			lag:     map[string]float64{"0": 140, "1": 0},
			wantErr: "partition 0: 140 records behind, no progress for 1m1s",
		},
		{
			name:  "a stand on another member's partition is that member's problem",
			steps: []step{{ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, owned: []int32{1}, wrote: -1}, {after: 2 * time.Minute, ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, wrote: -1}},
			lag:   map[string]float64{"0": 90, "1": 0},
		},
		{
			name:    "a member outside the group while it stalls is not ready",
			steps:   []step{{ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{1: 5}, wrote: -1}, {after: 2 * time.Minute, ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{1: 5}, wrote: -1}},
			lag:     map[string]float64{"0": 100, "1": 0},
			wantErr: "no partitions assigned while the group stalls",
		},
		{
			name:  "a finished batch counts as progress before the next sample",
			steps: []step{{ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, owned: []int32{0}, wrote: -1}, {after: 59 * time.Second, ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, wrote: 0}, {after: 30 * time.Second, ends: map[int32]int64{0: 100, 1: 5}, pos: map[int32]int64{0: 10, 1: 5}, wrote: -1}},
			lag:   map[string]float64{"0": 90, "1": 0},
		},
		{
			name:    "offsets that cannot be read for the stall timeout are not ready",
			steps:   []step{{ends: map[int32]int64{0: 1, 1: 1}, pos: map[int32]int64{0: 1, 1: 1}, wrote: -1}, {after: 61 * time.Second, err: errors.New("broker down"), wrote: -1}},
			lag:     map[string]float64{"0": 0, "1": 0},
			wantErr: "lag unknown for 1m1s: broker down",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeOffsets{now: time.Unix(1e9, 0)}
			l := f.tracker()
			for _, s := range tt.steps {
				f.now = f.now.Add(s.after)
				f.ends, f.pos, f.err = s.ends, s.pos, s.err
				if s.owned != nil {
					l.assign(s.owned, true)
				}
				if s.wrote >= 0 {
					l.progressed([]*kgo.Record{{Partition: s.wrote}})
					continue
				}
				l.sample(context.Background())
			}
			for p, want := range tt.lag {
				if got := testutil.ToFloat64(l.lag.WithLabelValues(p)); got != want {
					t.Errorf("lag of partition %s = %v, want %v", p, got, want)
				}
			}
			err := l.check(context.Background())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("not ready: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("readiness = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
