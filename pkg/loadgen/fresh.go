package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
)

// FreshnessStats is how long acknowledged statements took to become
// visible: from the write's answer to the first read that returned them.
type FreshnessStats struct {
	Samples int64   `json:"samples"`
	Visible int64   `json:"visible"`
	Missing int64   `json:"missing"`           // not visible within the timeout
	Skipped int64   `json:"skipped,omitempty"` // sampled while too many checks were running
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	// DrainS is the time from the end of the load until the last sample
	// was visible: near zero when the readers keep up, the size of their
	// backlog when they do not.
	DrainS float64 `json:"drain_s"`
	Errors int64   `json:"errors,omitempty"`
	Error  string  `json:"error,omitempty"` // the first error, for the reader
}

// freshnessChecks bounds the GET checks running at once; samples taken
// while all are busy are counted as skipped rather than queued, so that
// checking never becomes load of its own.
const freshnessChecks = 64

// freshness follows sampled statements until GET returns them.
type freshness struct {
	ctx   context.Context // the run's: cancelling it ends the checks
	r     *runner
	ch    *chWatcher
	every int64 // ns between samples; 0 samples nothing
	next  atomic.Int64
	slots chan struct{}
	wg    sync.WaitGroup
	hist  Histogram

	samples, visible, missing, skipped, errs atomic.Int64
	lastVisible                              atomic.Int64
	firstErr                                 atomic.Pointer[string]
}

func newFreshness(ctx context.Context, r *runner, ch *chWatcher) *freshness {
	f := &freshness{ctx: ctx, r: r, ch: ch, slots: make(chan struct{}, freshnessChecks)}
	if r.cfg.FreshnessRate > 0 {
		f.every = int64(float64(time.Second) / r.cfg.FreshnessRate)
	}
	return f
}

// want reports whether the acknowledgement just received should be
// sampled: at most FreshnessRate per second.
func (f *freshness) want() bool {
	if f.every == 0 {
		return false
	}
	now := time.Now().UnixNano()
	n := f.next.Load()
	return now >= n && f.next.CompareAndSwap(n, now+f.every)
}

// track starts following statement id, acknowledged at ack.
func (f *freshness) track(id string, instance int, ack time.Time) {
	f.samples.Add(1)
	if f.ch != nil {
		f.ch.add(id, ack)
	}
	select {
	case f.slots <- struct{}{}:
	default:
		f.skipped.Add(1)
		return
	}
	f.wg.Go(func() {
		defer func() { <-f.slots }()
		f.check(id, instance, ack)
	})
}

func (f *freshness) fail(err string) {
	f.errs.Add(1)
	f.firstErr.CompareAndSwap(nil, &err)
}

// check polls GET ?statementId= until it answers 200. An LRS that makes
// reads wait for its store (as ours does) answers on the first try; others
// answer 404 until the statement arrives.
func (f *freshness) check(id string, instance int, ack time.Time) {
	u := f.r.statements + "?statementId=" + url.QueryEscape(id)
	deadline := ack.Add(f.r.cfg.FreshnessTimeout)
	for time.Now().Before(deadline) && f.ctx.Err() == nil {
		ctx, cancel := context.WithDeadline(f.ctx, deadline)
		status, err := f.get(ctx, u, instance)
		cancel()
		switch {
		case status == http.StatusOK:
			now := time.Now()
			f.visible.Add(1)
			f.hist.Record(now.Sub(ack))
			for {
				last := f.lastVisible.Load()
				if now.UnixNano() <= last || f.lastVisible.CompareAndSwap(last, now.UnixNano()) {
					break
				}
			}
			return
		case status == http.StatusNotFound:
			time.Sleep(10 * time.Millisecond)
		case err != nil && !time.Now().Before(deadline):
			// Our own timeout, not an error of the LRS: counted as missing.
		default:
			if err == nil {
				err = fmt.Errorf("GET statementId answered %d", status)
			}
			f.fail(err.Error())
			time.Sleep(50 * time.Millisecond)
		}
	}
	f.missing.Add(1)
}

