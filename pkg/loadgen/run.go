// Package loadgen drives an xAPI Learning Record Store over plain HTTP —
// ours or any other — with realistic statements generated from a seed, and
// measures what a platform team needs to size it: accepted statements per
// second, write latency, errors by status, how long an acknowledged
// statement takes to become visible in GET (and in ClickHouse), GET latency
// per filter kind while the load runs, and the CPU and memory of the
// processes involved.
package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Credential is a Basic-auth key and secret; each belongs to one tenant of
// the LRS under test.
type Credential struct{ Key, Secret string }

// ParseCredential reads KEY:SECRET.
func ParseCredential(s string) (Credential, error) {
	k, sec, ok := strings.Cut(s, ":")
	if !ok || k == "" || sec == "" {
		return Credential{}, errors.New("credential: want KEY:SECRET")
	}
	return Credential{Key: k, Secret: sec}, nil
}

func (c Credential) header() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Key+":"+c.Secret))
}

// Config describes one run.
type Config struct {
	// Label names the run in tables.
	Label string
	// URL is the base of the xAPI resources, e.g. http://127.0.0.1:8080/xapi.
	URL string
	// Credentials are used round-robin by LMS instance: instance i sends
	// with credential i mod len, so several credentials spread the
	// instances over several tenants.
	Credentials []Credential
	// Version is the X-Experience-API-Version header (1.0.3 or 2.0.0).
	Version   string
	Mode      Mode
	BatchSize int // statements per request in ModeBatch
	// Rate, when positive, is an open-loop target in statements per second:
	// requests start on schedule whatever the answers, and latency counts
	// from the scheduled start, so a slow LRS cannot hide its queueing.
	// Zero runs closed-loop: Concurrency clients, each sending its next
	// request when the last one was answered.
	Rate float64
	// Concurrency is the number of clients (closed loop) or the most
	// requests in flight (open loop).
	Concurrency int
	// Warmup runs load before the measured Duration; it is not counted.
	Warmup, Duration time.Duration
	// Timeout bounds one HTTP request.
	Timeout time.Duration
	Gen     GenConfig

	// FreshnessRate is how many acknowledged statements per second are
	// followed until GET ?statementId= returns them (and ClickHouse has
	// them, when configured); FreshnessTimeout gives up on one.
	FreshnessRate    float64
	FreshnessTimeout time.Duration
	// ClickHouseDSN, when set, also follows the sampled statements into
	// ClickHouseTable (column statement_id) of that database.
	ClickHouseDSN   string
	ClickHouseTable string
	ClickHousePoll  time.Duration
	// QueryRate is how many GET statement queries per second run while the
	// load runs, cycling through the filter kinds.
	QueryRate float64
	// Processes are sampled for CPU and memory over the measured window.
	Processes []Process
	// Settle, when positive, first waits (at most this long) until the LRS
	// shows statements sent just before the run: see settle.
	Settle time.Duration
}

func (c *Config) defaults() {
	if c.Version == "" {
		c.Version = "1.0.3"
	}
	if c.Mode == "" {
		c.Mode = ModePost
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1
		if c.Mode == ModeBatch {
			c.BatchSize = 100
		}
	}
	if c.Concurrency == 0 {
		c.Concurrency = 32
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.FreshnessTimeout == 0 {
		c.FreshnessTimeout = 30 * time.Second
	}
	if c.ClickHouseTable == "" {
		c.ClickHouseTable = "statements"
	}
	if c.ClickHousePoll == 0 {
		c.ClickHousePoll = 50 * time.Millisecond
	}
	if c.Mode == ModePut {
		c.Gen.IDs = true
	}
}

func (c Config) validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q: want http(s)://host[:port]/path-of-the-xapi-resources", c.URL))
	}
	if len(c.Credentials) == 0 {
		errs = append(errs, errors.New("at least one credential is required"))
	}
	if _, err := ParseMode(string(c.Mode)); err != nil {
		errs = append(errs, err)
	}
	if c.BatchSize < 1 || (c.Mode != ModeBatch && c.BatchSize != 1) {
		errs = append(errs, fmt.Errorf("batch size %d: want 1 for post and put, at least 1 for batch", c.BatchSize))
	}
	if c.Rate < 0 || c.Concurrency < 1 || c.Duration <= 0 || c.Warmup < 0 || c.Timeout <= 0 {
		errs = append(errs, errors.New("rate must be >= 0; concurrency, duration and timeout > 0; warmup >= 0"))
	}
	if c.FreshnessRate < 0 || c.QueryRate < 0 || c.FreshnessTimeout <= 0 || c.ClickHousePoll <= 0 || c.Settle < 0 {
		errs = append(errs, errors.New("freshness and query rates and settle must be >= 0, timeouts and poll interval > 0"))
	}
	if c.ClickHouseDSN != "" && !validIdent(c.ClickHouseTable) {
		errs = append(errs, fmt.Errorf("clickhouse table %q: want [db.]name of letters, digits and _", c.ClickHouseTable))
	}
	return errors.Join(errs...)
}

