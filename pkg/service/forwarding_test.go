package service

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/forwarding"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// hookReceiver is a webhook in the test, at a fixed address so that it can
// be stopped and started again where the rule expects it. It checks every
// signature and keeps the ids it took, in arrival order.
type hookReceiver struct {
	t      *testing.T
	addr   string
	mu     sync.Mutex
	secret string
	got    []string
	// arrived, when not nil, keeps when each id first came.
	arrived map[string]time.Time
	srv     *http.Server
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	sig := r.Header.Get(forwarding.SignatureHeader)
	ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig != forwarding.Sign(h.secret, time.Unix(unix, 0), body) {
		h.t.Errorf("webhook: bad signature %q", sig)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b forwarding.WebhookBody
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, s := range b.Statements {
		var v struct{ ID string }
		_ = json.Unmarshal(s, &v)
		h.got = append(h.got, v.ID)
		if _, seen := h.arrived[v.ID]; h.arrived != nil && !seen {
			h.arrived[v.ID] = time.Now()
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) start() {
	h.t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the address may take a moment to be free again
		if ln, err = net.Listen("tcp", h.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	h.srv = &http.Server{Handler: h}
	go h.srv.Serve(ln)
}

func (h *hookReceiver) stop() { h.srv.Close() }

func (h *hookReceiver) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// firstArrivals is ids without repeats, in the order they first came.
func firstArrivals(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	waitExplained(t, d, what, cond, nil)
}

// waitExplained is waitUntil that says, on a timeout, what explain finds.
func waitExplained(t *testing.T, d time.Duration, what string, cond func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			why := ""
			if explain != nil {
				why = ": " + explain()
			}
			t.Fatalf("timed out after %v waiting for %s%s", d, what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storedTimes returns the target's stored time of each id.
func storedTimes(t *testing.T, c *client) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	r := c.get("?limit=500")
	for {
		if r.status != http.StatusOK {
			t.Fatalf("GET statements: %d %s", r.status, r.body)
		}
		var l statementList
		r.json(t, &l)
		for _, s := range l.Statements {
			ts, _ := time.Parse(time.RFC3339Nano, s["stored"].(string))
			out[s["id"].(string)] = ts
		}
		if l.More == "" {
			return out
		}
		r = c.do(http.MethodGet, strings.TrimPrefix(l.More, "/xapi"), "", nil)
	}
}

var forwardFlags = []string{"-admin-token", testAdminToken, "-forward-rules-interval", "200ms", "-forward-batch-wait", "20ms",
	"-forward-retry-min", "50ms", "-forward-retry-max", "500ms", "-forward-timeout", "5s"}

// TestForwardToAnotherLRSAndAWebhook: one LRS forwards its statements to a
// second StreamLRS (xAPI) and to a webhook in the test, both stopped in
// the middle of the stream and started again: the second LRS ends up with
// every statement once, stored in the order they were acknowledged; the
// webhook got every one, first in that order. A statement the second LRS
// answers 409 to is the only dead letter of its batch; a rewind delivers
// everything again.
func TestForwardToAnotherLRSAndAWebhook(t *testing.T) {
	dir := t.TempDir()
	srcAddr, _ := startLRS(t, filepath.Join(dir, "source"), forwardFlags...)
	dstAddr := testenv.FreeAddr(t)
	_, stopDst := startLRSAt(t, filepath.Join(dir, "target"), dstAddr)
	src, dst := newClient(t, srcAddr), newClient(t, dstAddr)
	adm := adminClient{t: t, base: "http://" + srcAddr + "/admin"}
	hook := &hookReceiver{t: t, addr: testenv.FreeAddr(t)}
	hook.start()
	defer func() { hook.stop() }()

	// The bootstrap tenant of the source, as created by -bootstrap-key.
	var tenants []struct{ ID string }
	adm.do(http.MethodGet, "/tenants", nil, http.StatusOK, &tenants)
	tenant := tenants[0].ID
	adm.do(http.MethodPost, "/tenants/"+tenant+"/forwarding", forwarding.Spec{Name: "mirror",
		Target: forwarding.Target{Type: forwarding.TargetXAPI, URL: "http://" + dstAddr + "/xapi", Key: testKey, Secret: testSecret}}, http.StatusCreated, nil)
	var created forwarding.Rule
	adm.do(http.MethodPost, "/tenants/"+tenant+"/forwarding", forwarding.Spec{Name: "hook",
		Target: forwarding.Target{Type: forwarding.TargetWebhook, URL: "http://" + hook.addr + "/in"}}, http.StatusCreated, &created)
	hook.mu.Lock()
	hook.secret = created.Target.Secret
	hook.mu.Unlock()

	// A statement the target holds with other content: it answers 409 to
	// any batch holding it.
	clash := "d3c9a5f0-1111-4000-8000-000000000042"
	if r := dst.post(`[{"id":"` + clash + `",` + statement("other", "attempted", "elsewhere")[1:] + `]`); r.status != http.StatusOK {
		t.Fatalf("seed the target: %d %s", r.status, r.body)
	}

	var order []string
	for i := range 40 {
		switch i {
		case 12:
			stopDst()
			hook.stop()
		case 20:
			body := "[" + statement("a", "completed", "x") + `,{"id":"` + clash + `",` + statement("b", "completed", "y")[1:] + "," + statement("c", "completed", "z") + "]"
			order = append(order, postIDs(t, src, body)...)
			continue
		case 28:
			time.Sleep(time.Second) // a few failed attempts
			_, stopDst = startLRSAt(t, filepath.Join(dir, "target"), dstAddr)
			hook.start()
		}
		order = append(order, postIDs(t, src, statementArray(10, "attempted"))...)
	}
	delivered := slices.DeleteFunc(slices.Clone(order), func(id string) bool { return id == clash })

	waitUntil(t, 90*time.Second, "the webhook and the target", func() bool {
		return len(firstArrivals(hook.ids())) == len(order) && len(allIDs(t, dst)) == len(delivered)+1
	})
	if got := firstArrivals(hook.ids()); !slices.Equal(got, order) {
		t.Fatalf("the webhook's first arrivals are not in acknowledgement order")
	}
	stored := storedTimes(t, dst)
	for i, id := range delivered {
		if _, ok := stored[id]; !ok {
			t.Fatalf("statement %d (%s) never reached the target", i, id)
		}
		if i > 0 && stored[id].Before(stored[delivered[i-1]]) {
			t.Fatalf("statement %d was stored at the target before statement %d", i, i-1)
		}
	}
	if len(stored) != len(delivered)+1 {
		t.Fatalf("the target holds %d statements, want %d", len(stored), len(delivered)+1)
	}

	var dls struct{ DeadLetters []forwarding.DeadLetter }
	adm.do(http.MethodGet, "/tenants/"+tenant+"/forwarding/mirror/dead-letters", nil, http.StatusOK, &dls)
	if len(dls.DeadLetters) != 1 || dls.DeadLetters[0].StatementID != clash || dls.DeadLetters[0].Status != http.StatusConflict {
		t.Fatalf("dead letters = %+v: want the one conflicting statement, with the 409", dls.DeadLetters)
	}
	var st forwarding.Status
	waitUntil(t, 10*time.Second, "the rule's status", func() bool {
		adm.do(http.MethodGet, "/tenants/"+tenant+"/forwarding/mirror", nil, http.StatusOK, &st)
		return st.LagRecords == 0 && st.Delivered >= int64(len(delivered))
	})
	if st.Failed == 0 || st.DeadLetters != 1 || st.LastError == "" {
		t.Fatalf("status = %+v: want failures while the target was down, one dead letter, the last error", st)
	}
	if m := metric(t, srcAddr, `lrs_forwarding_dead_letters_total{rule="mirror",tenant="`+tenant+`"}`); m != 1 {
		t.Fatalf("lrs_forwarding_dead_letters_total = %v, want 1", m)
	}

	before := len(hook.ids())
	adm.do(http.MethodPost, "/tenants/"+tenant+"/forwarding/hook/rewind", map[string]string{"to": "beginning"}, http.StatusOK, nil)
	waitUntil(t, 30*time.Second, "the rewound webhook rule", func() bool { return len(hook.ids()) >= before+len(order) })
	if again := hook.ids()[before:]; !slices.Equal(firstArrivals(again), order) {
		t.Fatalf("after the rewind the webhook got %d statements, not everything in order", len(again))
	}
}

// TestForwarderServicesOnKafka: on the real Kafka (six partitions) and
// PostgreSQL, two lrs-forwarder processes share the partitions with the
// forwarder of the LRS; one is killed (SIGKILL) in the middle of the
// stream. Every statement still reaches the webhook and the second
// StreamLRS, and the second LRS holds each once.
func TestForwarderServicesOnKafka(t *testing.T) {
	brokers := strings.Join(testenv.KafkaBrokers(t), ",")
	pg := testenv.PostgresDSN(t)
	bin := buildBinaries(t)
	dir := t.TempDir()
	topic := testenv.UniqueName("xapi")
	group := topic + "-forwarder"
	srcAddr, _ := startLRS(t, filepath.Join(dir, "source"), append(slices.Clone(forwardFlags), "-external-kafka", "-kafka-brokers", brokers,
		"-kafka-topic", topic, "-kafka-partitions", "6", "-store-group", topic+"-store", "-analytics-group", topic+"-analytics",
		"-forward-group", group, "-kafka-session-timeout", "6s", "-store-dsn", pg)...)
	dstAddr, _ := startLRS(t, filepath.Join(dir, "target"))
	src, dst := newClient(t, srcAddr), newClient(t, dstAddr)
	var forwarders []*process
	var forwarderAddrs []string
	for i := range 2 {
		addr := testenv.FreeAddr(t)
		p := startProcess(t, bin, "lrs-forwarder", []string{"LRS_KAFKA_BROKERS=" + brokers, "LRS_KAFKA_TOPIC=" + topic, "LRS_STORE_DSN=" + pg,
			"LRS_FORWARD_GROUP=" + group, "LRS_HTTP_ADDR=" + addr, "LRS_KAFKA_SESSION_TIMEOUT=6s", "LRS_LOG_FORMAT=console",
			"LRS_FORWARD_RULES_INTERVAL=200ms", "LRS_FORWARD_BATCH_WAIT=20ms", "LRS_FORWARD_RETRY_MAX=500ms", "LRS_KAFKA_INSTANCE_ID=" + group + strconv.Itoa(i)})
		waitReady(t, addr, nil)
		forwarders = append(forwarders, p)
		forwarderAddrs = append(forwarderAddrs, addr)
	}
	adm := adminClient{t: t, base: "http://" + srcAddr + "/admin"}
	hook := &hookReceiver{t: t, addr: testenv.FreeAddr(t)}
	hook.start()
	defer func() { hook.stop() }()
	var tenants []struct{ ID string }
	adm.do(http.MethodGet, "/tenants", nil, http.StatusOK, &tenants)
	tenant := tenants[0].ID
	var created forwarding.Rule
	adm.do(http.MethodPost, "/tenants/"+tenant+"/forwarding", forwarding.Spec{Name: "hook", Filter: forwarding.Filter{Verb: "http://adlnet.gov/expapi/verbs/attempted"},
		Target: forwarding.Target{Type: forwarding.TargetWebhook, URL: "http://" + hook.addr + "/in"}}, http.StatusCreated, &created)
	hook.mu.Lock()
	hook.secret = created.Target.Secret
	hook.mu.Unlock()
	adm.do(http.MethodPost, "/tenants/"+tenant+"/forwarding", forwarding.Spec{Name: "mirror",
		Target: forwarding.Target{Type: forwarding.TargetXAPI, URL: "http://" + dstAddr + "/xapi", Key: testKey, Secret: testSecret}}, http.StatusCreated, nil)

	// Not for the webhook; 40 KB, so that the records move on to other
	// partitions.
	pad := `[{"actor":{"mbox":"mailto:pad@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},` +
		`"object":{"id":"http://example.com/pad"},"result":{"extensions":{"http://example.com/pad":"` + strings.Repeat("x", 40<<10) + `"}}}]`
	var attempted, all []string
	for i := range 60 {
		if i == 25 {
			// One that forwards (the producer fills a partition's 256 KB
			// before it moves on) is killed with batches in flight: its
			// partitions go to the others once its session times out, from
			// the positions it saved.
			victim := -1
			delivered := func(addr string) float64 {
				return metric(t, addr, `lrs_forwarding_delivered_total{rule="mirror",tenant="`+tenant+`"}`)
			}
			waitExplained(t, 30*time.Second, "an lrs-forwarder's deliveries", func() bool {
				for j, addr := range forwarderAddrs {
					if delivered(addr) > 0 {
						victim = j
						return true
					}
				}
				// The records so far may all be in the partitions of
				// lrs's own forwarder: more move on to the others'.
				all = append(all, postIDs(t, src, pad)...)
				return false
			}, func() string {
				return fmt.Sprintf("delivered to the mirror: lrs %v, lrs-forwarders %v and %v", delivered(srcAddr), delivered(forwarderAddrs[0]), delivered(forwarderAddrs[1]))
			})
			_ = forwarders[victim].cmd.Process.Kill()
			_ = forwarders[victim].cmd.Wait()
		}
		ids := postIDs(t, src, statementArray(10, "attempted"))
		attempted = append(attempted, ids...)
		all = append(all, ids...)
		all = append(all, postIDs(t, src, pad)...)
		time.Sleep(20 * time.Millisecond)
	}
	waitExplained(t, 2*time.Minute, "every statement at the webhook and the target", func() bool {
		return len(firstArrivals(hook.ids())) >= len(attempted) && len(allIDs(t, dst)) >= len(all)
	}, func() string {
		atHook, atTarget := map[string]bool{}, allIDs(t, dst)
		for _, id := range hook.ids() {
			atHook[id] = true
		}
		var missing []string
		for _, id := range all {
			if !atTarget[id] || (slices.Contains(attempted, id) && !atHook[id]) {
				missing = append(missing, fmt.Sprintf("%s(target %v hook %v)", id, atTarget[id], atHook[id]))
			}
		}
		var lags []string
		for i, addr := range append([]string{srcAddr}, forwarderAddrs...) {
			if i > 0 && forwarders[i-1].cmd.ProcessState != nil {
				continue
			}
			for _, rule := range []string{"hook", "mirror"} {
				s := `{rule="` + rule + `",tenant="` + tenant + `"}`
				lags = append(lags, fmt.Sprintf("%s %s: delivered %v lag %v records %vs", addr, rule,
					metric(t, addr, "lrs_forwarding_delivered_total"+s), metric(t, addr, "lrs_forwarding_lag_records"+s), metric(t, addr, "lrs_forwarding_lag_seconds"+s)))
			}
		}
		for _, rule := range []string{"hook", "mirror"} {
			var st forwarding.Status
			adm.do(http.MethodGet, "/tenants/"+tenant+"/forwarding/"+rule, nil, http.StatusOK, &st)
			lags = append(lags, fmt.Sprintf("status of %s: %+v", rule, st))
		}
		return fmt.Sprintf("%d of %d missing %v; %s", len(missing), len(all), missing[:min(len(missing), 5)], strings.Join(lags, "; "))
	})
	got := hook.ids()
	if first := firstArrivals(got); len(first) != len(attempted) || !sameElements(first, attempted) {
		t.Fatalf("the webhook got %d distinct statements, want the %d attempted ones only", len(first), len(attempted))
	}
	held := allIDs(t, dst)
	if len(held) != len(all) {
		t.Fatalf("the target holds %d statements, want %d", len(held), len(all))
	}
	for _, id := range all {
		if !held[id] {
			t.Fatalf("statement %s never reached the target", id)
		}
	}
	t.Logf("webhook: %d deliveries of %d statements (%d again after the kill)", len(got), len(attempted), len(got)-len(attempted))
}

func sameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
