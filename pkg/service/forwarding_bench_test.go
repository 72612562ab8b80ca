package service

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/forwarding"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestForwardingThroughput measures a forwarder draining a backlog of
// statements (records of 100, about 600 bytes each, on kfake) into a local
// StreamLRS (the embedded lrs) in batches, with the default batch
// settings. It is a benchmark: it runs only when LRS_BENCH_FORWARD gives the
// number of statements (e.g. 200000) and asserts nothing about speed.
func TestForwardingThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LRS_BENCH_FORWARD"))
	if n <= 0 {
		t.Skip("set LRS_BENCH_FORWARD=<statements> to run the forwarding throughput benchmark")
	}
	dir := t.TempDir()
	dstAddr, _ := startLRS(t, filepath.Join(dir, "target"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "xapi.statements"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "source.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, store.Tenant{ID: "bench", Name: "bench"}); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const perRecord = 100
	for r := 0; r*perRecord < n; r++ {
		b := stream.Batch{Tenant: "bench"}
		for i := range perRecord {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", r, i)
			stmt := `{"id":"` + id + `","actor":{"mbox":"mailto:learner` + strconv.Itoa(i) + `@example.com","objectType":"Agent"},` +
				`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},` +
				`"object":{"id":"http://example.com/courses/` + strconv.Itoa(r%300) + `/module/` + strconv.Itoa(i%12) + `"},` +
				`"result":{"completion":true,"score":{"scaled":0.9}},"timestamp":"2026-11-26T10:00:00.000Z","version":"1.0.0"}`
			b.Statements = append(b.Statements, stream.Statement{ID: id, Stored: time.Now().UTC(), Fingerprint: id, Statement: json.RawMessage(stmt)})
		}
		rec, err := b.Record("xapi.statements")
		if err != nil {
			t.Fatal(err)
		}
		prod.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n = (n + perRecord - 1) / perRecord * perRecord

	rules, _ := forwarding.NewRules(st)
	if _, err := rules.Create(ctx, "bench", forwarding.Spec{Name: "mirror", Start: "beginning",
		Target: forwarding.Target{Type: forwarding.TargetXAPI, URL: "http://" + dstAddr + "/xapi", Key: testKey, Secret: testSecret}}); err != nil {
		t.Fatal(err)
	}
	var cfg forwarding.Config
	cfg.RegisterFlags(flag.NewFlagSet("bench", flag.ContinueOnError)) // the defaults
	f, err := forwarding.New(cfg, "xapi.statements", st, func(opts ...kgo.Opt) (*kgo.Client, error) {
		return kgo.NewClient(append(opts, kgo.SeedBrokers(c.ListenAddrs()...))...)
	}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(fctx) }()
	var s forwarding.Status
	for {
		if s, err = rules.Get(ctx, "bench", "mirror"); err == nil && s.Delivered >= int64(n) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	stop()
	<-done
	fmt.Printf("\nforwarding to a local StreamLRS (embedded lrs), batches of %d\n", cfg.BatchStatements)
	fmt.Printf("%-12s %-10s %-14s %-8s\n", "statements", "seconds", "statements/s", "failed")
	fmt.Printf("%-12d %-10.1f %-14.0f %-8d\n", n, took.Seconds(), float64(n)/took.Seconds(), s.Failed)
}

// TestForwardingDelay measures the delay from a POST's acknowledgement to
// the delivery of its statements at a webhook, through the whole lrs (its
// embedded broker and forwarder, default settings) at about 1,000
// statements/s (requests of 10). A benchmark: it runs only when
// LRS_BENCH_FORWARD_SECONDS gives how long to send (e.g. 30).
func TestForwardingDelay(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("LRS_BENCH_FORWARD_SECONDS"))
	if secs <= 0 {
		t.Skip("set LRS_BENCH_FORWARD_SECONDS=<seconds> to run the forwarding delay benchmark")
	}
	srcAddr, _ := startLRS(t, t.TempDir(), "-admin-token", testAdminToken)
	src := newClient(t, srcAddr)
	adm := adminClient{t: t, base: "http://" + srcAddr + "/admin"}
	hook := &hookReceiver{t: t, addr: testenv.FreeAddr(t)}
	hook.start()
	defer hook.stop()
	var tenants []struct{ ID string }
	adm.do(http.MethodGet, "/tenants", nil, http.StatusOK, &tenants)
	var created forwarding.Rule
	adm.do(http.MethodPost, "/tenants/"+tenants[0].ID+"/forwarding", forwarding.Spec{Name: "hook",
		Target: forwarding.Target{Type: forwarding.TargetWebhook, URL: "http://" + hook.addr + "/in"}}, http.StatusCreated, &created)
	hook.mu.Lock()
	hook.secret = created.Target.Secret
	hook.arrived = map[string]time.Time{}
	hook.mu.Unlock()
	time.Sleep(3 * time.Second) // the forwarder reads the new rule

	var (
		mu    sync.Mutex
		acked = map[string]time.Time{}
	)
	tick := time.NewTicker(10 * time.Millisecond) // 100 requests of 10 a second
	defer tick.Stop()
	end := time.Now().Add(time.Duration(secs) * time.Second)
	var wg sync.WaitGroup
	for time.Now().Before(end) {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := src.post(statementArray(10, "completed"))
			at := time.Now()
			var ids []string
			if r.status != http.StatusOK || json.Unmarshal(r.body, &ids) != nil {
				t.Errorf("POST: %d %s", r.status, r.body)
				return
			}
			mu.Lock()
			for _, id := range ids {
				acked[id] = at
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	waitUntil(t, time.Minute, "every statement at the webhook", func() bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		return len(hook.arrived) >= len(acked)
	})
	hook.mu.Lock()
	delays := make([]time.Duration, 0, len(acked))
	for id, at := range acked {
		delays = append(delays, max(hook.arrived[id].Sub(at), 0))
	}
	hook.mu.Unlock()
	slices.Sort(delays)
	q := func(p float64) time.Duration { return delays[int(p*float64(len(delays)-1))].Round(time.Millisecond) }
	rate := float64(len(acked)) / float64(secs)
	fmt.Printf("\nacknowledgement -> webhook delivery, lrs defaults (batch wait %s)\n", "100ms")
	fmt.Printf("%-12s %-14s %-8s %-8s %-8s %-8s\n", "statements", "statements/s", "p50", "p95", "p99", "max")
	fmt.Printf("%-12d %-14.0f %-8s %-8s %-8s %-8s\n", len(acked), rate, q(0.5), q(0.95), q(0.99), delays[len(delays)-1].Round(time.Millisecond))
}
