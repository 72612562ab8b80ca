package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// loader is a steady load of client-id writes (PUTs and POSTed batches of
// 10) spread over the ingest instances. It remembers every acknowledged id,
// and every id whose request got an error: those may or may not have been
// stored (a publish can land after its timeout answered 503).
type loader struct {
	t       *testing.T
	bases   []string
	workers int
	http    *http.Client

	mu    sync.Mutex
	acked map[string]bool
	maybe map[string]bool
	errs  map[string]int  // answers other than success in this phase, by kind
	lat   []time.Duration // of the successful requests in this phase

	stopping atomic.Bool
	wg       sync.WaitGroup
}

func newLoader(t *testing.T, ingestAddrs []string, workers int) *loader {
	l := &loader{t: t, workers: workers, http: &http.Client{Timeout: 20 * time.Second},
		acked: map[string]bool{}, maybe: map[string]bool{}, errs: map[string]int{}}
	for _, a := range ingestAddrs {
		l.bases = append(l.bases, "http://"+a+"/xapi")
	}
	return l
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (l *loader) start() {
	l.stopping.Store(false)
	for w := 0; w < l.workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; !l.stopping.Load(); i++ {
				l.send(l.bases[(w+i)%len(l.bases)], i%2 == 0)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
}

// stop ends the load after the requests in flight; it returns the errors
// answered since start and the latencies of the successful requests
// (p50/p99/max), and resets both.
func (l *loader) stop() (map[string]int, string) {
	l.stopping.Store(true)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	errs, lat := l.errs, l.lat
	l.errs, l.lat = map[string]int{}, nil
	if len(lat) == 0 {
		return errs, "-"
	}
	slices.Sort(lat)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
	return errs, ms(lat[len(lat)/2]) + " / " + ms(lat[len(lat)*99/100]) + " / " + ms(lat[len(lat)-1])
}

func (l *loader) send(base string, put bool) {
	var (
		ids  []string
		req  *http.Request
		err  error
		want int
	)
	if put {
		id := newUUID()
		ids = []string{id}
		req, err = http.NewRequest(http.MethodPut, base+"/statements?statementId="+id, strings.NewReader(statement("fault-"+id[:6], "attempted", "course-"+id[:2])))
		want = http.StatusNoContent
	} else {
		parts := make([]string, 10)
		for i := range parts {
			id := newUUID()
			ids = append(ids, id)
			parts[i] = withID(id, statement("fault-"+id[:6], "completed", "course-"+id[:2]))
		}
		req, err = http.NewRequest(http.MethodPost, base+"/statements", strings.NewReader("["+strings.Join(parts, ",")+"]"))
		want = http.StatusOK
	}
	if err != nil {
		l.t.Error(err)
		return
	}
	req.SetBasicAuth(testKey, testSecret)
	req.Header.Set("X-Experience-API-Version", "1.0.3")
	req.Header.Set("Content-Type", "application/json")
	kind := ""
	began := time.Now()
	resp, err := l.http.Do(req)
	took := time.Since(began)
	if err != nil {
		kind = "no answer"
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			kind = fmt.Sprint(resp.StatusCode)
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				kind += " without Retry-After"
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if kind == "" {
			l.acked[id] = true
			delete(l.maybe, id)
		} else if !l.acked[id] {
			l.maybe[id] = true
		}
	}
	if kind != "" {
		l.errs[kind]++
	} else {
		l.lat = append(l.lat, took)
	}
}

func (l *loader) snapshot() (acked, maybe map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps(l.acked), maps(l.maybe)
}

func maps(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// faultCluster is the separate services as processes on real servers.
type faultCluster struct {
	t     *testing.T
	bin   string
	env   map[string][]string // process name -> its environment
	procs map[string]*process
	admin map[string]string // process name -> its HTTP address
}

func (c *faultCluster) start(name, binary string, env ...string) {
	c.t.Helper()
	addr := testenv.FreeAddr(c.t)
	c.env[name] = append(env, "LRS_HTTP_ADDR="+addr)
	c.admin[name] = addr
	c.procs[name] = startProcess(c.t, c.bin, binary, c.env[name])
}

func (c *faultCluster) kill(name string) {
	p := c.procs[name]
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

func (c *faultCluster) restart(name string) {
	c.t.Helper()
	p := c.procs[name]
	if p.cmd.ProcessState == nil {
		c.kill(name)
	}
	c.procs[name] = startProcess(c.t, c.bin, p.name, c.env[name])
}

func (c *faultCluster) stop(name string) {
	c.procs[name].stop(c.t)
	delete(c.procs, name)
}

// waitAllReady waits until every running process answers /readyz 200.
func (c *faultCluster) waitAllReady(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for name := range c.procs {
		for {
			code, body := readyz(c.admin[name])
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("%s not ready: %d %s", name, code, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// lagRecords is the sum of lrs_consumer_lag_records on a writer's /metrics.
func lagRecords(addr string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "lrs_consumer_lag_records{") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

func readyz(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// clickhouseIDs reads each statement id in ClickHouse as queries see it
// (FINAL), with the number of rows it has there.
func clickhouseIDs(t *testing.T, dsn, tenant string) map[string]int {
	conn := testenv.ClickHouseConn(t, dsn)
	rows, err := conn.Query(context.Background(), "SELECT toString(statement_id), count() FROM statements FINAL WHERE tenant = ? GROUP BY statement_id", tenant)
	if err != nil {
		t.Fatalf("read ClickHouse: %v", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = int(n)
	}
	return out
}

func countIDs(ids []string) map[string]int {
	out := map[string]int{}
	for _, id := range ids {
		out[id]++
	}
	return out
}

// exactlyOnce describes what is wrong with got for the acknowledged ids
// (each exactly once) and the ids that got an error (at most once), or "".
func exactlyOnce(acked, maybe map[string]bool, got map[string]int) string {
	var lost, doubled, unknown int
	for id := range acked {
		if got[id] == 0 {
			lost++
		}
	}
	for id, n := range got {
		if n > 1 {
			doubled++
		}
		if !acked[id] && !maybe[id] {
			unknown++
		}
	}
	if lost+doubled+unknown == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d acknowledged missing, %d doubled, %d never sent", lost, len(acked), doubled, unknown)
}

// shortFaults are the phases `make test` runs (its own Kafka's start is
// most of the time): the broker restart that only the consumer's own
// recovery survives (TestStoreWriterSurvivesKill9 and
// TestStoreWriterRidesOutPostgresOutage cover killed writers and the
// writers' side of a database outage), and the store outage ingest must
// ride out; the pause and the other phases run with LRS_FAULTS=all. The
// baseline comes first: it also has both ingest instances verify the
// load's credential, which a store outage must not then take away.
const shortFaults = "baseline,broker-kill,postgres-outage"

// faultPhases selects the phases by name: LRS_FAULTS=a,b, "all", or by
// default shortFaults. nil means all.
func faultPhases() map[string]bool {
	v := os.Getenv("LRS_FAULTS")
	if v == "all" {
		return nil
	}
	if v == "" {
		v = shortFaults
	}
	out := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		out[strings.TrimSpace(p)] = true
	}
	return out
}

// TestFaults runs 2 ingest, 2 store-writer and 2 analytics-writer processes
// (static members) on a Kafka broker of the test's own, the real PostgreSQL
// and ClickHouse (each behind a cuttable TCP proxy), under a steady load of
// client-id writes, and puts them through one fault after another: SIGKILL
// of each kind of process, a PostgreSQL and a ClickHouse outage, a network
// cut between one writer of each kind and Kafka, a third writer joining and
// leaving, a broker SIGKILL and restart, and a broker pause longer than the
// session timeout. After each fault the load stops and the writers must
// catch up by themselves; then every acknowledged statement must be in the
// store and in ClickHouse exactly once. Errors answered to the load are
// reported, not failures, except during the ClickHouse outage and the
// writer faults, which ingest must not notice. LRS_FAULTS=name,... runs
// some phases only; LRS_FAULT_ROUNDS=n repeats them (a soak).
func TestFaults(t *testing.T) {
	began := time.Now()
	prebuild()
	pg := testenv.PostgresDSN(t)
	ch := testenv.ClickHouseDSN(t)
	k := testenv.StartKafka(t)
	bin := buildBinaries(t)
	t.Logf("own Kafka up and services built after %v", time.Since(began).Round(100*time.Millisecond))

	pgURL, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	pgpx := testenv.NewProxy(t, pgURL.Host)
	pgVia := *pgURL
	pgVia.Host = pgpx.Addr()
	chURL, err := url.Parse(ch)
	if err != nil {
		t.Fatal(err)
	}
	chpx := testenv.NewProxy(t, chURL.Host)
	chVia := *chURL
	chVia.Host = chpx.Addr()
	q := chVia.Query()
	q.Set("dial_timeout", "1s")
	chVia.RawQuery = q.Encode()

	topic := testenv.UniqueName("faults")
	common := []string{
		"LRS_KAFKA_TOPIC=" + topic, "LRS_KAFKA_PARTITIONS=6", "LRS_LOG_LEVEL=info",
		"LRS_STORE_GROUP=" + topic + "-store", "LRS_ANALYTICS_GROUP=" + topic + "-analytics",
		"LRS_KAFKA_SESSION_TIMEOUT=3s", "LRS_STALL_TIMEOUT=3s", "LRS_STORE_RETRY_MAX=1s", "LRS_ANALYTICS_RETRY_MAX=1s",
		"LRS_ANALYTICS_BATCH_WAIT=100ms", "LRS_PUBLISH_TIMEOUT=5s",
	}
	direct := "LRS_KAFKA_BROKERS=" + k.Addr()
	c := &faultCluster{t: t, bin: bin, env: map[string][]string{}, procs: map[string]*process{}, admin: map[string]string{}}
	storeWriter := func(name, brokers string) {
		c.start(name, "lrs-store-writer", append(slices.Clone(common), brokers, "LRS_STORE_DSN="+pgVia.String(), "LRS_KAFKA_INSTANCE_ID="+name)...)
	}
	analyticsWriter := func(name, brokers string) {
		c.start(name, "lrs-analytics-writer", append(slices.Clone(common), brokers, "LRS_CLICKHOUSE_DSN="+chVia.String(), "LRS_KAFKA_INSTANCE_ID="+name)...)
	}
	// One writer of each kind reaches Kafka through a proxy that the
	// network-cut phase cuts.
	storeWriter("sw0", direct)
	storeWriter("sw1", "LRS_KAFKA_BROKERS="+k.ProxyAddr())
	analyticsWriter("aw0", direct)
	analyticsWriter("aw1", "LRS_KAFKA_BROKERS="+k.ProxyAddr())
	for _, name := range []string{"ing0", "ing1"} {
		c.start(name, "lrs-ingest", append(slices.Clone(common), direct, "LRS_STORE_DSN="+pgVia.String(),
			"LRS_BOOTSTRAP_KEY="+testKey, "LRS_BOOTSTRAP_SECRET="+testSecret)...)
	}
	c.waitAllReady(3 * time.Minute)
	t.Logf("services ready after %v", time.Since(began).Round(100*time.Millisecond))
	load := newLoader(t, []string{c.admin["ing0"], c.admin["ing1"]}, 4)

	type phase struct {
		name string
		// allowed are the answers other than success the load may get
		// (nil: none at all; a broker fault may answer 503 with
		// Retry-After, a killed ingest may not answer).
		allowed []string
		// fault runs while the load goes on and returns when the fault
		// is over (the moment recovery is measured from).
		fault func()
	}
	hold := func(d time.Duration) { time.Sleep(d) }
	// outage is how long each outage, cut and pause lasts: longer than the
	// session timeout (3s), so that members are evicted.
	outage := 5 * time.Second
	if v := os.Getenv("LRS_FAULT_OUTAGE"); v != "" {
		if outage, err = time.ParseDuration(v); err != nil {
			t.Fatalf("LRS_FAULT_OUTAGE: %v", err)
		}
	}
	unavailable := []string{"503"}
	// during holds the fault for d while polling cond, and reports an
	// error if cond never held meanwhile.
	during := func(d time.Duration, what string, cond func() bool) {
		seen := false
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			seen = seen || cond()
		}
		if !seen {
			t.Errorf("never seen during the %v fault: %s", d, what)
		}
	}
	notReady := func(name string, reasons ...string) func() bool {
		return func() bool {
			code, body := readyz(c.admin[name])
			if code != http.StatusServiceUnavailable {
				return false
			}
			for _, r := range reasons {
				if strings.Contains(body, r) {
					return true
				}
			}
			return false
		}
	}
	phases := []phase{
		{"baseline", nil, func() { hold(time.Second) }},
		{"kill-store-writer", nil, func() { c.kill("sw0"); hold(time.Second); c.restart("sw0") }},
		{"kill-analytics-writer", nil, func() { c.kill("aw1"); hold(time.Second); c.restart("aw1") }},
		{"kill-ingest", []string{"no answer"}, func() { c.kill("ing0"); hold(time.Second); c.restart("ing0"); c.waitAllReady(time.Minute) }},
		// Ingest needs the store for neither credentials it has verified
		// nor client-id checks, so a store outage is invisible to writers.
		// The store-writers cannot write: lag stands, and /readyz says so.
		// A store-writer started meanwhile waits for the store, saying why.
		{"postgres-outage", nil, func() {
			pgpx.Down()
			storeWriter("sw-late", direct)
			during(outage, "sw0 not ready (stalled, or lag unknown) and sw-late waiting for the store", func() bool {
				return notReady("sw0", "consumer stalled", "lag unknown")() && notReady("sw-late", "waiting for the statement store")()
			})
			pgpx.Up(t)
		}},
		{"clickhouse-outage", nil, func() {
			chpx.Down()
			during(outage, "aw0 not ready (stalled) with lag in its metrics", func() bool {
				return notReady("aw0", "consumer stalled")() && lagRecords(c.admin["aw0"]) > 0
			})
			chpx.Up(t)
		}},
		{"writer-kafka-cut", nil, func() { k.Proxy().Down(); hold(outage); k.Proxy().Up(t) }},
		{"rebalance", nil, func() {
			storeWriter("sw2", direct)
			analyticsWriter("aw2", direct)
			c.waitAllReady(time.Minute)
			hold(2 * time.Second)
			c.stop("sw2")
			c.stop("aw2")
		}},
		{"broker-kill", unavailable, func() { k.Kill(); hold(time.Second); k.Start() }},
		{"broker-pause", unavailable, func() { k.Pause(); hold(outage); k.Resume() }},
	}
	only := faultPhases()
	rounds := 1
	if v := os.Getenv("LRS_FAULT_ROUNDS"); v != "" {
		if _, err := fmt.Sscan(v, &rounds); err != nil {
			t.Fatalf("LRS_FAULT_ROUNDS: %v", err)
		}
	}
	var report bytes.Buffer
	fmt.Fprintf(&report, "\n| phase | acknowledged (total) | answers other than success | write p50 / p99 / max ms | store and ClickHouse complete, after the fault ended |\n|---|---|---|---|---|\n")
	for r := 0; r < rounds; r++ {
		for _, p := range phases {
			if only != nil && !only[p.name] {
				continue
			}
			load.start()
			hold(time.Second)
			p.fault()
			over := time.Now()
			hold(time.Second)
			errs, lat := load.stop()
			acked, maybe := load.snapshot()
			took, problem := waitCaughtUp(t, pg, ch, acked, maybe, 3*time.Minute)
			fmt.Fprintf(&report, "| %s | %d | %v | %s | %v |\n", p.name, len(acked), errs, lat, time.Since(over).Round(100*time.Millisecond))
			if problem != "" {
				t.Log(report.String())
				t.Fatalf("%s: not caught up %v after the fault: %s", p.name, took.Round(time.Second), problem)
			}
			for kind := range errs {
				if !slices.Contains(p.allowed, kind) {
					t.Errorf("%s: ingest answered %s (want only %v): %v", p.name, kind, p.allowed, errs)
				}
			}
			c.waitAllReady(time.Minute)
		}
	}
	t.Logf("%s\ntotal %v", report.String(), time.Since(began).Round(100*time.Millisecond))
}

// waitCaughtUp waits until the store and ClickHouse hold every acknowledged
// statement, then checks each is there exactly once. It returns how long
// that took and what is wrong, if anything.
func waitCaughtUp(t *testing.T, pg, ch string, acked, maybe map[string]bool, d time.Duration) (time.Duration, string) {
	start := time.Now()
	var problem string
	for {
		st := exactlyOnce(acked, maybe, countIDs(tenantIDs(t, pg, "default")))
		if st != "" {
			problem = "store: " + st
		} else if a := exactlyOnce(acked, maybe, clickhouseIDs(t, ch, "default")); a != "" {
			problem = "ClickHouse: " + a
		} else {
			return time.Since(start), ""
		}
		if time.Since(start) > d {
			return time.Since(start), problem
		}
		time.Sleep(500 * time.Millisecond)
	}
}
