package service

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// sqliteIDs reads every statement id of tenant from the SQLite store at
// path, with duplicates if there were any.
func sqliteIDs(t *testing.T, path, tenant string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id FROM statements WHERE tenant = ? AND fingerprint IS NOT NULL", tenant)
	if err != nil {
		t.Fatalf("read the SQLite store: %v", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEmbeddedLRSSurvivesKill9 kills the all-in-one `lrs` (embedded broker,
// SQLite) with SIGKILL while it takes client-id writes, with
// LRS_BROKER_SYNC_WRITES on, and restarts it on the same data: every
// acknowledged statement reaches the store exactly once.
func TestEmbeddedLRSSurvivesKill9(t *testing.T) {
	began := time.Now()
	bin := buildBinaries(t)
	t.Logf("built in %v", time.Since(began).Round(100*time.Millisecond))
	dir := t.TempDir()
	db := filepath.Join(dir, "lrs.db")
	addr := testenv.FreeAddr(t)
	env := []string{"LRS_HTTP_ADDR=" + addr, "LRS_STORE_DSN=sqlite:" + db, "LRS_BROKER_DIR=" + filepath.Join(dir, "broker"),
		"LRS_BROKER_SYNC_WRITES=true", "LRS_BOOTSTRAP_KEY=" + testKey, "LRS_BOOTSTRAP_SECRET=" + testSecret, "LRS_LOG_LEVEL=warn"}
	p := startProcess(t, bin, "lrs", env)
	waitReady(t, addr, nil)
	load := newLoader(t, []string{addr}, 4)
	for round := 0; round < 3; round++ {
		load.start()
		time.Sleep(3 * time.Second)
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		errs, _ := load.stop()
		restarted := time.Now()
		p = startProcess(t, bin, "lrs", env)
		waitReady(t, addr, nil)
		t.Logf("round %d: killed under load (answers other than success: %v); restarted and ready in %v",
			round, errs, time.Since(restarted).Round(100*time.Millisecond))
	}
	load.start()
	time.Sleep(2 * time.Second)
	if errs, _ := load.stop(); len(errs) > 0 {
		t.Errorf("after the restart the LRS answered errors: %v", errs)
	}
	acked, maybe := load.snapshot()
	var problem string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if problem = exactlyOnce(acked, maybe, sqliteIDs(t, db, "default")); problem == "" {
			break
		}
	}
	p.stop(t)
	if problem != "" {
		t.Fatalf("after 3 SIGKILLs under load: %s", problem)
	}
	t.Logf("%d acknowledged statements, each stored exactly once after 3 SIGKILLs", len(acked))
}
