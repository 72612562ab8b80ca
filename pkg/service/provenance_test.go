package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/importer"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// importTarget starts the LRS on the real Kafka and PostgreSQL (a topic and
// database of its own) with the admin API and extra flags, and returns its
// address, its store and a credential that may import (statements/write,
// statements/read and import).
func importTarget(t *testing.T, extra ...string) (addr, dsn string, st store.Store, importing *client) {
	t.Helper()
	dsn = testenv.PostgresDSN(t)
	topic := testenv.UniqueName("xapi")
	addr, _ = startLRS(t, t.TempDir(), append([]string{"-external-kafka", "-kafka-brokers", strings.Join(testenv.KafkaBrokers(t), ","),
		"-kafka-topic", topic, "-store-group", topic + "-store", "-analytics-group", topic + "-analytics",
		"-store-dsn", dsn, "-admin-token", testAdminToken}, extra...)...)
	st, err := store.Open(testenv.Context(t, time.Minute), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	adm := adminClient{t: t, base: "http://" + addr + "/admin"}
	importing, _ = adm.credential(addr, admin.NewCredential{Tenant: auth.DefaultTenant, Label: "importer",
		Scopes: []string{auth.ScopeStatementsWrite, auth.ScopeStatementsRead, auth.ScopeImport}})
	return addr, dsn, st, importing
}

// wantProvenance checks what the store kept for a statement.
func wantProvenance(t *testing.T, st store.Store, id, source string, stored time.Time) {
	t.Helper()
	p, err := st.StatementProvenance(testenv.Context(t, time.Minute), auth.DefaultTenant, id)
	if err != nil || p.Source != source || !p.OriginalStored.Equal(stored) {
		t.Fatalf("provenance of %s in the store: %+v, %v; want %s, %v", id, p, err, source, stored)
	}
}

// TestImportKeepsProvenance imports a file through Kafka into PostgreSQL
// and ClickHouse: each statement gets this LRS's stored (as xAPI requires)
// and keeps its file and original stored time beside it, in the store and
// in ClickHouse; a credential without the import scope cannot claim any.
func TestImportKeepsProvenance(t *testing.T) {
	ch := testenv.ClickHouseDSN(t)
	addr, _, st, importing := importTarget(t, "-clickhouse-dsn", ch)

	// The bootstrap credential has scope all, which does not grant import.
	r := newClient(t, addr).do(http.MethodPost, "/statements", "application/json", []byte(statement("eve", "completed", "forged")),
		"X-LRS-Source", "https://elsewhere.example.com/xapi")
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "import") {
		t.Fatalf("X-LRS-Source without the import scope: %d %s, want 403 naming the scope", r.status, r.body)
	}
	direct := postIDs(t, importing, statement("dan", "completed", "direct"))[0]
	for _, bad := range []string{"not a url with spaces", "https://x.example.com/" + strings.Repeat("a", 2100)} {
		r := importing.do(http.MethodPost, "/statements", "application/json", []byte(statement("eve", "completed", "bad")), "X-LRS-Source", bad)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "X-LRS-Source") {
			t.Fatalf("X-LRS-Source %.30q: %d %s, want 400 naming the header", bad, r.status, r.body)
		}
	}
	// One statement by PUT keeps its provenance too.
	putID := uuid.NewString()
	putStored := time.Date(2018, 1, 2, 3, 4, 5, 600e6, time.UTC)
	r = importing.do(http.MethodPut, "/statements?statementId="+putID, "application/json",
		[]byte(`{"actor":{"mbox":"mailto:p@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/put"},"stored":"2018-01-02T03:04:05.600Z"}`),
		"X-LRS-Source", "https://old.example.com/xapi")
	if r.status != http.StatusNoContent {
		t.Fatalf("PUT with X-LRS-Source: %d %s", r.status, r.body)
	}

	dir := t.TempDir()
	orig := time.Date(2019, 6, 1, 8, 0, 0, 0, time.UTC)
	var lines []string
	var ids []string
	for i := range 120 {
		id := uuid.NewString()
		ids = append(ids, id)
		lines = append(lines, fmt.Sprintf(`{"id":"%s","actor":{"mbox":"mailto:l%d@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"http://example.com/old/%d"},"timestamp":"2019-06-01T07:00:00Z","stored":"%s"}`,
			id, i, i%5, orig.Add(time.Duration(i)*1500*time.Millisecond).Format(time.RFC3339Nano)))
	}
	file := filepath.Join(dir, "old lms.ndjson")
	writeFile(t, file, []byte(strings.Join(lines, "\n")+"\n"))
	im, err := importer.New(importer.Config{Endpoint: "http://" + addr + "/xapi", Key: importing.key, Secret: importing.secret,
		Batch: 50, Concurrency: 2, Provenance: true})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := im.Run(context.Background(), []string{file}); err != nil || p.Accepted != 120 {
		t.Fatalf("import = %+v, %v", p, err)
	}
	source := "file://" + strings.ReplaceAll(file, " ", "%20")

	// The API answers with this LRS's stored; the store keeps the original.
	r = importing.get("?statementId=" + ids[7])
	var got map[string]any
	r.json(t, &got)
	if r.status != http.StatusOK || got["stored"] == orig.Add(7*1500*time.Millisecond).Format(time.RFC3339Nano) || !strings.HasPrefix(got["stored"].(string), time.Now().UTC().Format("2006")) {
		t.Fatalf("GET the imported statement: %d %s: want this LRS's stored", r.status, r.body)
	}
	for _, i := range []int{0, 7, 119} {
		wantProvenance(t, st, ids[i], source, orig.Add(time.Duration(i)*1500*time.Millisecond))
	}
	wantProvenance(t, st, putID, "https://old.example.com/xapi", putStored)
	if _, err := st.StatementProvenance(context.Background(), auth.DefaultTenant, direct); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("provenance of a statement sent directly: %v, want none", err)
	}

	conn := testenv.ClickHouseConn(t, ch)
	var n uint64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM statements_current WHERE source = ?", source).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 120 {
			break
		}
	}
	if n != 120 {
		t.Fatalf("ClickHouse holds %d statements from %s, want 120", n, source)
	}
	var first, last time.Time
	var ms uint16
	if err := conn.QueryRow(context.Background(), "SELECT min(original_stored), max(original_stored), max(original_stored_ms) FROM statements_current WHERE source = ?", source).Scan(&first, &last, &ms); err != nil {
		t.Fatal(err)
	}
	if !first.Equal(orig) || !last.Equal(orig.Add(119*1500*time.Millisecond).Truncate(time.Second)) || ms != 500 {
		t.Fatalf("ClickHouse original_stored from %v to %v (ms up to %d), want %v to %v", first, last, ms, orig, orig.Add(119*1500*time.Millisecond))
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM statements_current WHERE source = '' AND original_stored IS NULL AND statement_id = ?", direct).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
	}
	if n != 1 {
		t.Fatal("ClickHouse lacks the statement sent directly, without provenance")
	}
}

