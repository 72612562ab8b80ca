package service

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/importer"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestImportIntoTheLRS imports a gzip NDJSON file and a JSON array into the
// all-in-one LRS, interrupted once and resumed, then again from scratch:
// every statement is stored once, the invalid and the conflicting ones are
// in the rejects with their positions, and the rest is not held up by them.
func TestImportIntoTheLRS(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startLRS(t, dir)
	defer stop()
	c := newClient(t, addr)

	stored := `{"id":"%s","actor":{"mbox":"mailto:held@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted"},"object":{"id":"http://example.com/held"}}`
	conflictID, sameID := uuid.NewString(), uuid.NewString()
	postIDs(t, c, "["+fmt.Sprintf(stored, conflictID)+","+fmt.Sprintf(stored, sameID)+"]")

	var lines []string
	want := map[string]bool{conflictID: true, sameID: true}
	for i := range 1500 {
		switch i {
		case 9:
			lines = append(lines, `{"actor": not json`)
		case 19:
			lines = append(lines, `{"actor":{"mbox":"mailto:a@example.com"},"object":{"id":"http://example.com/no-verb"}}`)
		case 29: // the id holds another statement
			lines = append(lines, fmt.Sprintf(`{"id":"%s","actor":{"mbox":"mailto:other@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted"},"object":{"id":"http://example.com/held"}}`, conflictID))
		case 39: // the same statement as the one stored
			lines = append(lines, fmt.Sprintf(stored, sameID))
		default:
			id := uuid.NewString()
			want[id] = true
			lines = append(lines, fmt.Sprintf(`{"id":"%s","actor":{"mbox":"mailto:l%d@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"http://example.com/lesson/%d"}}`, id, i, i%7))
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Join(lines, "\n") + "\n"))
	zw.Close()
	writeFile(t, filepath.Join(dir, "in", "a.ndjson.gz"), gz.Bytes())
	// Statements without ids get ids derived from their content and place,
	// so the two identical ones below stay two, and a second run adds none.
	var arr []string
	for i := range 300 {
		arr = append(arr, fmt.Sprintf(`{"actor":{"mbox":"mailto:n%d@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"http://example.com/lesson"}}`, i/2*2))
	}
	writeFile(t, filepath.Join(dir, "in", "b.json"), []byte("[\n"+strings.Join(arr, ",\n")+"\n]"))

	files, err := importer.Files([]string{filepath.Join(dir, "in")})
	if err != nil || len(files) != 2 {
		t.Fatalf("Files = %v, %v", files, err)
	}
	var rejects bytes.Buffer
	cfg := importer.Config{Endpoint: "http://" + addr + "/xapi", Key: testKey, Secret: testSecret, Batch: 50, Concurrency: 2,
		StatePath: filepath.Join(dir, "state.json"), Rejects: &rejects}

	// The first run is interrupted after a few hundred statements, once its
	// saved state holds some of them: the first batch, the one with the bad
	// statements, takes more round trips and may finish after the others.
	ctx, cancel := context.WithCancel(context.Background())
	first := cfg
	first.ProgressEvery = 10 * time.Millisecond
	first.Progress = func(p importer.Progress) {
		if p.Accepted >= 400 && savedDone(t, cfg.StatePath) > 0 {
			cancel()
		}
	}
	im, err := importer.New(first)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := im.Run(ctx, files)
	if err == nil || p1.Accepted >= 1800 {
		t.Fatalf("interrupted run = %+v, %v; want it stopped early with an error", p1, err)
	}

	im, err = importer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := im.Run(context.Background(), files)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if p2.Skipped == 0 || p2.Skipped+p2.Read != 1800 {
		t.Fatalf("resumed run = %+v: want the statements answered before skipped, and the rest read (1800 in all)", p2)
	}
	if p1.Rejected+p2.Rejected != 2 || p1.Conflicts+p2.Conflicts != 1 {
		t.Fatalf("rejected %d+%d, conflicts %d+%d: want 2 and 1", p1.Rejected, p2.Rejected, p1.Conflicts, p2.Conflicts)
	}
	type reject struct {
		File   string
		Index  int64
		Line   int64
		Status int
		Reason string
	}
	var got []reject
	sc := bufio.NewScanner(&rejects)
	for sc.Scan() {
		var r reject
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("rejects line %s: %v", sc.Bytes(), err)
		}
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("rejects = %+v, want 3 lines", got)
	}
	for _, r := range got {
		ok := filepath.Base(r.File) == "a.ndjson.gz" &&
			(r.Line == 10 && r.Status == 0 || r.Line == 20 && r.Status == http.StatusBadRequest && strings.Contains(r.Reason, "verb") ||
				r.Line == 30 && r.Status == http.StatusConflict)
		if !ok {
			t.Errorf("reject %+v: not one of line 10 (invalid JSON), 20 (no verb, 400) or 30 (409)", r)
		}
	}

	ids := allIDs(t, c)
	if len(ids) != len(want)+300 {
		t.Fatalf("the LRS holds %d statements, want %d (1496 + the 2 stored first + 300 without ids)", len(ids), len(want)+300)
	}
	for id := range want {
		if !ids[id] {
			t.Fatalf("statement %s missing after the import", id)
		}
	}

	// From scratch (no state): everything is sent again, and nothing added.
	os.Remove(cfg.StatePath)
	im, err = importer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p3, err := im.Run(context.Background(), files); err != nil || p3.Accepted != 1797 {
		t.Fatalf("second import = %+v, %v; want 1797 accepted again", p3, err)
	}
	if n := len(allIDs(t, c)); n != len(ids) {
		t.Fatalf("after importing again the LRS holds %d statements, want %d", n, len(ids))
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// allIDs pages through every statement of the client's tenant.
func allIDs(t *testing.T, c *client) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	r := c.get("?limit=500")
	for {
		if r.status != http.StatusOK {
			t.Fatalf("GET statements: %d %s", r.status, r.body)
		}
		var l statementList
		r.json(t, &l)
		for _, s := range l.Statements {
			ids[s["id"].(string)] = true
		}
		if l.More == "" {
			return ids
		}
		r = c.do(http.MethodGet, strings.TrimPrefix(l.More, "/xapi"), "", nil)
	}
}

