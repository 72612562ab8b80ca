package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/lifecycle"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestErasureEverywhere runs lrs-ingest, lrs-store-writer and
// lrs-analytics-writer on the real Kafka (3 partitions), PostgreSQL and
// ClickHouse. A learner is erased: afterwards no statement naming her (as
// actor, instructor, Group member), no attachment and none of her documents
// is left in the store or ClickHouse, and the others' statements are. A
// second learner is erased while both writers are down: they erase her when
// they come back. Then the topic is replayed from its start into a fresh
// SQLite store and a fresh ClickHouse database: neither learner comes back.
func TestErasureEverywhere(t *testing.T) {
	brokers := strings.Join(testenv.KafkaBrokers(t), ",")
	pg := testenv.PostgresDSN(t)
	ch := testenv.ClickHouseDSN(t)
	bin := buildBinaries(t)
	topic := testenv.UniqueName("xapi")
	common := []string{"LRS_KAFKA_BROKERS=" + brokers, "LRS_KAFKA_TOPIC=" + topic, "LRS_KAFKA_PARTITIONS=3", "LRS_LOG_FORMAT=json",
		"LRS_STORE_GROUP=" + topic + "-store", "LRS_ANALYTICS_GROUP=" + topic + "-analytics"}
	writers := func(storeDSN, chDSN string, groups ...string) (sw, aw *process) {
		swAddr, awAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
		sw = startProcess(t, bin, "lrs-store-writer", append(append(common, "LRS_STORE_DSN="+storeDSN, "LRS_HTTP_ADDR="+swAddr), groups...))
		aw = startProcess(t, bin, "lrs-analytics-writer", append(append(common, "LRS_CLICKHOUSE_DSN="+chDSN, "LRS_HTTP_ADDR="+awAddr), groups...))
		waitReady(t, swAddr, nil)
		waitReady(t, awAddr, nil)
		return sw, aw
	}
	sw, aw := writers(pg, ch)
	ingestAddr := testenv.FreeAddr(t)
	startProcess(t, bin, "lrs-ingest", append(common, "LRS_STORE_DSN="+pg, "LRS_CLICKHOUSE_DSN="+ch, "LRS_HTTP_ADDR="+ingestAddr,
		"LRS_BOOTSTRAP_KEY="+testKey, "LRS_BOOTSTRAP_SECRET="+testSecret, "LRS_ADMIN_TOKEN="+testAdminToken))
	waitReady(t, ingestAddr, nil)
	c := newClient(t, ingestAddr)
	adm := adminClient{t: t, base: "http://" + ingestAddr + "/admin"}
	conn := testenv.ClickHouseConn(t, ch)

	post := func(stmts ...string) []string {
		t.Helper()
		return postIDs(t, c, "["+strings.Join(stmts, ",")+"]")
	}
	const ana, dana = `{"mbox":"mailto:ana@example.com"}`, `{"mbox":"mailto:dana@example.com"}`
	verb := `"verb":{"id":"http://adlnet.gov/expapi/verbs/attended"},"object":{"id":"http://example.com/class"}`
	anaIDs := post(statement("ana", "completed", "course-1"), statement("ana", "passed", "course-1"),
		`{"actor":{"mbox":"mailto:bob@example.com"},`+verb+`,"context":{"instructor":`+ana+`}}`,
		`{"actor":{"objectType":"Group","member":[{"mbox":"mailto:eve@example.com"},`+ana+`]},`+verb+`}`)
	anaIDs = append(anaIDs, postAttached(t, c, []byte("ana's certificate"))...)
	others := post(statement("carl", "completed", "course-1"), statement("bob", "completed", "course-2"))
	docs := []string{
		"/activities/state?activityId=" + url.QueryEscape("http://example.com/class") + "&agent=" + url.QueryEscape(ana) + "&stateId=bookmark",
		"/agents/profile?agent=" + url.QueryEscape(ana) + "&profileId=preferences",
	}
	for _, d := range docs {
		if r := c.do(http.MethodPut, d, "application/json", []byte(`{"page":3}`), "If-None-Match", "*"); r.status != http.StatusNoContent {
			t.Fatalf("PUT %s: %d %s", d, r.status, r.body)
		}
	}
	waitCH := func(what string, ids []string, want uint64) {
		t.Helper()
		var n uint64
		waitExplained(t, time.Minute, what, func() bool {
			if err := conn.QueryRow(context.Background(), "SELECT uniqExact(statement_id) FROM statements WHERE toString(statement_id) IN ('"+strings.Join(ids, "','")+"')").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == want
		}, func() string { return fmt.Sprintf("ClickHouse holds %d of them", n) })
	}
	waitCH("ClickHouse to hold every statement", append(anaIDs, others...), uint64(len(anaIDs)+len(others)))

	var dry lifecycle.Erasure
	adm.do(http.MethodPost, "/tenants/default/erasures", map[string]any{"agent": json.RawMessage(ana), "dryRun": true}, http.StatusOK, &dry)
	if want := (store.ErasureCounts{Statements: len(anaIDs), Attachments: 1, Documents: 2}); dry.Counts == nil || dry.Counts.Store != want || !dry.Counts.StoreCaughtUp {
		t.Fatalf("dry run counts %+v, want %+v in a caught-up store", dry.Counts, want)
	}
	if a := dry.Counts.Analytics; a == nil || a.Statements != len(anaIDs) || len(a.Months) != 1 {
		t.Fatalf("dry run counts in ClickHouse %+v (%s), want %d statements in this month", a, dry.Counts.AnalyticsError, len(anaIDs))
	}
	var erased lifecycle.Erasure
	adm.do(http.MethodPost, "/tenants/default/erasures", map[string]any{"agent": json.RawMessage(ana), "requestedBy": "ticket 1"}, http.StatusAccepted, &erased)
	if erased.Copies != 3 {
		t.Fatalf("erasure published %d copies, want one per partition", erased.Copies)
	}
	applied := func(id string) func() bool {
		return func() bool {
			var l struct{ Erasures []store.ErasureRecord }
			adm.do(http.MethodGet, "/tenants/default/erasures", nil, http.StatusOK, &l)
			for _, e := range l.Erasures {
				if e.ID == id {
					return e.Copies == 3
				}
			}
			return false
		}
	}
	waitUntil(t, time.Minute, "the store-writer to apply every copy of the erasure", applied(erased.ID))
	waitCH("ClickHouse to erase ana", anaIDs, 0)
	gone := func(ids []string) {
		t.Helper()
		for _, id := range ids {
			if r := c.get("?statementId=" + id); r.status != http.StatusNotFound {
				t.Fatalf("erased statement %s: %d %s", id, r.status, r.body)
			}
		}
	}
	gone(anaIDs)
	for _, id := range others {
		if r := c.get("?statementId=" + id); r.status != http.StatusOK {
			t.Fatalf("statement %s of another learner: %d %s", id, r.status, r.body)
		}
	}
	if r := c.get("?agent=" + url.QueryEscape(ana) + "&related_agents=true"); r.status != http.StatusOK || strings.Contains(string(r.body), `"id"`) {
		t.Fatalf("GET by the erased agent: %d %s", r.status, r.body)
	}
	for _, d := range docs {
		if r := c.do(http.MethodGet, d, "", nil); r.status != http.StatusNotFound {
			t.Fatalf("GET %s after the erasure: %d %s", d, r.status, r.body)
		}
	}
	waitCH("ClickHouse to keep the others", others, uint64(len(others)))

	// Both writers down: the API still takes statements and the erasure.
	sw.stop(t)
	aw.stop(t)
	danaIDs := post(statement("dana", "completed", "course-1"), statement("dana", "failed", "course-2"))
	adm.do(http.MethodPost, "/tenants/default/erasures", map[string]any{"agent": json.RawMessage(dana)}, http.StatusAccepted, &erased)
	others = append(others, post(statement("carl", "passed", "course-3"))...)
	writers(pg, ch)
	waitUntil(t, time.Minute, "the restarted store-writer to apply the erasure", applied(erased.ID))
	waitCH("the restarted analytics-writer to write what came after", others, uint64(len(others)))
	waitCH("ClickHouse to erase dana", danaIDs, 0)
	gone(danaIDs)

	// A replay of the whole topic into a fresh SQLite store and ClickHouse.
	replayDB := filepath.Join(t.TempDir(), "replay.db")
	replayCH := testenv.AnotherClickHouseDatabase(t, ch)
	writers("sqlite:"+replayDB, replayCH, "LRS_STORE_GROUP="+topic+"-replay-store", "LRS_ANALYTICS_GROUP="+topic+"-replay-analytics")
	replayConn := testenv.ClickHouseConn(t, replayCH)
	conn = replayConn
	waitCH("the replay into ClickHouse to reach the end", others, uint64(len(others)))
	waitCH("the replay into ClickHouse to leave both learners out", append(anaIDs, danaIDs...), 0)
	st, err := store.Open(context.Background(), "sqlite:"+replayDB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitUntil(t, time.Minute, "the replay into the store to reach the end", func() bool {
		_, err := st.GetStatement(context.Background(), "default", others[len(others)-1], false)
		return err == nil
	})
	for _, id := range append(anaIDs, danaIDs...) {
		if _, err := st.GetStatement(context.Background(), "default", id, false); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the replay brought back erased statement %s (%v)", id, err)
		}
	}
}