func (f *freshness) get(ctx context.Context, u string, instance int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", f.r.authFor(instance))
	req.Header.Set("X-Experience-API-Version", f.r.cfg.Version)
	resp, err := f.r.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// finish waits for the checks in flight (each bounded by the timeout) and
// summarizes them; loadEnd is when the last write was answered.
func (f *freshness) finish(loadEnd time.Time) (FreshnessStats, *FreshnessStats) {
	f.wg.Wait()
	s := FreshnessStats{
		Samples: f.samples.Load(), Visible: f.visible.Load(), Missing: f.missing.Load(), Skipped: f.skipped.Load(),
		P50ms: ms(f.hist.Quantile(0.5)), P99ms: ms(f.hist.Quantile(0.99)), MaxMs: ms(f.hist.Max()),
		Errors: f.errs.Load(),
	}
	if e := f.firstErr.Load(); e != nil {
		s.Error = *e
	}
	if last := f.lastVisible.Load(); last > 0 {
		s.DrainS = max(time.Unix(0, last).Sub(loadEnd).Seconds(), 0)
	}
	if f.ch == nil {
		return s, nil
	}
	c := f.ch.finish(loadEnd)
	return s, &c
}

// chWatcher polls ClickHouse for the sampled statement ids, all pending
// ones in one query per poll.
type chWatcher struct {
	conn    driver.Conn
	table   string
	poll    time.Duration
	timeout time.Duration

	mu          sync.Mutex
	pending     map[string]time.Time
	hist        Histogram
	stats       FreshnessStats
	lastVisible time.Time
	draining    bool
	stop        chan struct{}
	done        chan struct{}
}

// chBatch bounds the ids of one poll query.
const chBatch = 2000

func newCHWatcher(ctx context.Context, dsn, table string, poll, timeout time.Duration) (*chWatcher, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("loadgen: clickhouse DSN: %w", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("loadgen: open ClickHouse: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("loadgen: ClickHouse does not answer: %w", err)
	}
	// An unknown table would make every sample "missing": say so now.
	if err := conn.Exec(pctx, "SELECT statement_id FROM "+table+" LIMIT 0"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("loadgen: ClickHouse table %s: %w", table, err)
	}
	w := &chWatcher{
		conn: conn, table: table, poll: poll, timeout: timeout,
		pending: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	go w.loop(ctx)
	return w, nil
}

func (w *chWatcher) add(id string, ack time.Time) {
	u, err := uuid.Parse(id)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Samples++
	if err != nil {
		// Only UUIDs go into the SQL text; an LRS answering something else
		// has its samples counted as errors.
		w.stats.Errors++
		if w.stats.Error == "" {
			w.stats.Error = fmt.Sprintf("statement id %q is not a UUID", id)
		}
		return
	}
	w.pending[u.String()] = ack
}

// loop polls until finish was called and nothing is pending, or until the
// run is cancelled (what is pending then counts as missing).
func (w *chWatcher) loop(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.poll)
	defer t.Stop()
	stop := w.stop
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			w.stats.Missing += int64(len(w.pending))
			clear(w.pending)
			w.mu.Unlock()
			return
		case <-t.C:
		case <-stop:
			w.mu.Lock()
			w.draining = true
			w.mu.Unlock()
			stop = nil // keep polling until nothing is pending
		}
		if w.pass() {
			return
		}
	}
}

// pass runs one poll; it reports true when draining is over.
func (w *chWatcher) pass() bool {
	now := time.Now()
	w.mu.Lock()
	ids := make([]string, 0, min(len(w.pending), chBatch))
	for id, ack := range w.pending {
		if now.Sub(ack) > w.timeout {
			delete(w.pending, id)
			w.stats.Missing++
			continue
		}
		if len(ids) < chBatch {
			ids = append(ids, id)
		}
	}
	draining := w.draining
	w.mu.Unlock()
	if len(ids) == 0 {
		return draining
	}
	found, err := w.query(ids)
	seen := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.stats.Errors++
		if w.stats.Error == "" {
			w.stats.Error = err.Error()
		}
		return false
	}
	for _, id := range found {
		ack, ok := w.pending[id]
		if !ok {
			continue
		}
		delete(w.pending, id)
		w.stats.Visible++
		w.hist.Record(seen.Sub(ack))
		w.lastVisible = seen
	}
	return draining && len(w.pending) == 0
}

func (w *chWatcher) query(ids []string) ([]string, error) {
	var q strings.Builder
	q.WriteString("SELECT toString(statement_id) FROM ")
	q.WriteString(w.table)
	q.WriteString(" WHERE statement_id IN (")
	for i, id := range ids {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("toUUID('")
		q.WriteString(id)
		q.WriteString("')")
	}
	q.WriteString(")")
	ctx, cancel := context.WithTimeout(context.Background(), max(10*w.poll, 5*time.Second))
	defer cancel()
	rows, err := w.conn.Query(ctx, q.String())
	if err != nil {
		return nil, fmt.Errorf("ClickHouse poll: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("ClickHouse poll: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// finish waits until every pending sample is found or has timed out.
func (w *chWatcher) finish(loadEnd time.Time) FreshnessStats {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.P50ms, s.P99ms, s.MaxMs = ms(w.hist.Quantile(0.5)), ms(w.hist.Quantile(0.99)), ms(w.hist.Max())
	if !w.lastVisible.IsZero() {
		s.DrainS = max(w.lastVisible.Sub(loadEnd).Seconds(), 0)
	}
	return s
}

func (w *chWatcher) close() { w.conn.Close() }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