// TestPullFromAnotherLRS pulls one StreamLRS's statements into another:
// voided ones included (before the statement voiding them), interrupted and
// resumed, then only what the source stored since.
func TestPullFromAnotherLRS(t *testing.T) {
	dir := t.TempDir()
	srcAddr, stopSrc := startLRS(t, filepath.Join(dir, "source"))
	defer stopSrc()
	dstAddr, stopDst := startLRS(t, filepath.Join(dir, "target"))
	defer stopDst()
	src, dst := newClient(t, srcAddr), newClient(t, dstAddr)

	// Ten requests, so that the statements have ten stored times (one
	// request's statements share one).
	var ids []string
	for range 10 {
		ids = append(ids, postIDs(t, src, statementArray(25, "attempted"))...)
		time.Sleep(5 * time.Millisecond)
	}
	postIDs(t, src, refStatement("", ids[7], "voided"))
	cfg := importer.Config{Endpoint: "http://" + dstAddr + "/xapi", Key: testKey, Secret: testSecret, Batch: 40, Concurrency: 1,
		StatePath: filepath.Join(dir, "pull.state")}
	source := importer.Source{Endpoint: "http://" + srcAddr + "/xapi", Key: testKey, Secret: testSecret, PageSize: 40,
		Overlap: time.Millisecond} // the whole test runs within a second

	im, p := pullInterruptedThenResumed(t, cfg, source, 80)
	if p.Read >= 251 || p.Rejected+p.Conflicts != 0 {
		t.Fatalf("resumed pull = %+v: want fewer than the 251 statements read again, none refused", p)
	}
	got := allIDs(t, dst)
	if len(got) != 250 { // 249 listed + the voiding statement; the voided one is not listed
		t.Fatalf("the target lists %d statements, want 250", len(got))
	}
	for i, id := range ids {
		if got[id] != (i != 7) {
			t.Fatalf("statement %d (%s) listed %v on the target", i, id, got[id])
		}
	}
	if r := dst.get("?voidedStatementId=" + ids[7]); r.status != http.StatusOK {
		t.Fatalf("the voided statement on the target: %d %s", r.status, r.body)
	}

	more := postIDs(t, src, statementArray(30, "completed"))
	if p, err := im.Pull(context.Background(), source); err != nil || p.Read >= 100 || p.Read < 30 {
		t.Fatalf("incremental pull = %+v, %v: want the 30 new statements (and at most a page before them)", p, err)
	}
	got = allIDs(t, dst)
	if len(got) != 280 || !got[more[29]] {
		t.Fatalf("after the incremental pull the target lists %d statements, want 280", len(got))
	}
}