func validIdent(s string) bool {
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Count(s, ".") > 1 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// NewHTTPClient returns a client tuned for load: every connection is kept
// alive and reused (MaxIdleConnsPerHost as large as the concurrency, where
// the default of 2 would make most requests open a new connection), no
// HTTP/2, no response compression.
func NewHTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// runner is the state of one run.
type runner struct {
	cfg        Config
	gen        *Generator
	client     *http.Client
	auths      []string
	statements string // URL of the statements resource

	windowStart time.Time // when measuring starts (after the warmup)
	latency     Histogram
	requests    atomic.Int64
	sent        atomic.Int64
	accepted    atomic.Int64

	errMu  sync.Mutex
	errs   map[string]*ErrorCount
	fresh  *freshness
	buildE atomic.Pointer[error]
}

// Run drives the LRS as cfg says and returns the measurements. It returns
// an error only when the run could not be carried out (bad settings, the
// LRS unreachable at the start); errors the LRS answers are measurements.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return Result{}, fmt.Errorf("loadgen: %w", err)
	}
	gen, err := NewGenerator(cfg.Gen)
	if err != nil {
		return Result{}, err
	}
	r := &runner{
		cfg:        cfg,
		gen:        gen,
		client:     NewHTTPClient(cfg.Concurrency+64, cfg.Timeout),
		statements: strings.TrimSuffix(cfg.URL, "/") + "/statements",
		errs:       map[string]*ErrorCount{},
	}
	defer r.client.CloseIdleConnections()
	for _, c := range cfg.Credentials {
		r.auths = append(r.auths, c.header())
	}
	if err := r.checkAbout(ctx); err != nil {
		return Result{}, err
	}
	procs := append([]Process{{Name: "loadgen", PID: os.Getpid()}}, cfg.Processes...)
	pw := newProcWatcher(procFS{root: "/proc"}, procs, 500*time.Millisecond)

	var ch *chWatcher
	if cfg.ClickHouseDSN != "" {
		if ch, err = newCHWatcher(ctx, cfg.ClickHouseDSN, cfg.ClickHouseTable, cfg.ClickHousePoll, cfg.FreshnessTimeout); err != nil {
			return Result{}, err
		}
		defer ch.close()
	}
	r.fresh = newFreshness(ctx, r, ch)
	var settled *SettleStats
	if cfg.Settle > 0 {
		s, err := r.settle(ctx, ch)
		if err != nil {
			return Result{}, err
		}
		settled = &s
	}

	start := time.Now()
	r.windowStart = start.Add(cfg.Warmup)
	end := r.windowStart.Add(cfg.Duration)
	res := Result{
		Label: cfg.Label, Target: cfg.URL, Mode: cfg.Mode, BatchSize: cfg.BatchSize, Rate: cfg.Rate,
		Concurrency: cfg.Concurrency, Seed: cfg.Gen.Seed, Started: start.UTC(),
		WarmupS: cfg.Warmup.Seconds(), DurationS: cfg.Duration.Seconds(), Settle: settled,
	}

	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	side := sync.WaitGroup{}
	q := newQueryLoad(ctx, r)
	watching := make(chan struct{})
	side.Go(func() {
		defer close(watching)
		if sleepUntil(lctx, r.windowStart) {
			pw.start()
			side.Go(func() { q.run(lctx, end) })
		}
	})
	if cfg.Rate > 0 {
		r.openLoop(lctx, start, end)
	} else {
		r.closedLoop(lctx, end)
	}
	loadEnd := time.Now()
	stopLoad()
	// The processes are measured over the load, not over the queries
	// still finishing after it.
	<-watching
	res.Processes, res.Machine = pw.finish()
	side.Wait()
	if err := r.buildE.Load(); err != nil {
		return Result{}, *err
	}
	if loadEnd.Before(r.windowStart) {
		return Result{}, fmt.Errorf("loadgen: stopped during the warmup: %w", context.Cause(ctx))
	}
	window := loadEnd.Sub(r.windowStart)
	if loadEnd.After(end) {
		// Requests started before the end but answered after it are counted:
		// the window is the time in which they were started.
		window = end.Sub(r.windowStart)
	}
	res.MeasuredS = window.Seconds()

	res.Requests, res.Statements, res.Accepted = r.requests.Load(), r.sent.Load(), r.accepted.Load()
	if window > 0 {
		res.AcceptedPerSec = float64(res.Accepted) / window.Seconds()
		res.RequestsPerSec = float64(res.Requests) / window.Seconds()
	}
	res.Latency = latencyStats(&r.latency)
	res.Errors = r.errorList()
	if cfg.QueryRate > 0 {
		res.Queries = q.stats()
	}
	res.FreshnessGET, res.FreshnessClickHouse = r.fresh.finish(loadEnd)
	return res, nil
}

