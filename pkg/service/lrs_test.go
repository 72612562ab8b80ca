package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// startLRS runs the all-in-one binary's code in-process on dir and returns
// its address and a stop function (SIGTERM equivalent).
func startLRS(t *testing.T, dir string, extra ...string) (addr string, stop func()) {
	t.Helper()
	return startLRSAt(t, dir, testenv.FreeAddr(t), extra...)
}

// startLRSAt is startLRS on a given address (to start an LRS again where
// its clients expect it).
func startLRSAt(t *testing.T, dir, addr string, extra ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // also when it fails to start
	errc := make(chan error, 1)
	go func() { errc <- RunLRS(ctx, lrsArgs(dir, addr, extra...), io.Discard) }()
	waitReady(t, addr, errc)
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("lrs stopped with %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("lrs did not stop within 60s")
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

// lrsArgs are the flags of an embedded LRS in dir, serving addr.
func lrsArgs(dir, addr string, extra ...string) []string {
	return append([]string{
		"-http-addr", addr, "-log-format", "console", "-log-level", "warn",
		"-store-dsn", "sqlite:" + filepath.Join(dir, "lrs.db"), "-broker-dir", filepath.Join(dir, "broker"),
		"-bootstrap-key", testKey, "-bootstrap-secret", testSecret,
	}, extra...)
}

// A start that fails after the writers were built (here the API address
// is taken) leaves none of their Kafka clients behind: they had joined
// their groups and went on dialing the stopped broker until the test
// binary ended.
func TestLRSFailedStartStopsWhatItStarted(t *testing.T) {
	ln, err := net.Listen("tcp", testenv.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const kgo = "github.com/twmb/franz-go/pkg/kgo."
	before := goroutinesIn(kgo)
	err = RunLRS(context.Background(), lrsArgs(t.TempDir(), ln.Addr().String(), "-log-level", "error"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("RunLRS on a taken address: %v, want address already in use", err)
	}
	n := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n = goroutinesIn(kgo); n <= before {
			return
		}
	}
	t.Fatalf("%d Kafka client goroutines after the failed start, %d before", n, before)
}

// eachTopology runs fn against the whole LRS, in-process, once on the
// embedded default (kfake broker, SQLite) and once on the real Kafka and
// PostgreSQL of `make test` (a topic and database of its own). extra are
// more flags; dsn is the store the LRS uses.
func eachTopology(t *testing.T, fn func(t *testing.T, addr, dsn string), extra ...string) {
	for _, topo := range []string{"embedded", "kafka-postgres"} {
		t.Run(topo, func(t *testing.T) {
			dir := t.TempDir()
			dsn := "sqlite:" + filepath.Join(dir, "lrs.db")
			var args []string
			if topo == "kafka-postgres" {
				dsn = testenv.PostgresDSN(t)
				topic := testenv.UniqueName("xapi")
				args = []string{"-external-kafka", "-kafka-brokers", strings.Join(testenv.KafkaBrokers(t), ","),
					"-kafka-topic", topic, "-store-group", topic + "-store", "-analytics-group", topic + "-analytics"}
			}
			addr, _ := startLRS(t, dir, append(append(args, "-store-dsn", dsn), extra...)...)
			fn(t, addr, dsn)
		})
	}
}

func TestLRSStatementRoundTripAndRestart(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startLRS(t, dir)
	c := newClient(t, addr)

	r := c.post(statement("ana", "completed", "course-1"))
	if r.status != http.StatusOK {
		t.Fatalf("POST one: %d %s", r.status, r.body)
	}
	var ids []string
	r.json(t, &ids)
	if len(ids) != 1 {
		t.Fatalf("POST one returned %v", ids)
	}
	// Read-your-writes: the GET right after the POST sees it.
	r = c.get("?statementId=" + ids[0])
	if r.status != http.StatusOK {
		t.Fatalf("GET by id: %d %s", r.status, r.body)
	}
	var got map[string]any
	r.json(t, &got)
	if got["id"] != ids[0] || got["stored"] == nil || got["authority"] == nil || got["version"] != "1.0.0" {
		t.Fatalf("stored statement lacks assigned fields: %s", r.body)
	}
	if ct := r.header.Get("X-Experience-API-Consistent-Through"); ct == "" {
		t.Error("GET without X-Experience-API-Consistent-Through")
	}
	if v := r.header.Get("X-Experience-API-Version"); v != "1.0.3" {
		t.Errorf("version header %q", v)
	}

	r = c.post(statementArray(5, "attempted"))
	var batch []string
	r.json(t, &batch)
	if r.status != http.StatusOK || len(batch) != 5 {
		t.Fatalf("POST array: %d %s", r.status, r.body)
	}
	var list struct {
		Statements []map[string]any `json:"statements"`
		More       string           `json:"more"`
	}
	c.get("").json(t, &list)
	if len(list.Statements) != 6 {
		t.Fatalf("list has %d statements, want 6", len(list.Statements))
	}

	// After a restart on the same data directory everything is still there.
	stop()
	addr2, _ := startLRS(t, dir)
	c2 := newClient(t, addr2)
	r = c2.get("?statementId=" + ids[0])
	if r.status != http.StatusOK {
		t.Fatalf("GET after restart: %d %s", r.status, r.body)
	}
	c2.get("").json(t, &list)
	if len(list.Statements) != 6 {
		t.Fatalf("after restart the list has %d statements, want 6", len(list.Statements))
	}
	// A statement POSTed after the restart is readable too: the store-writer
	// resumed where it stopped.
	r = c2.post(statement("bo", "passed", "course-2"))
	r.json(t, &ids)
	if r := c2.get("?statementId=" + ids[0]); r.status != http.StatusOK {
		t.Fatalf("GET new statement after restart: %d", r.status)
	}
}

func TestLRSBadInput(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir(), "-max-body-bytes", "4096", "-max-batch-statements", "3")
	c := newClient(t, addr)
	tests := []struct {
		name        string
		client      func(*client)
		method      string
		path        string
		contentType string
		body        string
		status      int
		mention     string
	}{
		{"malformed JSON", nil, "POST", "/statements", "application/json", `{"actor":`, 400, ""},
		{"missing actor", nil, "POST", "/statements", "application/json", `{"verb":{"id":"http://x.y/v"},"object":{"id":"http://x.y/o"}}`, 400, "actor"},
		{"missing verb", nil, "POST", "/statements", "application/json", `{"actor":{"mbox":"mailto:a@b.c"},"object":{"id":"http://x.y/o"}}`, 400, "verb"},
		{"missing object", nil, "POST", "/statements", "application/json", `{"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"http://x.y/v"}}`, 400, "object"},
		{"wrong content type", nil, "POST", "/statements", "text/plain", statement("a", "b", "c"), 400, "Content-Type"},
		{"body too large", nil, "POST", "/statements", "application/json", statementArray(40, "big"), 413, ""},
		{"too many statements", nil, "POST", "/statements", "application/json", statementArray(4, "many"), 413, "limit is 3"},
		{"no credentials", func(c *client) { c.key = "" }, "POST", "/statements", "application/json", statement("a", "b", "c"), 401, ""},
		{"wrong secret", func(c *client) { c.secret = "nope" }, "GET", "/statements", "", "", 401, ""},
		{"no version header", func(c *client) { c.version = "" }, "GET", "/statements", "", "", 400, "X-Experience-API-Version"},
		{"unknown parameter", nil, "GET", "/statements?Verb=x", "", "", 400, "Verb"},
		{"unknown statement", nil, "GET", "/statements?statementId=00000000-0000-4000-8000-000000000000", "", "", 404, ""},
		{"PUT without id", nil, "PUT", "/statements", "application/json", statement("a", "b", "c"), 400, "statementId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := *c
			cc.t = t
			if tt.client != nil {
				tt.client(&cc)
			}
			r := cc.do(tt.method, tt.path, tt.contentType, []byte(tt.body))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.method == "GET" && r.header.Get("X-Experience-API-Consistent-Through") == "" {
				t.Error("statement GET answered without X-Experience-API-Consistent-Through")
			}
			if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Error("401 without WWW-Authenticate: Basic")
			}
			if !bytes.Contains(r.body, []byte(`"error"`)) && tt.method != "HEAD" {
				t.Errorf("error body is not an xAPI error: %s", r.body)
			}
			if tt.mention != "" && !bytes.Contains(r.body, []byte(tt.mention)) {
				t.Errorf("error does not name %q: %s", tt.mention, r.body)
			}
		})
	}
	// Nothing of the rejected requests was stored.
	var list struct {
		Statements []any `json:"statements"`
	}
	c.get("").json(t, &list)
	if len(list.Statements) != 0 {
		t.Fatalf("rejected requests left %d statements", len(list.Statements))
	}
	// About answers without credentials.
	anon := *c
	anon.key, anon.version = "", ""
	if r := anon.do("GET", "/about", "", nil); r.status != 200 || !bytes.Contains(r.body, []byte("1.0.3")) {
		t.Fatalf("about: %d %s", r.status, r.body)
	}
}

