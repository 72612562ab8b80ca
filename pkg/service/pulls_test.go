package service

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestLRSPullsItsConfiguredSources: a source configured through the admin
// API with an interval is pulled by the lrs server itself, no `lrs pull`
// running: voided statements and attachments come too, with provenance,
// under the source's own authority; what the source stores later arrives
// at the next interval; after a restart the pull resumes from the cursor in
// the store, and every statement is stored once.
func TestLRSPullsItsConfiguredSources(t *testing.T) {
	srcAddr, _ := startLRS(t, t.TempDir())
	src := newClient(t, srcAddr)
	ids := postIDs(t, src, statementArray(30, "attempted"))
	att := postAttached(t, src, []byte("certificate pulled by the server"))
	ids = append(ids, att...)
	ids = append(ids, postIDs(t, src, refStatement("", ids[2], "voided"))...)

	dir := t.TempDir()
	pulling := []string{"-admin-token", testAdminToken, "-pull-recheck", "200ms"}
	addr, stop := startLRS(t, dir, pulling...)
	sourceURL := "http://" + srcAddr + "/xapi"
	adm := adminClient{t: t, base: "http://" + addr + "/admin"}
	adm.do(http.MethodPut, "/tenants/default/pulls/lms", admin.NewPullSource{Endpoint: sourceURL, Key: testKey, Secret: testSecret, Interval: "1s"},
		http.StatusOK, nil)

	// waitFor waits until the target lists want (all but the voided one).
	waitFor := func(addr string, want []string) {
		t.Helper()
		c := newClient(t, addr)
		var got map[string]bool
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			if got = allIDs(t, c); len(got) == len(want)-1 {
				break
			}
		}
		for i, id := range want {
			if got[id] != (i != 2) {
				t.Fatalf("statement %d (%s) listed %v on the target (%d listed, want %d)", i, id, got[id], len(got), len(want)-1)
			}
		}
	}
	waitFor(addr, ids)
	c := newClient(t, addr)
	if r := c.get("?voidedStatementId=" + ids[2]); r.status != http.StatusOK {
		t.Fatalf("the voided statement on the target: %d %s", r.status, r.body)
	}
	if r := c.get("?statementId=" + att[0] + "&attachments=true"); r.status != http.StatusOK ||
		!bytes.Contains(r.body, []byte("certificate pulled by the server")) {
		t.Fatalf("the pulled statement's attachment on the target: %d %s", r.status, r.body)
	}
	var s struct {
		Authority json.RawMessage `json:"authority"`
	}
	c.get("?statementId="+ids[0]).json(t, &s)
	jsonEqual(t, s.Authority, string(auth.AuthorityFor("pull:lms", "pull lms")))
	if n := metric(t, addr, `lrs_pull_statements_total{result="accepted",source="lms",tenant="default"}`); n < float64(len(ids)) {
		t.Fatalf("lrs_pull_statements_total accepted = %v, want at least %d", n, len(ids))
	}

	// Later statements come at the next interval.
	ids = append(ids, postIDs(t, src, statementArray(10, "completed"))...)
	waitFor(addr, ids)

	// Stopped, the target misses what the source stores meanwhile, and
	// fetches it once it runs again.
	stop()
	ids = append(ids, postIDs(t, src, statementArray(10, "passed"))...)
	addr, _ = startLRS(t, dir, pulling...)
	waitFor(addr, ids)

	dsn := "sqlite:" + filepath.Join(dir, "lrs.db")
	var rows int
	if err := sqlCount(t, dsn, &rows); err != nil || rows != len(ids) {
		t.Fatalf("the target's store holds %d statements, %v; want %d, each once", rows, err, len(ids))
	}
	st, err := store.Open(testenv.Context(t, time.Minute), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{ids[0], ids[2], att[0], ids[len(ids)-1]} {
		r := src.get("?statementId=" + id)
		if id == ids[2] {
			r = src.get("?voidedStatementId=" + id)
		}
		var s struct {
			Stored time.Time `json:"stored"`
		}
		r.json(t, &s)
		wantProvenance(t, st, id, sourceURL, s.Stored)
	}
}