// TestPullCursorInTheStore pulls one StreamLRS into another whose store
// keeps the pull's position and the source's configuration (admin API):
// interrupted, then resumed by `lrs pull -store-dsn`, nothing is lost or
// doubled; voided statements and attachments come along, and each
// statement keeps the source and its stored time there.
func TestPullCursorInTheStore(t *testing.T) {
	srcAddr, _ := startLRS(t, t.TempDir())
	src := newClient(t, srcAddr)
	var ids []string
	for range 8 {
		ids = append(ids, postIDs(t, src, statementArray(25, "attempted"))...)
		time.Sleep(5 * time.Millisecond)
	}
	content := []byte("certificate pulled with its statement")
	att := postAttached(t, src, content)
	ids = append(ids, att...)
	voider := postIDs(t, src, refStatement("", ids[3], "voided"))[0]

	addr, dsn, st, importing := importTarget(t)
	sourceURL := "http://" + srcAddr + "/xapi"
	adm := adminClient{t: t, base: "http://" + addr + "/admin"}
	adm.do(http.MethodPut, "/tenants/default/pulls/first-lrs", admin.NewPullSource{Endpoint: sourceURL, Key: testKey, Secret: testSecret},
		http.StatusOK, nil)

	// A first pull through the library, stopped after 80 statements.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	im, err := importer.New(importer.Config{Endpoint: "http://" + addr + "/xapi", Key: importing.key, Secret: importing.secret,
		Batch: 40, Concurrency: 1, Provenance: true, Cursors: st, Tenant: auth.DefaultTenant,
		ProgressEvery: time.Nanosecond, Progress: func(p importer.Progress) {
			if p.Accepted >= 80 {
				cancel()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := im.Pull(ctx, importer.Source{Endpoint: sourceURL, Key: testKey, Secret: testSecret, PageSize: 40}); err == nil {
		t.Fatalf("interrupted pull = %+v, nil error: it was not interrupted", p)
	}
	pos, err := st.PullCursor(context.Background(), auth.DefaultTenant, sourceURL)
	if err != nil || pos.IsZero() {
		t.Fatalf("position after the interrupted pull: %v, %v; want one in the store", pos, err)
	}
	if n := len(allIDs(t, importing)); n >= 200 {
		t.Fatalf("the interrupted pull delivered %d statements already", n)
	}

	// The rest through the command, from the configured source and the
	// position in the store.
	var out strings.Builder
	rejects := filepath.Join(t.TempDir(), "rejects.ndjson")
	args := []string{"-store-dsn", dsn, "-endpoint", "http://" + addr + "/xapi", "-key", importing.key, "-secret", importing.secret,
		"-state", "", "-rejects", rejects, "-batch", "40"}
	if err := importer.RunPull(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatalf("lrs pull -store-dsn: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), sourceURL) || !strings.Contains(out.String(), "0 rejected, 0 conflicts") {
		b, _ := os.ReadFile(rejects)
		t.Fatalf("lrs pull said:\n%s\nrejects: %s", out.String(), b)
	}
	got := allIDs(t, importing)
	if len(got) != len(ids)-1+1 { // the voided one is not listed, its voider is
		t.Fatalf("the target lists %d statements, want %d", len(got), len(ids))
	}
	for i, id := range ids {
		if got[id] != (i != 3) {
			t.Fatalf("statement %d (%s) listed %v on the target", i, id, got[id])
		}
	}
	if r := importing.get("?voidedStatementId=" + ids[3]); r.status != http.StatusOK {
		t.Fatalf("the voided statement on the target: %d %s", r.status, r.body)
	}
	var rows int
	if err := sqlCount(t, dsn, &rows); err != nil || rows != len(ids)+1 {
		t.Fatalf("the target's store holds %d statements, %v; want %d, each once", rows, err, len(ids)+1)
	}

	// Provenance: the source's URL and its stored time.
	for _, id := range []string{ids[0], ids[3], att[0], voider} {
		r := src.get("?statementId=" + id)
		if id == ids[3] {
			r = src.get("?voidedStatementId=" + id)
		}
		var s map[string]any
		r.json(t, &s)
		stored, err := time.Parse(time.RFC3339Nano, s["stored"].(string))
		if err != nil {
			t.Fatal(err)
		}
		wantProvenance(t, st, id, sourceURL, stored)
	}
	if after, _ := st.PullCursor(context.Background(), auth.DefaultTenant, sourceURL); !after.After(pos) {
		t.Fatalf("position %v after the resumed pull, %v before", after, pos)
	}
	var listed []admin.PullSource
	adm.do(http.MethodGet, "/tenants/default/pulls", nil, http.StatusOK, &listed)
	if len(listed) != 1 || listed[0].Position == nil {
		t.Fatalf("admin listing of the pull sources: %+v, want the position", listed)
	}

	// The attachment came with its statement.
	r := importing.get("?statementId=" + att[0] + "&attachments=true")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), string(content)) {
		t.Fatalf("the pulled statement's attachment on the target: %d %s", r.status, r.body)
	}
	mt, params, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		t.Fatalf("attachments=true answered %s", mt)
	}
	mr := multipart.NewReader(strings.NewReader(string(r.body)), params["boundary"])
	var parts int
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		if parts == 1 && (string(b) != string(content) || p.Header.Get("X-Experience-API-Hash") != sha(content)) {
			t.Fatalf("attachment part: %q with hash %s", b, p.Header.Get("X-Experience-API-Hash"))
		}
		parts++
	}
	if parts != 2 {
		t.Fatalf("%d parts, want the statement and its attachment", parts)
	}
}