func TestLRSConflictAndDuplicate(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir())
	c := newClient(t, addr)
	const id = "5a4c1f9e-9c3b-4c7e-9a59-0b8f2c5d7e11"
	body := `{"id":"` + id + `",` + statement("ana", "completed", "course-1")[1:]
	if r := c.do("PUT", "/statements?statementId="+id, "application/json", []byte(body)); r.status != 204 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	// The same statement again is accepted without a second copy.
	if r := c.post(body); r.status != 200 {
		t.Fatalf("re-POST of the same statement: %d %s", r.status, r.body)
	}
	other := `{"id":"` + id + `",` + statement("ana", "failed", "course-1")[1:]
	if r := c.post(other); r.status != 409 {
		t.Fatalf("POST of different content under the same id: %d %s", r.status, r.body)
	}
	var list struct {
		Statements []any `json:"statements"`
	}
	c.get("").json(t, &list)
	if len(list.Statements) != 1 {
		t.Fatalf("%d statements stored, want 1", len(list.Statements))
	}
}

func TestLRSBrokerDownIs503(t *testing.T) {
	b, err := stream.StartEmbeddedBroker(t.TempDir(), 0, 1<<20, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	sec := b.Security()
	addr, _ := startLRS(t, t.TempDir(), "-external-kafka", "-kafka-brokers", strings.Join(b.Addrs(), ","), "-publish-timeout", "2s", "-read-wait", "200ms",
		"-kafka-sasl-mechanism", sec.SASLMechanism, "-kafka-sasl-user", sec.SASLUser, "-kafka-sasl-password", sec.SASLPassword)
	c := newClient(t, addr)
	if r := c.post(statement("ana", "completed", "c")); r.status != 200 {
		t.Fatalf("POST with the broker up: %d %s", r.status, r.body)
	}
	b.Close()
	r := c.post(statement("bo", "completed", "c"))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("POST with the broker down: %d %s, want 503", r.status, r.body)
	}
	if !bytes.Contains(r.body, []byte("not reported as stored")) {
		t.Errorf("503 body does not say the statement was not stored: %s", r.body)
	}
}

