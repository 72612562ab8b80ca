package forwarding

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

const (
	topic   = "xapi.statements"
	passed  = "http://adlnet.gov/expapi/verbs/passed"
	failed  = "http://adlnet.gov/expapi/verbs/failed"
	testTen = "acme"
)

// rig is a forwarder on kfake and SQLite, with a producer of records.
type rig struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	rules *Rules
	prod  *kgo.Client
	seeds []string
}

func newRig(t *testing.T, partitions int32) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lrs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{testTen, "other"} {
		if err := st.CreateTenant(ctx, store.Tenant{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	rules, _ := NewRules(st)
	return &rig{t: t, ctx: ctx, st: st, rules: rules, prod: prod, seeds: c.ListenAddrs()}
}

// start runs a forwarder until the test ends.
func (r *rig) start(name string) {
	r.t.Helper()
	cfg := Config{Group: "fwd-test", BatchStatements: 20, BatchBytes: 1 << 20, BatchWait: 20 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Timeout: 5 * time.Second, RulesInterval: 100 * time.Millisecond}
	log := zaptest.NewLogger(r.t, zaptest.Level(zap.WarnLevel)).Named(name)
	f, err := New(cfg, topic, r.st, func(opts ...kgo.Opt) (*kgo.Client, error) {
		return kgo.NewClient(append(opts, kgo.SeedBrokers(r.seeds...))...)
	}, log, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	r.t.Cleanup(func() { cancel(); <-done })
}

// statement returns a statement JSON of verb with a new id.
func statement(verb string) (string, json.RawMessage) {
	id := uuid.NewString()
	return id, json.RawMessage(fmt.Sprintf(`{"id":%q,"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":%q},"object":{"id":"http://example.com/course"},"stored":"2026-12-02T09:30:00.123Z","version":"1.0.0"}`, id, verb))
}

// publish writes one record of statements to partition p.
func (r *rig) publish(p int32, tenant string, stmts ...json.RawMessage) {
	r.t.Helper()
	b := stream.Batch{Tenant: tenant}
	for _, s := range stmts {
		var v struct{ ID string }
		_ = json.Unmarshal(s, &v)
		b.Statements = append(b.Statements, stream.Statement{ID: v.ID, Stored: time.Now(), Fingerprint: "f", Statement: s})
	}
	rec, err := b.Record(topic)
	if err != nil {
		r.t.Fatal(err)
	}
	rec.Partition = p
	if err := r.prod.ProduceSync(r.ctx, rec).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
}

// receiver is a webhook that checks signatures and keeps what it took, in
// order; answer, when set, may refuse a request.
type receiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []string // statement ids
	calls  int
	answer func(ids []string) int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.calls++
		sig := req.Header.Get(SignatureHeader)
		ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
		unix, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || rc.secret == "" || sig != Sign(rc.secret, time.Unix(unix, 0), body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var wb WebhookBody
		if err := json.Unmarshal(body, &wb); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ids := make([]string, len(wb.Statements))
		for i, s := range wb.Statements {
			var v struct{ ID string }
			_ = json.Unmarshal(s, &v)
			ids[i] = v.ID
		}
		if rc.answer != nil {
			if code := rc.answer(ids); code != 0 {
				w.Header().Set("Retry-After", "0")
				http.Error(w, fmt.Sprintf("refused %v", ids), code)
				return
			}
		}
		rc.got = append(rc.got, ids...)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *receiver) setAnswer(f func([]string) int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = f
}

func (r *rig) webhookRule(rc *receiver, name string, f Filter) {
	r.t.Helper()
	rule, err := r.rules.Create(r.ctx, testTen, Spec{Name: name, Filter: f, Target: Target{Type: TargetWebhook, URL: rc.srv.URL}, Start: "beginning"})
	if err != nil {
		r.t.Fatal(err)
	}
	if rule.Target.Secret == "" {
		r.t.Fatal("a new webhook rule's answer holds no secret")
	}
	rc.mu.Lock()
	rc.secret = rule.Target.Secret
	rc.mu.Unlock()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookFilterOrderAndRetries: the rule's statements (by verb, of its
// tenant, statements.v1 only) reach the webhook signed, once each and in
// order per partition, through a stretch of 503s; the status counts them.
func TestWebhookFilterOrderAndRetries(t *testing.T) {
	r := newRig(t, 2)
	rc := newReceiver(t)
	r.webhookRule(rc, "passes", Filter{Verb: passed})
	var failing sync.Mutex
	refusals := 0
	rc.setAnswer(func([]string) int {
		failing.Lock()
		defer failing.Unlock()
		if refusals < 5 {
			refusals++
			return http.StatusServiceUnavailable
		}
		return 0
	})
	r.start("f1")
	want := map[int32][]string{}
	for i := range 60 {
		p := int32(i % 2)
		id, s := statement(passed)
		_, other := statement(failed)
		r.publish(p, testTen, s, other)
		want[p] = append(want[p], id)
		_, foreign := statement(passed)
		r.publish(p, "other", foreign)
	}
	// A record of another format (erasure events) is skipped, not fatal.
	if err := r.prod.ProduceSync(r.ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(`{"tenant":"acme","erase":{}}`),
		Headers: []kgo.RecordHeader{{Key: stream.FormatHeader, Value: []byte("erasure.v1")}, {Key: stream.TenantHeader, Value: []byte(testTen)}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	id, s := statement(passed)
	r.publish(0, testTen, s)
	want[0] = append(want[0], id)

	waitFor(t, "61 statements", func() bool { return len(rc.ids()) >= 61 })
	got := rc.ids()
	if len(got) != 61 {
		t.Fatalf("webhook got %d statements, want 61", len(got))
	}
	pos := map[string]int{}
	for i, id := range got {
		if _, dup := pos[id]; dup {
			t.Fatalf("statement %s delivered twice", id)
		}
		pos[id] = i
	}
	for p, ids := range want {
		for i, id := range ids {
			if _, ok := pos[id]; !ok {
				t.Fatalf("statement %s of partition %d never delivered", id, p)
			}
			if i > 0 && pos[id] < pos[ids[i-1]] {
				t.Fatalf("partition %d delivered out of order", p)
			}
		}
	}
	waitFor(t, "the status", func() bool {
		st, err := r.rules.Get(r.ctx, testTen, "passes")
		return err == nil && st.Delivered == 61 && st.LagRecords == 0
	})
	st, _ := r.rules.Get(r.ctx, testTen, "passes")
	if st.Failed < 5 || !strings.Contains(st.LastError, "503") || st.Target.Secret != "" {
		t.Fatalf("status = %+v: want 5 failures, the last error a 503, no secret", st)
	}
}

// TestBadStatementDeadLettered: a webhook answering 400 to any batch holding
// one statement gets everything else; that one statement is a dead letter,
// and sent again on request once the target takes it.
func TestBadStatementDeadLettered(t *testing.T) {
	r := newRig(t, 1)
	rc := newReceiver(t)
	r.webhookRule(rc, "all", Filter{})
	badID, bad := statement(passed)
	rc.setAnswer(func(ids []string) int {
		if slices.Contains(ids, badID) {
			return http.StatusBadRequest
		}
		return 0
	})
	var stmts []json.RawMessage
	for i := range 30 {
		if i == 17 {
			stmts = append(stmts, bad)
			continue
		}
		_, s := statement(passed)
		stmts = append(stmts, s)
	}
	r.publish(0, testTen, stmts...)
	r.start("f1")
	waitFor(t, "29 statements", func() bool { return len(rc.ids()) >= 29 })
	var dls []DeadLetter
	waitFor(t, "the dead letter", func() bool {
		dls, _ = r.rules.DeadLetters(r.ctx, testTen, "all", 0, 10)
		return len(dls) > 0
	})
	if len(dls) != 1 || dls[0].StatementID != badID || dls[0].Status != 400 || !strings.Contains(dls[0].Answer, badID) {
		t.Fatalf("dead letters = %+v: want only %s, with the 400's answer", dls, badID)
	}
	if got := rc.ids(); len(got) != 29 || slices.Contains(got, badID) {
		t.Fatalf("webhook got %d statements (bad one among them: %v)", len(got), slices.Contains(got, badID))
	}
	rc.setAnswer(nil)
	if n, err := r.rules.Resend(r.ctx, testTen, "all", nil); err != nil || n != 1 {
		t.Fatalf("Resend = %d, %v", n, err)
	}
	waitFor(t, "the resent statement", func() bool { return slices.Contains(rc.ids(), badID) })
	waitFor(t, "the dead letter gone", func() bool {
		dls, _ = r.rules.DeadLetters(r.ctx, testTen, "all", 0, 10)
		return len(dls) == 0
	})
}

// TestPauseResumeRewind: a paused rule delivers nothing and resumes where it
// stood; a rewind to the beginning delivers everything again.
func TestPauseResumeRewind(t *testing.T) {
	r := newRig(t, 1)
	rc := newReceiver(t)
	r.webhookRule(rc, "all", Filter{})
	r.start("f1")
	var first []string
	for range 5 {
		id, s := statement(passed)
		r.publish(0, testTen, s)
		first = append(first, id)
	}
	waitFor(t, "5 statements", func() bool { return len(rc.ids()) == 5 })
	if _, err := r.rules.SetPaused(r.ctx, testTen, "all", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // the forwarder sees the pause
	id, s := statement(passed)
	r.publish(0, testTen, s)
	time.Sleep(400 * time.Millisecond)
	if n := len(rc.ids()); n != 5 {
		t.Fatalf("a paused rule delivered: %d statements", n)
	}
	if _, err := r.rules.SetPaused(r.ctx, testTen, "all", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the statement sent while paused", func() bool { return len(rc.ids()) == 6 })
	if got := rc.ids(); got[5] != id {
		t.Fatalf("after resume got %v", got)
	}
	rw, err := r.rules.Rewind(r.ctx, testTen, "all", "beginning")
	if err != nil || rw.Generation != 2 {
		t.Fatalf("Rewind = %+v, %v", rw, err)
	}
	waitFor(t, "everything again", func() bool { return len(rc.ids()) == 12 })
	if got := rc.ids(); !slices.Equal(got[6:], append(first, id)) {
		t.Fatalf("rewind delivered %v, want %v", got[6:], append(first, id))
	}
}

// TestVoidingStatementsToo: with voiding, the voiding statement of a
// selected statement is sent (in the same record or later, when the store
// does not hold the statement yet); that of a statement the store holds
// and the filter does not select is not.
func TestVoidingStatementsToo(t *testing.T) {
	r := newRig(t, 1)
	rc := newReceiver(t)
	r.webhookRule(rc, "passes", Filter{Verb: passed, Voiding: true})
	voiding := func(target string) (string, json.RawMessage) {
		id := uuid.NewString()
		return id, json.RawMessage(fmt.Sprintf(`{"id":%q,"actor":{"mbox":"mailto:admin@example.com"},"verb":{"id":%q},"object":{"objectType":"StatementRef","id":%q}}`, id, verbVoided, target))
	}
	pID, p := statement(passed)
	fID, f := statement(failed)
	// The failed statement is in the store (as the store-writer put it).
	if _, err := r.st.ApplyStatements(r.ctx, "g", []store.Statement{{Tenant: testTen, ID: fID, Stored: time.Now(), JSON: f, Fingerprint: "f"}}, nil); err != nil {
		t.Fatal(err)
	}
	vp, voidP := voiding(pID)
	vf, voidF := voiding(fID)
	p2ID, p2 := statement(passed)
	vp2, voidP2 := voiding(p2ID)
	r.publish(0, testTen, p, f, voidP)
	r.publish(0, testTen, voidF, voidP2, p2)
	r.start("f1")
	waitFor(t, "4 statements", func() bool { return len(rc.ids()) >= 4 })
	time.Sleep(300 * time.Millisecond)
	if got, want := rc.ids(), []string{pID, vp, vp2, p2ID}; !slices.Equal(got, want) {
		t.Fatalf("webhook got %v, want %v (not %s voiding %s)", got, want, vf, fID)
	}
}
