package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// fakeLRS is a minimal xAPI endpoint: it stores statements in memory and
// makes each visible to GET only after a delay, like an LRS whose store is
// fed asynchronously. Multipart requests get 400, as from an LRS without
// attachment support. It records what it saw so tests can compare with the
// report.
type fakeLRS struct {
	t        *testing.T
	delay    time.Duration
	status   int // when set, every write is answered with it
	creds    map[string]bool
	mu       sync.Mutex
	visible  map[string]time.Time
	auths    map[string]int
	filters  map[string]int
	puts     atomic.Int64
	stored   atomic.Int64
	multipar atomic.Int64
	bad      atomic.Int64 // requests the fake found malformed
	badWhy   atomic.Pointer[string]
}

func newFakeLRS(t *testing.T, delay time.Duration, creds ...Credential) (*fakeLRS, *httptest.Server) {
	f := &fakeLRS{t: t, delay: delay, creds: map[string]bool{}, visible: map[string]time.Time{}, auths: map[string]int{}, filters: map[string]int{}}
	for _, c := range creds {
		f.creds[c.header()] = true
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeLRS) reject(w http.ResponseWriter, why string) {
	f.bad.Add(1)
	f.badWhy.CompareAndSwap(nil, &why)
	http.Error(w, why, http.StatusBadRequest)
}

func (f *fakeLRS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/xapi/about" {
		w.Write([]byte(`{"version":["1.0.3"]}`))
		return
	}
	if r.URL.Path != "/xapi/statements" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("X-Experience-API-Version") != "1.0.3" {
		f.reject(w, "version header")
		return
	}
	auth := r.Header.Get("Authorization")
	if !f.creds[auth] {
		http.Error(w, "who?", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	f.auths[auth]++
	f.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		f.get(w, r)
	case http.MethodPost, http.MethodPut:
		f.write(w, r)
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
	}
}

func (f *fakeLRS) write(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		f.multipar.Add(1)
		http.Error(w, `{"error":"multipart is not supported"}`, http.StatusBadRequest)
		return
	}
	if f.status != 0 {
		http.Error(w, "busy", f.status)
		return
	}
	var sts []map[string]any
	if body[0] == '[' {
		if err := json.Unmarshal(body, &sts); err != nil {
			f.reject(w, err.Error())
			return
		}
	} else {
		var one map[string]any
		if err := json.Unmarshal(body, &one); err != nil {
			f.reject(w, err.Error())
			return
		}
		sts = append(sts, one)
	}
	ids := make([]string, len(sts))
	for i, s := range sts {
		id, _ := s["id"].(string)
		if r.Method == http.MethodPut {
			f.puts.Add(1)
			if q := r.URL.Query().Get("statementId"); q == "" || q != id {
				f.reject(w, "statementId "+q+" does not match id "+id)
				return
			}
		}
		if id == "" {
			id = uuid.NewString()
		}
		ids[i] = id
	}
	at := time.Now().Add(f.delay)
	f.mu.Lock()
	for _, id := range ids {
		f.visible[id] = at
	}
	f.mu.Unlock()
	f.stored.Add(int64(len(ids)))
	if r.Method == http.MethodPut {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	json.NewEncoder(w).Encode(ids)
}

func (f *fakeLRS) get(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if id := q.Get("statementId"); id != "" {
		f.mu.Lock()
		at, ok := f.visible[id]
		f.mu.Unlock()
		if !ok || time.Now().Before(at) {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"id":"` + id + `"}`))
		return
	}
	kind := "none"
	switch {
	case q.Get("more") != "":
		kind = "more"
	case q.Get("agent") != "":
		var ifi map[string]any
		if err := json.Unmarshal([]byte(q.Get("agent")), &ifi); err != nil || len(ifi) != 1 {
			f.reject(w, "agent "+q.Get("agent"))
			return
		}
		kind = "agent"
	case q.Get("since") != "":
		if _, err := time.Parse(time.RFC3339Nano, q.Get("since")); err != nil {
			f.reject(w, "since "+q.Get("since"))
			return
		}
		kind = "since"
	case q.Get("verb") != "" || q.Get("activity") != "" || q.Get("registration") != "":
		kind = "filter"
	}
	if kind != "more" && q.Get("limit") != "100" {
		f.reject(w, "limit "+q.Get("limit"))
		return
	}
	f.mu.Lock()
	f.filters[kind]++
	f.mu.Unlock()
	more := ""
	if q.Get("verb") != "" {
		more = "/xapi/statements?more=" + url.QueryEscape("page2")
	}
	fmt.Fprintf(w, `{"statements":[{"id":"a"},{"id":"b"},{"id":"c"}],"more":%q}`, more)
}

func (f *fakeLRS) check(t *testing.T) {
	t.Helper()
	if n := f.bad.Load(); n > 0 {
		t.Fatalf("the fake LRS rejected %d requests as malformed, first: %s", n, *f.badWhy.Load())
	}
}

var testCred = Credential{Key: "lms", Secret: "s3cret"}

func baseConfig(srv *httptest.Server) Config {
	return Config{
		Label: "test", URL: srv.URL + "/xapi", Credentials: []Credential{testCred},
		Concurrency: 4, Warmup: 100 * time.Millisecond, Duration: 400 * time.Millisecond,
		Gen: GenConfig{Seed: 1, Instances: 3, Learners: 100, Courses: 4},
	}
}

func TestRunClosedLoopPost(t *testing.T) {
	const delay = 30 * time.Millisecond
	f, srv := newFakeLRS(t, delay, testCred)
	cfg := baseConfig(srv)
	cfg.Gen.AttachmentEvery = 4 // some fall in the measured window even on a loaded machine
	cfg.FreshnessRate = 200
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t)
	if res.Requests == 0 || res.Statements != res.Requests || res.Latency.Count != res.Requests {
		t.Fatalf("requests %d statements %d latencies %d", res.Requests, res.Statements, res.Latency.Count)
	}
	var rejected int64
	for _, e := range res.Errors {
		if e.Status != "400" || !strings.Contains(e.Example, "multipart") {
			t.Fatalf("unexpected error %+v", e)
		}
		rejected = e.Requests
	}
	// Warmup requests are sent but not counted, so the fake saw more.
	if rejected == 0 || rejected > f.multipar.Load() || res.Accepted != res.Statements-rejected || res.Accepted > f.stored.Load() {
		t.Fatalf("accepted %d, rejected %d; the fake stored %d and refused %d multipart", res.Accepted, rejected, f.stored.Load(), f.multipar.Load())
	}
	if res.AcceptedPerSec <= 0 || res.MeasuredS < 0.3 || res.MeasuredS > 0.45 {
		t.Fatalf("accepted/s %.0f over %.2f s", res.AcceptedPerSec, res.MeasuredS)
	}
	fr := res.FreshnessGET
	if fr.Samples == 0 || fr.Visible != fr.Samples-fr.Skipped || fr.Missing != 0 || fr.Errors != 0 {
		t.Fatalf("freshness %+v", fr)
	}
	// Every sample waited for the fake's delay before it became visible.
	if fr.P50ms < float64(delay.Milliseconds()) || fr.MaxMs < fr.P99ms || fr.P99ms < fr.P50ms {
		t.Fatalf("freshness %+v, want at least %v", fr, delay)
	}
	if res.FreshnessClickHouse != nil {
		t.Fatal("ClickHouse freshness without a DSN")
	}
	if len(res.Processes) == 0 || res.Processes[0].Name != "loadgen" || res.Processes[0].MemMaxMB <= 0 {
		t.Fatalf("processes %+v", res.Processes)
	}
}

func TestRunOpenLoopBatchKeepsSchedule(t *testing.T) {
	f, srv := newFakeLRS(t, 0, testCred)
	cfg := baseConfig(srv)
	cfg.Mode, cfg.BatchSize = ModeBatch, 10
	cfg.Rate = 2000 // 200 requests/s: 80 in the 400 ms window
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t)
	// The schedule decides how many requests start in the window, not the
	// server's speed: a late request is still sent, with its delay counted.
	if res.Requests < 79 || res.Requests > 81 || res.Statements != 10*res.Requests || res.Accepted != res.Statements {
		t.Fatalf("requests %d, statements %d, accepted %d; want 80 requests of 10", res.Requests, res.Statements, res.Accepted)
	}
	if res.Rate != 2000 || res.BatchSize != 10 || !strings.Contains(res.Describe(), "open loop 2,000 st/s") {
		t.Fatalf("result settings %+v: %s", res, res.Describe())
	}
}

func TestRunPutAndCredentials(t *testing.T) {
	other := Credential{Key: "lms2", Secret: "other"}
	f, srv := newFakeLRS(t, 0, testCred, other)
	cfg := baseConfig(srv)
	cfg.Mode = ModePut
	cfg.Credentials = []Credential{testCred, other}
	cfg.FreshnessRate = 100
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t)
	if f.puts.Load() == 0 || res.Accepted != res.Statements || len(res.Errors) != 0 {
		t.Fatalf("puts %d, result %+v", f.puts.Load(), res)
	}
	if res.FreshnessGET.Visible == 0 {
		t.Fatal("PUT ids were not followed")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.auths[testCred.header()] == 0 || f.auths[other.header()] == 0 {
		t.Fatalf("instances were not spread over both credentials: %v", f.auths)
	}
}

func TestRunQueries(t *testing.T) {
	f, srv := newFakeLRS(t, 0, testCred)
	cfg := baseConfig(srv)
	cfg.QueryRate = 100
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t)
	if len(res.Queries) != len(QueryKinds) {
		t.Fatalf("%d query kinds", len(res.Queries))
	}
	for _, q := range res.Queries {
		if q.Count == 0 || q.Errors != 0 || q.AvgRows != 3 || q.P50ms <= 0 || q.MaxMs < q.P99ms {
			t.Errorf("%s: %+v", q.Kind, q)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range []string{"none", "agent", "since", "filter", "more"} {
		if f.filters[k] == 0 {
			t.Errorf("the fake saw no %s query: %v", k, f.filters)
		}
	}
}

func TestRunCountsErrorsByStatus(t *testing.T) {
	f, srv := newFakeLRS(t, 0, testCred)
	f.status = http.StatusServiceUnavailable
	res, err := Run(context.Background(), baseConfig(srv))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 0 || len(res.Errors) != 1 || res.Errors[0].Status != "503" || res.Errors[0].Requests != res.Requests || res.Errors[0].Statements != res.Statements {
		t.Fatalf("errors %+v for %d requests", res.Errors, res.Requests)
	}
	bad := baseConfig(srv)
	bad.Credentials = []Credential{{Key: "nobody", Secret: "x"}}
	res, err = Run(context.Background(), bad)
	if err != nil || len(res.Errors) != 1 || res.Errors[0].Status != "401" {
		t.Fatalf("wrong credential: %v %+v", err, res.Errors)
	}
}

func TestRunFailsFast(t *testing.T) {
	_, srv := newFakeLRS(t, 0, testCred)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"unreachable", func(c *Config) { c.URL = down.URL + "/xapi" }, "does not answer"},
		{"no about", func(c *Config) { c.URL = srv.URL + "/nothing" }, "404"},
		{"bad url", func(c *Config) { c.URL = "ftp://x" }, "url"},
		{"no credential", func(c *Config) { c.Credentials = nil }, "credential"},
		{"batch size on post", func(c *Config) { c.BatchSize = 5 }, "batch size"},
		{"no duration", func(c *Config) { c.Duration = 0 }, "duration"},
		{"bad table", func(c *Config) { c.ClickHouseDSN, c.ClickHouseTable = "clickhouse://x", "t; DROP" }, "table"},
		{"bad mode", func(c *Config) { c.Mode = "get" }, "mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(srv)
			tc.edit(&cfg)
			_, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestRunStopsWithContext(t *testing.T) {
	_, srv := newFakeLRS(t, 0, testCred)
	cfg := baseConfig(srv)
	cfg.Duration = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second || res.MeasuredS > 1 || res.Requests == 0 {
		t.Fatalf("ran %v, measured %.1f s, %d requests", time.Since(start), res.MeasuredS, res.Requests)
	}
}

func TestRunSettlesFirst(t *testing.T) {
	for _, tc := range []struct {
		name          string
		delay, settle time.Duration
		complete      bool
	}{
		{"caught up", 150 * time.Millisecond, 10 * time.Second, true},
		{"backlog outlasts the wait", 5 * time.Second, 300 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeLRS(t, tc.delay, testCred)
			cfg := baseConfig(srv)
			cfg.Settle = tc.settle
			cfg.Duration = 200 * time.Millisecond
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			f.check(t)
			s := res.Settle
			if s == nil || s.Complete != tc.complete {
				t.Fatalf("settle %+v, want complete=%v", s, tc.complete)
			}
			if s.Seconds < min(tc.delay, tc.settle).Seconds() || (!tc.complete && s.Seconds > 5) {
				t.Fatalf("settled in %.2f s with a %v delay and a %v limit", s.Seconds, tc.delay, tc.settle)
			}
			if f.stored.Load() < settleStatements+res.Accepted {
				t.Fatalf("the fake stored %d statements, want the %d settle statements and the %d of the run", f.stored.Load(), settleStatements, res.Accepted)
			}
		})
	}
}

func TestRunStoppedDuringWarmup(t *testing.T) {
	_, srv := newFakeLRS(t, 0, testCred)
	cfg := baseConfig(srv)
	cfg.Warmup = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "warmup") {
		t.Fatalf("err = %v, want a run stopped during the warmup", err)
	}
}