// TestLRSWithClickHouse runs the all-in-one binary with the analytics-writer
// on the real ClickHouse: both writers share one process and one registry.
func TestLRSWithClickHouse(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, ch string) {
		addr, stop := startLRS(t, t.TempDir(), "-clickhouse-dsn", ch, "-analytics-rollup-interval", "500ms")
		c := newClient(t, addr)
		if r := c.post(statementArray(10, "completed")); r.status != 200 {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
		conn := testenv.ClickHouseConn(t, ch)
		var n uint64
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if err := conn.QueryRow(context.Background(), "SELECT count() FROM statements").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 10 {
				break
			}
		}
		if n != 10 {
			t.Fatalf("ClickHouse holds %d statements, want 10", n)
		}
		// The writer refreshes the rollup tables on its own.
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			if err := conn.QueryRow(context.Background(), "SELECT toUInt64(sum(statements)) FROM rollup_learners_daily WHERE tenant = 'default'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 10 {
				break
			}
		}
		if n != 10 {
			t.Fatalf("rollup_learners_daily counts %d statements, want 10", n)
		}
		stop()
		if n := goroutinesIn("service.refreshRollups"); n != 0 {
			t.Fatalf("%d rollup goroutines after the LRS stopped, want 0", n)
		}
	})
}

// A stopped LRS no longer serves its profiles, and leaves no goroutine of
// that server behind.
func TestLRSStopEndsProfiles(t *testing.T) {
	pprof := testenv.FreeAddr(t)
	_, stop := startLRS(t, t.TempDir(), "-pprof-addr", pprof)
	resp, err := http.Get("http://" + pprof + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/pprof/: %d", resp.StatusCode)
	}
	stop()
	if conn, err := net.Dial("tcp", pprof); err == nil {
		conn.Close()
		t.Fatal("profiles still served after the LRS stopped")
	}
	if n := goroutinesIn("service.newEnv"); n != 0 {
		t.Fatalf("%d goroutines of the profiles server after the LRS stopped, want 0", n)
	}
}

