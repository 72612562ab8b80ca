package service

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestClickHouseOutageDoesNotReachIngest cuts ClickHouse away from a running
// analytics-writer (the three services as processes on the real servers):
// writes and reads go on, the writer retries and its failures show in its
// metrics, and once ClickHouse is back it holds every statement exactly once.
func TestClickHouseOutageDoesNotReachIngest(t *testing.T) {
	testenv.ForEachClickHouseFull(t, func(t *testing.T, ch string) {
		brokers := testenv.KafkaBrokers(t)
		pg := testenv.PostgresDSN(t)
		bin := buildBinaries(t)
		u, err := url.Parse(ch)
		if err != nil {
			t.Fatal(err)
		}
		px := testenv.NewProxy(t, u.Host)
		viaProxy := *u
		viaProxy.Host = px.Addr()
		q := viaProxy.Query()
		q.Set("dial_timeout", "1s")
		viaProxy.RawQuery = q.Encode()

		topic := testenv.UniqueName("chdown")
		common := []string{"LRS_KAFKA_BROKERS=" + strings.Join(brokers, ","), "LRS_KAFKA_TOPIC=" + topic,
			"LRS_STORE_GROUP=" + topic + "-store", "LRS_ANALYTICS_GROUP=" + topic + "-analytics", "LRS_LOG_LEVEL=warn"}
		ingestAddr, swAddr, awAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
		startProcess(t, bin, "lrs-store-writer", append(common, "LRS_STORE_DSN="+pg, "LRS_HTTP_ADDR="+swAddr))
		startProcess(t, bin, "lrs-analytics-writer", append(common, "LRS_CLICKHOUSE_DSN="+viaProxy.String(), "LRS_HTTP_ADDR="+awAddr,
			"LRS_ANALYTICS_BATCH_WAIT=100ms", "LRS_ANALYTICS_RETRY_MAX=500ms"))
		startProcess(t, bin, "lrs-ingest", append(common, "LRS_STORE_DSN="+pg, "LRS_HTTP_ADDR="+ingestAddr,
			"LRS_BOOTSTRAP_KEY="+testKey, "LRS_BOOTSTRAP_SECRET="+testSecret))
		for _, addr := range []string{swAddr, awAddr, ingestAddr} {
			waitReady(t, addr, nil)
		}
		c := newClient(t, ingestAddr)
		conn := testenv.ClickHouseConn(t, ch)
		countIn := func() uint64 {
			var n uint64
			if err := conn.QueryRow(context.Background(), "SELECT count() FROM statements_current").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		waitCount := func(want uint64) {
			for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
				if countIn() == want {
					return
				}
			}
			t.Fatalf("ClickHouse holds %d statements, want %d", countIn(), want)
		}

		if r := c.post(statementArray(30, "attempted")); r.status != 200 {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
		waitCount(30)

		px.Down()
		for i := 0; i < 3; i++ {
			if r := c.post(statementArray(20, "completed")); r.status != 200 {
				t.Fatalf("POST while ClickHouse is down: %d %s", r.status, r.body)
			}
		}
		var page struct {
			Statements []any `json:"statements"`
		}
		c.get("?limit=500").json(t, &page)
		if len(page.Statements) != 90 {
			t.Fatalf("the store serves %d statements while ClickHouse is down, want 90", len(page.Statements))
		}
		time.Sleep(2 * time.Second)
		resp, err := http.Get("http://" + awAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(metrics), "lrs_consumer_write_failures_total") || strings.Contains(string(metrics), `lrs_consumer_write_failures_total{group="`+topic+`-analytics"} 0`) {
			t.Fatalf("the analytics-writer's failed attempts do not show in its metrics")
		}

		px.Up(t)
		waitCount(90)
		time.Sleep(time.Second)
		if n := countIn(); n != 90 {
			t.Fatalf("after catching up ClickHouse holds %d statements, want exactly 90", n)
		}
	})
}