// TestPullFromLearningLocker pulls from a real other LRS, Learning Locker's
// xAPI statements service (started by scripts/testenv), into the
// all-in-one LRS: every statement this test sent it arrives once, the voided
// one included, through an interruption and a resume.
func TestPullFromLearningLocker(t *testing.T) {
	source := testenv.LearningLockerURL(t)
	ll := &client{t: t, base: source, key: "any", secret: "any", version: "1.0.3"}
	// Learning Locker is shared and keeps what every test sent it; once it
	// holds a statement with an attachment, its unfiltered ascending
	// listing shows that statement again at the start of every page. Only
	// this test's statements are pulled.
	since := time.Now().Add(-time.Second)
	var ids []string
	for range 6 {
		ids = append(ids, postIDs(t, ll, statementArray(100, "experienced"))...)
	}
	postIDs(t, ll, refStatement("", ids[42], "voided"))

	dir := t.TempDir()
	addr, stop := startLRS(t, dir)
	defer stop()
	cfg := importer.Config{Endpoint: "http://" + addr + "/xapi", Key: testKey, Secret: testSecret, Batch: 50, Concurrency: 1,
		StatePath: filepath.Join(dir, "pull.state")}
	src := importer.Source{Endpoint: source, Key: "any", Secret: "any", PageSize: 50, Since: since}

	if _, p := pullInterruptedThenResumed(t, cfg, src, 100); p.Rejected+p.Conflicts != 0 {
		t.Fatalf("resumed pull = %+v: want nothing refused", p)
	}
	got := allIDs(t, newClient(t, addr))
	for i, id := range ids {
		if got[id] != (i != 42) {
			t.Fatalf("statement %d (%s) listed %v after the pull", i, id, got[id])
		}
	}
	if r := newClient(t, addr).get("?voidedStatementId=" + ids[42]); r.status != http.StatusOK {
		t.Fatalf("the statement voided in Learning Locker: %d %s", r.status, r.body)
	}
}

// pullInterruptedThenResumed pulls src with cfg, stopping the pull once
// after accepted statements were sent, then pulls again with the same state
// to the end; it returns the second importer and its progress.
func pullInterruptedThenResumed(t *testing.T, cfg importer.Config, src importer.Source, accepted int64) (*importer.Importer, importer.Progress) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := cfg
	first.ProgressEvery = time.Nanosecond
	first.Progress = func(p importer.Progress) {
		if p.Accepted >= accepted {
			cancel()
		}
	}
	im, err := importer.New(first)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := im.Pull(ctx, src); err == nil {
		t.Fatalf("interrupted pull = %+v, nil error: it was not interrupted", p)
	}
	if im, err = importer.New(cfg); err != nil {
		t.Fatal(err)
	}
	p, err := im.Pull(context.Background(), src)
	if err != nil {
		t.Fatalf("resumed pull: %v", err)
	}
	return im, p
}

// savedDone is how many statements an import's state file records as done.
func savedDone(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var st struct {
		Files map[string]struct{ Done int64 }
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Errorf("state file %s: %v", path, err)
	}
	var done int64
	for _, f := range st.Files {
		done += f.Done
	}
	return done
}
