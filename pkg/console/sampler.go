package console

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sampler reads the service's own counters from its registry on a timer and
// keeps the last hour of readings in a ring, so that the health page shows
// rates without a Prometheus server.
type sampler struct {
	g     prometheus.Gatherer
	every time.Duration

	mu   sync.Mutex
	ring []reading // oldest first, at most cap(ring)
}

// reading is the counters' totals at one time, by series: "status 201",
// "statements accepted".
type reading struct {
	at     time.Time
	totals map[string]float64
}

func newSampler(g prometheus.Gatherer, every, keep time.Duration) *sampler {
	return &sampler{g: g, every: every, ring: make([]reading, 0, int(keep/every)+1)}
}

func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.sample(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// The series the console shows: answers of the xAPI API by status (its own
// pages and the probes left out) and statements by result.
const (
	requestsMetric   = "lrs_http_requests_total"
	statementsMetric = "lrs_ingest_statements_total"
)

func (s *sampler) sample(now time.Time) {
	r, ok := s.read(now)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) == cap(s.ring) {
		copy(s.ring, s.ring[1:])
		s.ring = s.ring[:len(s.ring)-1]
	}
	s.ring = append(s.ring, r)
}

func (s *sampler) read(now time.Time) (reading, bool) {
	mfs, err := s.g.Gather()
	if err != nil && len(mfs) == 0 {
		return reading{}, false
	}
	totals := map[string]float64{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case requestsMetric:
			for _, m := range mf.GetMetric() {
				route := label(m, "route")
				if route == "/metrics" || route == "/healthz" || route == "/readyz" || strings.HasPrefix(route, Prefix) {
					continue
				}
				totals["status "+label(m, "status")] += m.GetCounter().GetValue()
			}
		case statementsMetric:
			for _, m := range mf.GetMetric() {
				totals["statements "+label(m, "result")] += m.GetCounter().GetValue()
			}
		}
	}
	return reading{at: now, totals: totals}, true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// rateRow is one series over the sampled window: its increase per bucket.
type rateRow struct {
	Series string
	Total  float64
	Counts []float64
}

// rates splits the sampled window, up to a reading taken now, into n
// buckets and returns each series' increase in each bucket, and the
// buckets' start times. A counter that went down (the process restarted
// its registry) counts from zero.
func (s *sampler) rates(n int, now time.Time) ([]time.Time, []rateRow) {
	s.mu.Lock()
	ring := append([]reading(nil), s.ring...)
	s.mu.Unlock()
	if r, ok := s.read(now); ok {
		ring = append(ring, r)
	}
	if len(ring) < 2 || n < 1 {
		return nil, nil
	}
	first, last := ring[0].at, ring[len(ring)-1].at
	width := last.Sub(first) / time.Duration(n)
	if width <= 0 {
		width = time.Second
	}
	starts := make([]time.Time, n)
	for i := range starts {
		starts[i] = first.Add(time.Duration(i) * width)
	}
	rows := map[string]*rateRow{}
	for i := 1; i < len(ring); i++ {
		b := min(int(ring[i-1].at.Sub(first)/width), n-1) // the bucket the interval began in
		for k, v := range ring[i].totals {
			d := v - ring[i-1].totals[k]
			if d < 0 {
				d = v
			}
			r := rows[k]
			if r == nil {
				r = &rateRow{Series: k, Counts: make([]float64, n)}
				rows[k] = r
			}
			r.Counts[b] += d
			r.Total += d
		}
	}
	out := make([]rateRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Series < out[j].Series })
	return starts, out
}