// checkAbout fails fast with a clear message when the LRS is not there.
func (r *runner) checkAbout(ctx context.Context) error {
	u := strings.TrimSuffix(r.cfg.URL, "/") + "/about"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	req.Header.Set("X-Experience-API-Version", r.cfg.Version)
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("loadgen: the LRS does not answer at %s: %w", u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("loadgen: GET %s answered %s", u, resp.Status)
	}
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// next generates the statements of one request.
func (r *runner) next() (body, error) {
	var sts []Statement
	if r.cfg.Mode == ModeBatch {
		sts = r.gen.NextBatch(r.cfg.BatchSize)
	} else {
		sts = []Statement{r.gen.Next()}
	}
	return buildBody(r.cfg.Mode, sts)
}

func (r *runner) closedLoop(ctx context.Context, end time.Time) {
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				b, err := r.next()
				if err != nil {
					r.buildE.CompareAndSwap(nil, &err)
					return
				}
				r.send(ctx, b, time.Now())
			}
		})
	}
	wg.Wait()
}

// openLoop starts request i at start + i*interval. When Concurrency
// requests are in flight the schedule slips, and the requests sent late
// carry their lateness in their latency.
func (r *runner) openLoop(ctx context.Context, start, end time.Time) {
	interval := time.Duration(float64(time.Second) * float64(r.cfg.BatchSize) / r.cfg.Rate)
	slots := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := int64(0); ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if !at.Before(end) || !sleepUntil(ctx, at) {
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			b, err := r.next()
			if err != nil {
				r.buildE.CompareAndSwap(nil, &err)
				return
			}
			r.send(ctx, b, at)
		})
	}
}

// send makes one write request and records it when it started inside the
// measured window. Freshness samples are taken from the acknowledged ones.
func (r *runner) send(ctx context.Context, b body, scheduled time.Time) {
	counted := !scheduled.Before(r.windowStart)
	u := r.statements
	if b.query != "" {
		u += "?" + b.query
	}
	req, err := http.NewRequestWithContext(ctx, b.method, u, bytes.NewReader(b.data))
	if err != nil {
		r.countError("request: "+err.Error(), b.statements, "")
		return
	}
	req.Header.Set("Authorization", r.authFor(b.instance))
	req.Header.Set("X-Experience-API-Version", r.cfg.Version)
	req.Header.Set("Content-Type", b.contentType)
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // the run was interrupted: not the LRS's fault
		}
		if counted {
			r.requests.Add(1)
			r.sent.Add(int64(b.statements))
			r.countError(transportError(err), b.statements, err.Error())
		}
		return
	}
	sample := resp.StatusCode/100 == 2 && counted && r.fresh.want()
	var data []byte
	if sample && b.knownID == "" || resp.StatusCode/100 != 2 && counted {
		data, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ack := time.Now()
	if !counted {
		return
	}
	r.latency.Record(ack.Sub(scheduled))
	r.requests.Add(1)
	r.sent.Add(int64(b.statements))
	if resp.StatusCode/100 != 2 {
		r.countError(strconv.Itoa(resp.StatusCode), b.statements, string(data))
		return
	}
	r.accepted.Add(int64(b.statements))
	if sample {
		id := b.knownID
		if id == "" {
			var ids []string
			if json.Unmarshal(data, &ids) == nil && len(ids) > 0 {
				id = ids[0]
			}
		}
		if id != "" {
			r.fresh.track(id, b.instance, ack)
		}
	}
}

// transportError names a failure that produced no HTTP answer.
func transportError(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	}
	return "transport error"
}

func (r *runner) countError(kind string, statements int, example string) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	e := r.errs[kind]
	if e == nil {
		if len(example) > 300 {
			example = example[:300] + "…"
		}
		e = &ErrorCount{Status: kind, Example: strings.TrimSpace(example)}
		r.errs[kind] = e
	}
	e.Requests++
	e.Statements += int64(statements)
}

func (r *runner) errorList() []ErrorCount {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	out := make([]ErrorCount, 0, len(r.errs))
	for _, e := range r.errs {
		out = append(out, *e)
	}
	sortErrors(out)
	return out
}

// authFor returns the Authorization header for an LMS instance.
func (r *runner) authFor(instance int) string { return r.auths[instance%len(r.auths)] }