// TestLRSBacklogIs503: while the store-writer is more than
// -max-backlog-bytes behind (here it holds its batches for 3 s), writes
// answer 503 with Retry-After and store nothing; once it applied them,
// writes are accepted again, and every acknowledged statement is stored.
func TestLRSBacklogIs503(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir(), "-max-backlog-bytes", "4096", "-store-batch-wait", "3s")
	c := newClient(t, addr)
	accepted, refused := 0, 0
	for i := 0; i < 100 && refused == 0; i++ {
		r := c.post(statementArray(5, "completed"))
		switch r.status {
		case 200:
			accepted += 5
		case http.StatusServiceUnavailable:
			refused++
			if r.header.Get("Retry-After") == "" || !bytes.Contains(r.body, []byte("behind the stream")) {
				t.Fatalf("503 without Retry-After or reason: %v %s", r.header, r.body)
			}
		default:
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
	}
	if refused == 0 {
		t.Fatalf("%d statements accepted with the store-writer holding them, none refused", accepted)
	}
	var r response
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r = c.post(statementArray(5, "completed")); r.status == 200 {
			accepted += 5
			break
		}
	}
	if r.status != 200 {
		t.Fatalf("POST after the store-writer caught up: %d %s", r.status, r.body)
	}
	var list struct {
		Statements []any `json:"statements"`
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c.get(fmt.Sprintf("?limit=%d", accepted+10)).json(t, &list)
		if len(list.Statements) >= accepted {
			break
		}
	}
	if len(list.Statements) != accepted {
		t.Fatalf("%d statements stored, want the %d acknowledged", len(list.Statements), accepted)
	}
}

// /metrics holds the Kafka client metrics (kprom) of each of the LRS's
// clients, labelled by client.
func TestLRSKafkaClientMetrics(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir())
	c := newClient(t, addr)
	if r := c.post(statement("mailto:k@example.com", "completed", "http://example.com/k")); r.status != 200 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{} // client -> wrote bytes to a broker
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, `lrs_kafka_write_bytes_total{client="`)
		if !ok {
			continue
		}
		client, _, _ := strings.Cut(rest, `"`)
		written[client] = written[client] || !strings.HasSuffix(line, " 0")
	}
	for _, client := range []string{"producer", "conflict-tail", "consumer-lrs-store-writer", "dead-letter-lrs-store-writer"} {
		if !written[client] {
			t.Errorf("no lrs_kafka_write_bytes_total of client %q above 0 in /metrics (clients seen: %v)", client, written)
		}
	}
}
