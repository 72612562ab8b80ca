package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestClientIDsWhileTheStoreWriterIsStopped runs two ingest instances and
// the analytics-writer on the real servers with no store-writer: writes with
// client-chosen ids are acknowledged, and retries of them (same content, on
// either instance) publish no second copy. A conflict that only the
// store-writer can find (the second instance's index is one entry too small
// and has dropped the first write) is dead-lettered and listed by the admin
// API with both fingerprints. Once the store-writer runs, the store and ClickHouse hold
// every statement exactly once.
func TestClientIDsWhileTheStoreWriterIsStopped(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	pg := testenv.PostgresDSN(t)
	ch := testenv.ClickHouseDSN(t)
	bin := buildBinaries(t)
	topic := testenv.UniqueName("retry")
	// One partition: the index evicts in offset order, which the late
	// conflict below relies on.
	common := []string{"LRS_KAFKA_PARTITIONS=1", "LRS_KAFKA_BROKERS=" + strings.Join(brokers, ","), "LRS_KAFKA_TOPIC=" + topic,
		"LRS_STORE_GROUP=" + topic + "-store", "LRS_ANALYTICS_GROUP=" + topic + "-analytics", "LRS_LOG_LEVEL=warn"}
	ingest := append(common, "LRS_STORE_DSN="+pg, "LRS_BOOTSTRAP_KEY="+testKey, "LRS_BOOTSTRAP_SECRET="+testSecret,
		"LRS_ADMIN_TOKEN="+testAdminToken)
	const n = 40
	a, b, aw, sw := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	startProcess(t, bin, "lrs-analytics-writer", append(common, "LRS_CLICKHOUSE_DSN="+ch, "LRS_HTTP_ADDR="+aw, "LRS_ANALYTICS_BATCH_WAIT=100ms"))
	startProcess(t, bin, "lrs-ingest", append(ingest, "LRS_HTTP_ADDR="+a))
	waitReady(t, a, nil) // a creates the tenant and credential first
	startProcess(t, bin, "lrs-ingest", append(ingest, "LRS_HTTP_ADDR="+b, "LRS_CONFLICT_INDEX_MAX="+strconv.Itoa(n+1)))
	waitReady(t, aw, nil)
	waitReady(t, b, nil)
	ca, cb := newClient(t, a), newClient(t, b)
	late := uuid.NewString()
	if r := ca.post(withID(late, statement("ann", "completed", "course"))); r.status != 200 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}

	ids := make([]string, n)
	var batch []string
	for i := range ids {
		ids[i] = uuid.NewString()
		batch = append(batch, withID(ids[i], statement(fmt.Sprintf("learner%d", i), "completed", "course")))
	}
	body := "[" + strings.Join(batch, ",") + "]"
	for i, c := range []*client{ca, ca, cb, ca} { // the first write, then retries
		if r := c.post(body); r.status != 200 {
			t.Fatalf("POST %d of the batch: %d %s", i, r.status, r.body)
		}
	}
	for i, c := range []*client{ca, cb, cb} { // a PUT and its retries
		if r := c.do("PUT", "/statements?statementId="+ids[0], "application/json", []byte(batch[0])); r.status != 204 {
			t.Fatalf("PUT %d of a stored id, same content: %d %s", i, r.status, r.body)
		}
	}
	for _, c := range []*client{ca, cb} {
		if r := c.post(withID(ids[1], statement("learner1", "failed", "course"))); r.status != 409 {
			t.Fatalf("other content under an acknowledged id: %d %s, want 409", r.status, r.body)
		}
	}
	// b's index is full (late and the batch); one more write evicts late,
	// and with the store unable to answer, b accepts the conflict.
	if r := ca.post(statement("filler", "attempted", "course")); r.status != 200 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	if r := cb.post(withID(late, statement("ann", "failed", "course"))); r.status != 200 {
		t.Fatalf("a conflict only the store-writer can find: %d %s, want 200 (accepted unchecked)", r.status, r.body)
	}

	startProcess(t, bin, "lrs-store-writer", append(common, "LRS_STORE_DSN="+pg, "LRS_HTTP_ADDR="+sw))
	waitReady(t, sw, nil)
	const want = n + 2 // the batch, one copy of late and the filler
	var page struct {
		Statements []struct {
			ID   string `json:"id"`
			Verb struct {
				ID string `json:"id"`
			} `json:"verb"`
		} `json:"statements"`
	}
	ca.get("?limit=500").json(t, &page) // waits for the store to apply what the topic held
	if len(page.Statements) != want {
		t.Fatalf("the store holds %d statements, want %d", len(page.Statements), want)
	}
	// With one partition the store-writer applies the copies of late in
	// the order they were acknowledged, and keeps the first.
	kept := ""
	for _, s := range page.Statements {
		if s.ID == late {
			kept = s.Verb.ID
		}
	}
	if !strings.HasSuffix(kept, "/completed") {
		t.Fatalf("the store kept %q of %s, want the first copy (completed)", kept, late)
	}

	conn := testenv.ClickHouseConn(t, ch)
	count := func(q string) uint64 {
		var got uint64
		if err := conn.QueryRow(context.Background(), q, ids).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	var raw, final, current uint64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if final = count("SELECT count() FROM statements FINAL WHERE has(?, toString(statement_id))"); final >= n {
			break
		}
	}
	raw = count("SELECT count() FROM statements WHERE has(?, toString(statement_id))")
	current = count("SELECT count() FROM statements_current WHERE has(?, toString(statement_id))")
	if raw != n || final != n || current != n {
		t.Fatalf("ClickHouse rows of the %d statements sent 4 times: %d raw, %d FINAL, %d in statements_current; want %d each",
			n, raw, final, current, n)
	}

	// The late conflict: dead-lettered by the store-writer, listed by the admin API.
	var listed struct {
		Conflicts []struct {
			StatementID       string `json:"statementId"`
			Fingerprint       string `json:"fingerprint"`
			StoredFingerprint string `json:"storedFingerprint"`
		} `json:"conflicts"`
	}
	req, _ := http.NewRequest("GET", "http://"+a+"/admin/tenants/default/conflicts", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(raw2, &listed); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET conflicts: %d %s (%v)", resp.StatusCode, raw2, err)
	}
	if len(listed.Conflicts) != 1 || listed.Conflicts[0].StatementID != late ||
		len(listed.Conflicts[0].Fingerprint) != 64 || len(listed.Conflicts[0].StoredFingerprint) != 64 ||
		listed.Conflicts[0].Fingerprint == listed.Conflicts[0].StoredFingerprint {
		t.Fatalf("conflicts listed: %s; want %s with two different fingerprints (kept: %s)", raw2, late, kept)
	}
	if m := metric(t, sw, `lrs_dead_letters_total{group="`+topic+`-store",kind="conflict"}`); m != 1 {
		t.Errorf("store-writer dead letters of kind conflict = %v, want 1", m)
	}
}
