package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// QueryKinds are the GET statement filters exercised while the load runs,
// in the order they are cycled through. "more" follows the more link of a
// verb listing and times the second page.
var QueryKinds = []string{
	"none", "agent", "verb", "activity", "registration", "related_activities",
	"related_agents", "since", "agent+verb", "more",
}

// QueryStats is the latency of one filter kind.
type QueryStats struct {
	Kind    string  `json:"kind"`
	Count   int64   `json:"count"`
	Errors  int64   `json:"errors"`
	Skipped int64   `json:"skipped,omitempty"` // due while queryConcurrency queries were running
	P50ms   float64 `json:"p50_ms"`
	P95ms   float64 `json:"p95_ms"`
	P99ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	AvgRows float64 `json:"avg_rows"` // statements per answer: a fast empty answer proves little
	Error   string  `json:"error,omitempty"`
}

// queryConcurrency bounds the queries in flight; a query due while all are
// busy is skipped (and counted), so that queries stay a side load. It is
// large enough for an LRS that holds reads back for seconds while its store
// catches up (ours waits up to LRS_READ_WAIT).
const queryConcurrency = 64

type kindStats struct {
	hist     Histogram
	errs     atomic.Int64
	rows     atomic.Int64
	skipped  atomic.Int64
	firstErr atomic.Pointer[string]
}

type queryLoad struct {
	ctx   context.Context // the run's: cancelling it ends the queries in flight
	r     *runner
	kinds []*kindStats
	slots chan struct{}
	wg    sync.WaitGroup
}

func newQueryLoad(ctx context.Context, r *runner) *queryLoad {
	q := &queryLoad{ctx: ctx, r: r, slots: make(chan struct{}, queryConcurrency)}
	for range QueryKinds {
		q.kinds = append(q.kinds, &kindStats{})
	}
	return q
}

// run issues QueryRate queries per second until end or ctx ends, then
// waits for those in flight (which the end of the load does not cancel:
// their latency is a measurement).
func (q *queryLoad) run(ctx context.Context, end time.Time) {
	defer q.wg.Wait()
	if q.r.cfg.QueryRate <= 0 {
		return
	}
	rng := rand.New(rand.NewPCG(q.r.cfg.Gen.Seed, 0x7175657279))
	every := time.Duration(float64(time.Second) / q.r.cfg.QueryRate)
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * every)
		if !at.Before(end) || !sleepUntil(ctx, at) {
			return
		}
		k := i % len(QueryKinds)
		params := q.params(QueryKinds[k], rng)
		select {
		case q.slots <- struct{}{}:
		default:
			q.kinds[k].skipped.Add(1)
			continue
		}
		q.wg.Go(func() {
			defer func() { <-q.slots }()
			q.do(k, params)
		})
	}
}

// params builds the filter of one query from a session that started
// lately, so that filters match data the LRS has (or is about to have).
func (q *queryLoad) params(kind string, rng *rand.Rand) queryParams {
	s := q.r.gen.Recent(rng)
	v := url.Values{"limit": {"100"}}
	verb := VerbIRI(verbNames[rng.IntN(len(verbNames))])
	switch kind {
	case "agent":
		v.Set("agent", string(s.Agent))
	case "verb", "more":
		v.Set("verb", verb)
	case "activity":
		v.Set("activity", s.ModuleID)
	case "registration":
		v.Set("registration", s.Registration)
	case "related_activities":
		v.Set("activity", s.CourseID)
		v.Set("related_activities", "true")
	case "related_agents":
		v.Set("agent", string(s.Agent))
		v.Set("related_agents", "true")
	case "since":
		v.Set("since", time.Now().Add(-10*time.Second).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	case "agent+verb":
		v.Set("agent", string(s.Agent))
		v.Set("verb", VerbIRI("answered"))
	}
	return queryParams{instance: s.Instance, query: v.Encode(), follow: kind == "more"}
}

type queryParams struct {
	instance int
	query    string
	follow   bool // time the page the more link points at
}

type page struct {
	Statements []json.RawMessage `json:"statements"`
	More       string            `json:"more"`
}

func (q *queryLoad) do(k int, p queryParams) {
	ks := q.kinds[k]
	u := q.r.statements + "?" + p.query
	start := time.Now()
	pg, err := q.get(u, p.instance)
	if err == nil && p.follow {
		if pg.More == "" {
			// A listing that fits one page has no second page to time.
			return
		}
		var next *url.URL
		if next, err = url.Parse(q.r.statements); err == nil {
			if next, err = next.Parse(pg.More); err == nil {
				start = time.Now()
				pg, err = q.get(next.String(), p.instance)
			}
		}
	}
	if err != nil {
		ks.errs.Add(1)
		msg := err.Error()
		ks.firstErr.CompareAndSwap(nil, &msg)
		return
	}
	ks.hist.Record(time.Since(start))
	ks.rows.Add(int64(len(pg.Statements)))
}

func (q *queryLoad) get(u string, instance int) (page, error) {
	ctx, cancel := context.WithTimeout(q.ctx, q.r.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return page{}, err
	}
	req.Header.Set("Authorization", q.r.authFor(instance))
	req.Header.Set("X-Experience-API-Version", q.r.cfg.Version)
	resp, err := q.r.client.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return page{}, fmt.Errorf("%s: %s", strconv.Itoa(resp.StatusCode), b)
	}
	var pg page
	if err := json.NewDecoder(resp.Body).Decode(&pg); err != nil {
		return page{}, fmt.Errorf("decode the statement result: %w", err)
	}
	return pg, nil
}

func (q *queryLoad) stats() []QueryStats {
	q.wg.Wait()
	out := make([]QueryStats, len(QueryKinds))
	for i, ks := range q.kinds {
		n := int64(ks.hist.Count())
		s := QueryStats{
			Kind: QueryKinds[i], Count: n, Errors: ks.errs.Load(), Skipped: ks.skipped.Load(),
			P50ms: ms(ks.hist.Quantile(0.5)), P95ms: ms(ks.hist.Quantile(0.95)),
			P99ms: ms(ks.hist.Quantile(0.99)), MaxMs: ms(ks.hist.Max()),
		}
		if n > 0 {
			s.AvgRows = float64(ks.rows.Load()) / float64(n)
		}
		if e := ks.firstErr.Load(); e != nil {
			s.Error = *e
		}
		out[i] = s
	}
	return out
}