// sqlCount counts the default tenant's statements in the store at dsn
// (placeholders are not statements).
func sqlCount(t *testing.T, dsn string, n *int) error {
	t.Helper()
	c := 0
	st, err := store.Open(testenv.Context(t, time.Minute), dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	err = st.ScanStatementKeys(testenv.Context(t, time.Minute), func(k store.StatementKey) error {
		if k.Tenant == auth.DefaultTenant {
			c++
		}
		return nil
	})
	*n = c
	return err
}

// TestPullFromLearningLockerKeepsProvenance pulls from Learning Locker's
// xAPI statements service into the LRS on Kafka, PostgreSQL and
// ClickHouse, interrupted and resumed from the position in the store:
// every statement arrives once, with its attachment, and keeps Learning
// Locker's URL and stored time in the store and in ClickHouse.
func TestPullFromLearningLockerKeepsProvenance(t *testing.T) {
	source := testenv.LearningLockerURL(t)
	ch := testenv.ClickHouseDSN(t)
	ll := &client{t: t, base: source, key: "any", secret: "any", version: "1.0.3"}
	since := time.Now().Add(-time.Second) // Learning Locker is shared: only this test's statements
	var ids []string
	for range 3 {
		ids = append(ids, postIDs(t, ll, statementArray(60, "experienced"))...)
	}
	content := []byte("certificate kept by Learning Locker")
	att := postAttached(t, ll, content)
	ids = append(ids, att...)
	postIDs(t, ll, refStatement("", ids[5], "voided"))

	addr, _, st, importing := importTarget(t, "-clickhouse-dsn", ch)
	src := importer.Source{Endpoint: source, Key: "any", Secret: "any", PageSize: 50, Since: since}
	cfg := importer.Config{Endpoint: "http://" + addr + "/xapi", Key: importing.key, Secret: importing.secret,
		Batch: 50, Concurrency: 1, Provenance: true, Cursors: st, Tenant: auth.DefaultTenant}
	if _, p := pullInterruptedThenResumed(t, cfg, src, 60); p.Rejected+p.Conflicts != 0 {
		t.Fatalf("resumed pull = %+v: want nothing refused", p)
	}
	got := allIDs(t, importing)
	for i, id := range ids {
		if got[id] != (i != 5) {
			t.Fatalf("statement %d (%s) listed %v after the pull", i, id, got[id])
		}
	}
	for _, id := range []string{ids[0], ids[5], att[0]} {
		r := ll.get("?statementId=" + id)
		if id == ids[5] {
			r = ll.get("?voidedStatementId=" + id)
		}
		var s map[string]any
		r.json(t, &s)
		stored, err := time.Parse(time.RFC3339Nano, s["stored"].(string))
		if err != nil {
			t.Fatal(err)
		}
		wantProvenance(t, st, id, source, stored)
	}
	if r := importing.get("?statementId=" + att[0] + "&attachments=true"); r.status != http.StatusOK || !strings.Contains(string(r.body), string(content)) {
		t.Fatalf("the attachment pulled from Learning Locker: %d %s", r.status, r.body)
	}

	// In ClickHouse: every pulled statement once, with its provenance.
	conn := testenv.ClickHouseConn(t, ch)
	var rows, distinct, withStored uint64
	want := uint64(len(ids) + 1) // and the voiding statement
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(statement_id), countIf(original_stored IS NOT NULL) FROM statements_all WHERE source = ?", source).
			Scan(&rows, &distinct, &withStored); err != nil {
			t.Fatal(err)
		}
		if distinct >= want {
			break
		}
	}
	if distinct < want || rows != distinct || withStored != rows {
		t.Fatalf("ClickHouse: %d rows from Learning Locker, %d statements, %d with their original stored; want at least %d, each once, all with it", rows, distinct, withStored, want)
	}
}
