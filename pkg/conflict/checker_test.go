package conflict

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// fakeTopic is a one-partition topic whose end the test moves.
type fakeTopic struct{ end, asked atomic.Int64 }

func (f *fakeTopic) Get(context.Context) (map[int32]int64, time.Time, error) {
	f.asked.Add(1)
	return map[int32]int64{0: f.end.Load()}, time.Now(), nil
}

// fakeStore holds applied statements; down makes it fail.
type fakeStore struct {
	mu    sync.Mutex
	fps   map[store.StatementKey]string
	calls int
	down  bool
	delay time.Duration
}

func (f *fakeStore) Fingerprints(ctx context.Context, keys []store.StatementKey) (map[store.StatementKey]string, error) {
	f.mu.Lock()
	f.calls++
	down, delay := f.down, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if down {
		return nil, errors.New("connection refused")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[store.StatementKey]string{}
	for _, k := range keys {
		if fp, ok := f.fps[k]; ok {
			out[k] = fp
		}
	}
	return out, nil
}

func fp(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

func sid(t *testing.T, id, content string) stream.StatementID {
	t.Helper()
	s, err := stream.ParseStatementID(id, fp(content))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type harness struct {
	t     *testing.T
	topic *fakeTopic
	store *fakeStore
	idx   *Index
	c     *Checker
}

func newHarness(t *testing.T, cfg Config) *harness {
	return newLeaseHarness(t, cfg, nil)
}

func newLeaseHarness(t *testing.T, cfg Config, lease Lease) *harness {
	var seen *Filter
	if cfg.FilterMaxMB > 0 {
		seen = NewFilter(cfg.FilterMaxMB << 20)
	}
	h := &harness{t: t, topic: &fakeTopic{}, store: &fakeStore{fps: map[store.StatementKey]string{}}, idx: NewIndex(cfg.MaxEntries, seen)}
	h.idx.start(0, 0, 0)
	if seen != nil {
		h.idx.loaded()
	}
	c, err := NewChecker(cfg, h.idx, nil, h.topic, lease, h.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	return h
}

func defaults() Config {
	return Config{Wait: 200 * time.Millisecond, LookupTimeout: 100 * time.Millisecond, MaxEntries: 1000, Lookback: time.Minute}
}

// publish appends a record of tenant's statements to the topic; the tail
// reads it at once unless the test holds it back.
func (h *harness) publish(tenant string, read bool, stmts ...stream.StatementID) int64 {
	off := h.topic.end.Add(1) - 1
	if read {
		h.idx.add(0, off, tenant, stmts)
	}
	return off
}

func (h *harness) apply(tenant, id, content string, next int64) {
	h.store.mu.Lock()
	h.store.fps[store.StatementKey{Tenant: tenant, ID: id}] = fp(content)
	h.store.mu.Unlock()
	if h.idx.seen != nil { // as the scan at start would have
		h.idx.seen.Add(tenant, uuid.MustParse(id))
	}
	h.idx.trim(map[int32]int64{0: next})
}

func (h *harness) check(tenant string, stmts ...Statement) (*Decision, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.c.Check(ctx, tenant, stmts)
}

func st(id, content string) Statement { return Statement{ID: id, Fingerprint: fp(content)} }

func TestCheckAnswers(t *testing.T) {
	inFlight, applied, other := uuid.NewString(), uuid.NewString(), uuid.NewString()
	tests := []struct {
		name      string
		stmt      Statement
		tenant    string
		wantNew   bool
		wantError bool
	}{
		{"new id", st(uuid.NewString(), "a"), "t1", true, false},
		{"acknowledged, not applied, same content", st(inFlight, "a"), "t1", false, false},
		{"acknowledged, not applied, other content", st(inFlight, "b"), "t1", false, true},
		{"applied, same content", st(applied, "a"), "t1", false, false},
		{"applied, other content", st(applied, "b"), "t1", false, true},
		{"upper-case id of an applied statement", st(strings.ToUpper(applied), "a"), "t1", false, false},
		{"same id in another tenant", st(inFlight, "b"), "t2", true, false},
		{"other tenant's applied id", st(other, "b"), "t1", true, false},
	}
	for _, filterMB := range []int{0, 1} {
		cfg := defaults()
		cfg.FilterMaxMB = filterMB
		h := newHarness(t, cfg)
		off := h.publish("t1", true, sid(t, applied, "a"))
		h.apply("t1", applied, "a", off+1)
		h.publish("t1", true, sid(t, inFlight, "a"))
		h.apply("t2", other, "a", off+1)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("filter %d MiB/%s", filterMB, tt.name), func(t *testing.T) {
				d, err := h.check(tt.tenant, tt.stmt)
				var ce *ConflictError
				if tt.wantError {
					if !errors.As(err, &ce) || ce.ID != tt.stmt.ID {
						t.Fatalf("Check = %v, %v; want a conflict on %s", d, err, tt.stmt.ID)
					}
					return
				}
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				defer d.Done()
				if d.New[0] != tt.wantNew {
					t.Fatalf("New = %v, want %v", d.New[0], tt.wantNew)
				}
			})
		}
	}
}

// A check must see everything acknowledged before it began, even when the
// tail has not read it yet: it waits for the tail, not for the store.
func TestCheckWaitsForTheTailNotTheStore(t *testing.T) {
	h := newHarness(t, defaults())
	id := uuid.NewString()
	off := h.publish("t", false, sid(t, id, "a"))
	go func() {
		time.Sleep(30 * time.Millisecond)
		h.idx.add(0, off, "t", []stream.StatementID{sid(t, id, "a")})
	}()
	start := time.Now()
	if _, err := h.check("t", st(id, "b")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("Check = %v, want a conflict found once the tail read the record", err)
	}
	if waited := time.Since(start); waited < 25*time.Millisecond {
		t.Fatalf("answered after %v, before the tail read the record", waited)
	}
}

func TestCheckWithTheStoreDown(t *testing.T) {
	h := newHarness(t, defaults())
	h.store.down = true
	inFlight := uuid.NewString()
	h.publish("t", true, sid(t, inFlight, "a"))
	// The index still answers for what the store has not applied.
	if _, err := h.check("t", st(inFlight, "b")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("Check = %v, want a conflict from the index", err)
	}
	d, err := h.check("t", st(uuid.NewString(), "a"))
	if err != nil || !d.New[0] {
		t.Fatalf("Check of a new id with the store down = %v, %v; want new (accepted)", d, err)
	}
	d.Done()
	// After a failure the store is left alone for a while: no request pays for it.
	calls := h.store.calls
	for range 10 {
		d, err := h.check("t", st(uuid.NewString(), "a"))
		if err != nil || !d.New[0] {
			t.Fatalf("Check = %v, %v", d, err)
		}
		d.Done()
	}
	if h.store.calls != calls {
		t.Fatalf("store asked %d more times while paused", h.store.calls-calls)
	}
	if got := counter(t, h.c, "unchecked"); got != 11 {
		t.Fatalf("unchecked = %v, want 11", got)
	}
}

func TestCheckWithASlowStore(t *testing.T) {
	h := newHarness(t, defaults())
	h.store.delay = time.Second
	start := time.Now()
	d, err := h.check("t", st(uuid.NewString(), "a"))
	if err != nil || !d.New[0] {
		t.Fatalf("Check = %v, %v; want new", d, err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("a slow store held the write %v, past the lookup timeout", took)
	}
}

// A retry racing its original on this instance waits for it and is not
// published a second time; if the original failed, the retry publishes.
func TestCheckInFlightOnThisInstance(t *testing.T) {
	for _, published := range []bool{true, false} {
		h := newHarness(t, defaults())
		id := uuid.NewString()
		first, err := h.check("t", st(id, "a"))
		if err != nil || !first.New[0] {
			t.Fatalf("first = %v, %v", first, err)
		}
		got := make(chan *Decision, 1)
		go func() {
			d, err := h.check("t", st(id, "a"))
			if err != nil {
				t.Error(err)
			}
			got <- d
		}()
		select {
		case <-got:
			t.Fatal("the retry did not wait for the original")
		case <-time.After(30 * time.Millisecond):
		}
		if published {
			first.Published(0, h.publish("t", true, sid(t, id, "a")))
		}
		first.Done()
		second := <-got
		if second.New[0] == published {
			t.Fatalf("original published=%v: retry New=%v", published, second.New[0])
		}
		second.Done()
	}
}

func TestCheckOneLookupForConcurrentRequests(t *testing.T) {
	h := newHarness(t, defaults())
	h.store.delay = 20 * time.Millisecond
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := h.check("t", st(uuid.NewString(), "a"), st(uuid.NewString(), "b"))
			if err != nil {
				t.Error(err)
				return
			}
			d.Done()
		}()
	}
	wg.Wait()
	if h.store.calls > 10 {
		t.Fatalf("%d store lookups for 50 concurrent requests; want them shared", h.store.calls)
	}
}

func TestIndexBoundsAndHoles(t *testing.T) {
	h := newHarness(t, Config{Wait: 100 * time.Millisecond, LookupTimeout: 100 * time.Millisecond, MaxEntries: 3, Lookback: time.Minute})
	var ids []string
	for range 5 {
		id := uuid.NewString()
		ids = append(ids, id)
		h.publish("t", true, sid(t, id, "a"))
	}
	if n := h.idx.Len(); n != 3 {
		t.Fatalf("index holds %d, want its bound 3", n)
	}
	if !h.idx.hole() {
		t.Fatal("evicted entries the store has not applied are not reported as a hole")
	}
	// The oldest were evicted: their retry cannot be recognized, and is counted.
	d, err := h.check("t", st(ids[0], "b"))
	if err != nil || !d.New[0] {
		t.Fatalf("Check of an evicted id = %v, %v", d, err)
	}
	d.Done()
	if got := counter(t, h.c, "unchecked"); got != 1 {
		t.Fatalf("unchecked = %v, want 1", got)
	}
	// The newest still answer.
	if _, err := h.check("t", st(ids[4], "b")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("Check of an indexed id = %v, want a conflict", err)
	}
	// Once the store applied everything, it answers, and the hole is gone.
	for _, id := range ids {
		h.apply("t", id, "a", 5)
	}
	if h.idx.hole() || h.idx.Len() != 0 {
		t.Fatalf("after the store caught up: hole %v, %d entries", h.idx.hole(), h.idx.Len())
	}
	if _, err := h.check("t", st(ids[0], "b")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("Check of an applied id = %v, want a conflict", err)
	}
}

func counter(t *testing.T, c *Checker, result string) float64 {
	t.Helper()
	return testutil.ToFloat64(c.checks.WithLabelValues(result))
}

// With the filter loaded, new ids are answered without the store; ids it
// may hold, and every id once records went unread, still ask the store.
func TestCheckFilterSparesTheStoreLookup(t *testing.T) {
	cfg := defaults()
	cfg.FilterMaxMB = 1
	h := newHarness(t, cfg)
	applied := uuid.NewString()
	h.apply("t", applied, "a", 0)
	for range 100 {
		d, err := h.check("t", st(uuid.NewString(), "a"))
		if err != nil || !d.New[0] {
			t.Fatalf("Check of a new id = %v, %v; want new", d, err)
		}
		d.Published(0, h.publish("t", true))
		d.Done()
	}
	if h.store.calls > 2 { // a false positive or two may ask
		t.Fatalf("%d store lookups for 100 new ids with the filter loaded", h.store.calls)
	}
	if _, err := h.check("t", st(applied, "b")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("Check of an applied id with other content = %v, want a conflict from the store", err)
	}
	h.idx.skipTo(0, h.topic.end.Add(5)) // records the tail never read
	calls := h.store.calls
	d, err := h.check("t", st(uuid.NewString(), "a"))
	if err != nil || !d.New[0] {
		t.Fatalf("Check after a gap = %v, %v; want new", d, err)
	}
	if h.store.calls != calls+1 {
		t.Fatalf("after a gap the store was asked %d times for a new id, want once", h.store.calls-calls)
	}
}

// As the only producer, the checker answers from what it published itself
// until the tail reads it, without asking for the end offsets or waiting.
func TestSoleProducerAnswersFromItsOwnAcknowledgements(t *testing.T) {
	cfg := defaults()
	cfg.FilterMaxMB, cfg.MaxEntries = 1, 3
	h := newLeaseHarness(t, cfg, SoleProducer)
	// What the topic held before: the first check waits for the tail.
	before := uuid.NewString()
	off := h.publish("t", false, sid(t, before, "a"))
	go func() {
		time.Sleep(30 * time.Millisecond)
		h.idx.add(0, off, "t", []stream.StatementID{sid(t, before, "a")})
	}()
	if _, err := h.check("t", st(before, "b")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("first check = %v, want the conflict the tail read", err)
	}
	asked := h.topic.asked.Load()
	publish := func(id string) {
		t.Helper()
		d, err := h.check("t", st(id, "a"))
		if err != nil || !d.New[0] {
			t.Fatalf("Check of a new id = %v, %v", d, err)
		}
		d.Published(0, h.publish("t", false, sid(t, id, "a"))) // the tail has not read it
		d.Done()
	}
	mine := uuid.NewString()
	publish(mine)
	start := time.Now()
	if _, err := h.check("t", st(mine, "b")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("Check of an id this instance published = %v, want a conflict", err)
	}
	d, err := h.check("t", st(mine, "a"))
	if err != nil || d.New[0] {
		t.Fatalf("retry of an id this instance published = %v, %v; want a duplicate", d, err)
	}
	d.Done()
	if took := time.Since(start); took >= cfg.Wait {
		t.Fatalf("answered after %v: waited for the tail", took)
	}
	if n := h.topic.asked.Load(); n != asked {
		t.Fatalf("end offsets asked %d times after the tail caught up", n-asked)
	}
	// Once the tail read it, the index answers (and the held copy goes).
	h.idx.add(0, off+1, "t", []stream.StatementID{sid(t, mine, "a")})
	publish(uuid.NewString())
	h.c.mu.Lock()
	_, held := h.c.acked[key{"t", uuid.MustParse(mine)}]
	h.c.mu.Unlock()
	if held {
		t.Fatal("a statement the tail read is still held")
	}
	if _, err := h.check("t", st(mine, "b")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("Check after the tail read it = %v, want a conflict from the index", err)
	}
	// A tail that stopped reading: past the index's bound, checks wait again.
	publish(uuid.NewString())
	publish(uuid.NewString())
	asked = h.topic.asked.Load()
	d, err = h.check("t", st(uuid.NewString(), "a"))
	if err != nil || !d.New[0] {
		t.Fatalf("Check = %v, %v", d, err)
	}
	d.Done()
	if h.topic.asked.Load() == asked || counter(t, h.c, "unchecked") != 1 {
		t.Fatalf("with %d statements held the check did not wait (unchecked %v)", len(h.c.acked), counter(t, h.c, "unchecked"))
	}
}

// fakeLease is a producer group whose membership the test changes.
type fakeLease struct {
	mu    sync.Mutex
	epoch uint64
	sole  bool
}

func (l *fakeLease) Sole() (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch, l.sole
}

func (l *fakeLease) set(sole bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sole && !l.sole {
		l.epoch++
	}
	l.sole = sole
}

// A lease that comes and goes: while another producer may publish, every
// check waits for the tail; in a new lease the first check waits again,
// since the records of the producers before it may be unread.
func TestLeaseSkipsTheWaitOnlyOnceCaughtUpInIt(t *testing.T) {
	lease := &fakeLease{}
	h := newLeaseHarness(t, defaults(), lease)
	waits := func(what string, want bool, id string) {
		t.Helper()
		asked := h.topic.asked.Load()
		d, err := h.check("t", st(id, "a"))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		d.Done()
		if got := h.topic.asked.Load() != asked; got != want {
			t.Fatalf("%s: waited for the end offsets = %v, want %v", what, got, want)
		}
	}
	waits("not sole", true, uuid.NewString())
	lease.set(true)
	waits("first check of a lease", true, uuid.NewString())
	waits("caught up in the lease", false, uuid.NewString())

	// Another instance joins, publishes, and leaves: its record is unread.
	lease.set(false)
	theirs := uuid.NewString()
	off := h.publish("t", false, sid(t, theirs, "theirs"))
	waits("another producer", true, uuid.NewString()) // not read: unchecked, no conflict
	lease.set(true)
	go func() {
		time.Sleep(30 * time.Millisecond)
		h.idx.add(0, off, "t", []stream.StatementID{sid(t, theirs, "theirs")})
	}()
	if _, err := h.check("t", st(theirs, "mine")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("first check of a new lease = %v, want the conflict with the other producer's record", err)
	}
	waits("caught up in the new lease", false, uuid.NewString())
}

// The backlog is the bytes of records read and not yet applied, per
// partition; a record read twice counts once.
func TestIndexBacklog(t *testing.T) {
	idx := NewIndex(10, nil)
	idx.start(0, 0, 0)
	idx.start(1, 5, 5)
	for off := range int64(4) {
		idx.sized(0, off, 100)
		idx.add(0, off, "t", nil)
	}
	idx.sized(0, 3, 100) // read again
	idx.sized(1, 5, 1000)
	idx.add(1, 5, "t", nil)
	if got := idx.Backlog(); got != 1000 {
		t.Fatalf("Backlog = %d, want partition 1's 1000", got)
	}
	idx.trim(map[int32]int64{0: 1, 1: 6})
	if got := idx.Backlog(); got != 300 {
		t.Fatalf("after the store applied partition 1 and one record of 0: Backlog = %d, want 300", got)
	}
	idx.trim(map[int32]int64{0: 4})
	if got := idx.Backlog(); got != 0 {
		t.Fatalf("after the store caught up: Backlog = %d, want 0", got)
	}
}
