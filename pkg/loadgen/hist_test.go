package loadgen

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(i int) time.Duration
		n    int
	}{
		{"tiny exact values", func(i int) time.Duration { return time.Duration(i % 100) }, 1000},
		{"uniform ms", func(i int) time.Duration { return time.Duration(newRand(uint64(i)).IntN(50_000_000)) }, 20000},
		{"long tail", func(i int) time.Duration {
			return time.Duration(math.Exp(newRand(uint64(i)).NormFloat64()*2) * float64(time.Millisecond))
		}, 20000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			vals := make([]time.Duration, tc.n)
			for i := range vals {
				vals[i] = tc.gen(i)
				h.Record(vals[i])
			}
			slices.Sort(vals)
			if h.Count() != uint64(tc.n) || h.Max() != vals[len(vals)-1] {
				t.Fatalf("count %d max %v, want %d %v", h.Count(), h.Max(), tc.n, vals[len(vals)-1])
			}
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				want := vals[int(math.Ceil(q*float64(tc.n)))-1]
				got := h.Quantile(q)
				if diff := math.Abs(float64(got - want)); diff > float64(want)/64+1 {
					t.Errorf("q%.3f = %v, want %v within 1/64", q, got, want)
				}
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram is not all zero")
	}
	h.Record(-5)
	h.Record(time.Duration(math.MaxInt64))
	if h.Max() != time.Duration(math.MaxInt64) || h.Quantile(0) != 0 {
		t.Fatalf("max %v, q0 %v", h.Max(), h.Quantile(0))
	}
	// Bucket indexes grow with the value and stay in range.
	last := -1
	for v := int64(0); v < 1<<40; v = v*9/8 + 1 {
		i := histIndex(v)
		if i < last || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d after %d", v, i, last)
		}
		last = i
	}
}
