// Package conflict applies the xAPI statement comparison rules to statements
// whose ids the client chose, without waiting for the statement store to
// catch up: an id acknowledged before with the same content is a duplicate
// (accepted, not published again), with other content a conflict (409), and
// otherwise new.
//
// Acknowledged means "in the topic", and the store applies the topic
// asynchronously, so the store alone cannot answer for the last moments.
// Each ingest instance therefore tails the topic into an Index of what the
// store may not have applied yet (ids and fingerprints only, from a record
// header). A check notes the topic's end offsets, waits until the tail has
// read up to them (milliseconds: no database is involved), answers what the
// index knows, and asks the store, in one query shared with concurrent
// requests, only for the rest. Statements in flight on the same instance
// wait for each other, so a retry racing its original is not published
// twice.
//
// Limits, all of which end with the store-writer keeping the first copy and
// dead-lettering a conflicting one (reason "conflict"): two requests with
// one id in flight on different instances at the same moment; a store that
// cannot be asked (down, slow past the lookup timeout) for an id the index
// does not hold; an index that evicted entries the store has not applied.
// These are counted as "unchecked" (lrs_conflict_checks_total).
package conflict

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Store answers for the statements the store has applied.
type Store interface {
	Fingerprints(ctx context.Context, keys []store.StatementKey) (map[store.StatementKey]string, error)
}

// EndOffsets gives the topic's end offsets as of a moment after the call
// began (stream.SharedEndOffsets).
type EndOffsets interface {
	Get(ctx context.Context) (map[int32]int64, time.Time, error)
}

// Config holds the conflict check's settings.
type Config struct {
	// Wait bounds the wait for the tail to reach the end offsets a check
	// began with; past it the check answers with what the index holds.
	Wait time.Duration
	// LookupTimeout bounds the store lookup; past it (or when the store
	// fails) the ids the index does not hold are treated as new, and the
	// store is not asked again for a second.
	LookupTimeout time.Duration
	// MaxEntries bounds the index (about 150 bytes per statement).
	MaxEntries int
	// Lookback is where the tail starts in a partition whose applied offset
	// the store cannot tell (the store is down at start).
	Lookback time.Duration
	// FilterMaxMB bounds the filter of every id acknowledged (2 to 4 bytes
	// per statement), which spares new ids the store lookup; 0 turns it off.
	FilterMaxMB int
}

// RegisterFlags adds the settings to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Wait, "conflict-wait", time.Second, "how long a write with client-chosen ids waits for this instance's tail of the topic to reach the end offsets it began with (milliseconds normally; past it the write is checked against what is known)")
	fs.DurationVar(&c.LookupTimeout, "conflict-lookup-timeout", 250*time.Millisecond, "how long the store may take to answer for client-chosen ids the conflict index does not hold; past it they are accepted as new and the store-writer dead-letters a real conflict")
	fs.IntVar(&c.MaxEntries, "conflict-index-max", 1_000_000, "most statements the conflict index holds while the store lags (about 150 bytes each)")
	fs.DurationVar(&c.Lookback, "conflict-lookback", 5*time.Minute, "how far back the conflict index starts reading the topic when the store cannot tell what it applied")
	fs.IntVar(&c.FilterMaxMB, "conflict-filter-max-mb", 256, "most memory (MiB) of the filter of every statement id acknowledged (2 to 4 bytes per statement), which lets new client-chosen ids skip the store lookup; past it more ids are looked up; 0 turns the filter off")
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Wait < 0 {
		errs = append(errs, fmt.Errorf("conflict wait %v: want >= 0", c.Wait))
	}
	if c.LookupTimeout <= 0 {
		errs = append(errs, fmt.Errorf("conflict lookup timeout %v: want > 0", c.LookupTimeout))
	}
	if c.MaxEntries < 1 {
		errs = append(errs, fmt.Errorf("conflict index max %d: want at least 1", c.MaxEntries))
	}
	if c.Lookback <= 0 {
		errs = append(errs, fmt.Errorf("conflict lookback %v: want > 0", c.Lookback))
	}
	if c.FilterMaxMB < 0 {
		errs = append(errs, fmt.Errorf("conflict filter max %d MiB: want >= 0", c.FilterMaxMB))
	}
	return errors.Join(errs...)
}

// Statement is a client-chosen id and the fingerprint of its statement.
type Statement struct {
	ID          string // UUID
	Fingerprint string // hex SHA-256
}

// ConflictError is an id acknowledged before with other content.
type ConflictError struct{ ID string }

func (e *ConflictError) Error() string {
	return "statement " + e.ID + " already exists with different content"
}

// Checker decides about client-chosen ids. It is safe for concurrent use.
type Checker struct {
	cfg     Config
	idx     *Index
	tail    *Tail // nil in tests that feed the index themselves
	ends    EndOffsets
	lookups *lookups
	checks  *prometheus.CounterVec
	// The checks' counters by result, resolved once.
	newChecks, duplicateChecks, conflictChecks, uncheckedChecks prometheus.Counter
	waits                                                       prometheus.Histogram

	mu      sync.Mutex
	flights map[key]*flight
	// With a lease: the statements this instance published that the tail
	// may not have read yet, by key and in acknowledgement order per
	// partition (for pruning), and the sole lease in which a check found
	// the tail had read everything the topic held (0: none).
	lease      Lease
	acked      map[key]ackedEntry
	ackOrder   map[int32][]ackedKey
	caughtUpIn atomic.Uint64 // written with mu held
	dropped    atomic.Uint64 // statements published and not held; written with mu held
}

// Lease says whether this instance is the topic's only producer right now.
// While it is, and once the tail has read what the topic held when the
// lease began (the first check in a lease waits for that, as without one),
// every later record is one this instance acknowledged itself and holds
// until the tail reads it: a check needs neither the end offsets nor the
// wait for the tail. Epochs tell leases apart, since what a check learnt
// in one says nothing of the records of the producers before the next.
type Lease interface {
	Sole() (epoch uint64, ok bool)
}

// SoleProducer is the lease of a process that publishes every record of
// the topic by construction: the single binary, whose embedded broker has
// a credential no other process knows.
var SoleProducer Lease = always{}

type always struct{}

func (always) Sole() (uint64, bool) { return 1, true }

type ackedEntry struct {
	fp  [32]byte
	off int64
}

type ackedKey struct {
	k   key
	off int64
}

// flight is a statement of this instance being published, by the request
// whose flights share g.
type flight struct {
	fp [32]byte
	g  *flightGroup
}

// flightGroup is one request's statements in flight.
type flightGroup struct {
	done chan struct{}
	ok   bool // acknowledged; set before done is closed
}

// NewChecker checks against idx (fed by tail, which may be nil when the
// caller feeds the index), ends and st.
// lease, nil for none, lets the checks skip the wait while this instance is
// the only producer.
func NewChecker(cfg Config, idx *Index, tail *Tail, ends EndOffsets, lease Lease, st Store, reg prometheus.Registerer) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if idx == nil || ends == nil || st == nil {
		return nil, errors.New("conflict checker needs an index, end offsets and a store")
	}
	c := &Checker{cfg: cfg, idx: idx, tail: tail, ends: ends, lease: lease, flights: map[key]*flight{},
		acked: map[key]ackedEntry{}, ackOrder: map[int32][]ackedKey{},
		lookups: &lookups{store: st, timeout: cfg.LookupTimeout},
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lrs_conflict_checks_total",
			Help: "Client-chosen statement ids checked before publishing, by answer: new, duplicate (same content acknowledged before), conflict (409), unchecked (accepted without a full check: store unreachable, index incomplete or tail late; the store-writer dead-letters a real conflict).",
		}, []string{"result"}),
		waits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lrs_conflict_wait_seconds",
			Help:    "Time a check of client-chosen ids spent getting the topic's end offsets and waiting for this instance's tail to read up to them (not observed when the check needs no wait: the single binary).",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
	}
	c.newChecks, c.duplicateChecks = c.checks.WithLabelValues("new"), c.checks.WithLabelValues("duplicate")
	c.conflictChecks, c.uncheckedChecks = c.checks.WithLabelValues("conflict"), c.checks.WithLabelValues("unchecked")
	if reg != nil {
		entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lrs_conflict_index_entries",
			Help: "Statements acknowledged but maybe not yet applied by the store, held by this instance's conflict index.",
		}, func() float64 { return float64(idx.Len()) })
		backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lrs_store_backlog_bytes",
			Help: "Most record bytes one partition of the statements topic holds that this instance's tail has read and the store has not applied (see -max-backlog-bytes).",
		}, func() float64 { return float64(idx.Backlog()) })
		for _, m := range []prometheus.Collector{c.checks, c.waits, entries, backlog, c.lookups.metric()} {
			if err := reg.Register(m); err != nil {
				return nil, fmt.Errorf("register metric: %w", err)
			}
		}
	}
	return c, nil
}

// Backlog is the most record bytes one partition holds that the store has
// not applied, as far as the tail has read (Index.Backlog).
func (c *Checker) Backlog() int64 { return c.idx.Backlog() }

// Decision is the answer for one request's statements. Its Done must be
// called once the request's fate is known, after Published if the broker
// acknowledged the record.
type Decision struct {
	// New[i] says statement i must be published; the others are duplicates.
	New []bool
	c   *Checker
	own map[key]*flight
	g   *flightGroup
	at  *ackedAt
}

type ackedAt struct {
	part int32
	off  int64
}

// Published records that the broker acknowledged the request's record at
// offset off of partition part.
func (d *Decision) Published(part int32, off int64) {
	if d != nil {
		d.at = &ackedAt{part, off}
	}
}

// Done releases the statements of the request to concurrent requests with
// the same ids, as acknowledged if Published was called.
func (d *Decision) Done() {
	if d == nil || d.c == nil {
		return
	}
	d.c.release(d.own, d.g, d.at)
	d.c = nil
}

// Check decides for the statements of one request of tenant. A
// *ConflictError means the request must be refused with 409.
func (c *Checker) Check(ctx context.Context, tenant string, stmts []Statement) (*Decision, error) {
	keys := make([]key, len(stmts))
	fps := make([][32]byte, len(stmts))
	for i, s := range stmts {
		sid, err := stream.ParseStatementID(s.ID, s.Fingerprint)
		if err != nil {
			return nil, err
		}
		keys[i], fps[i] = key{tenant, sid.ID}, sid.Fingerprint
	}
	d := &Decision{New: make([]bool, len(stmts)), c: c, own: make(map[key]*flight, len(stmts)), g: &flightGroup{done: make(chan struct{})}}
	known := map[key][32]byte{} // acknowledged by a request we waited for
	if err := c.claim(ctx, keys, fps, d.own, d.g, known); err != nil {
		d.Done()
		return nil, err
	}
	unchecked := false
	epoch, sole := c.soleCaughtUp()
	if !sole {
		dropped := c.dropped.Load()
		if err := c.waitForTail(ctx); err != nil {
			if ctx.Err() != nil {
				d.Done()
				return nil, ctx.Err()
			}
			unchecked = true // answer with what is known; the store-writer has the last word
		} else if epoch != 0 {
			// The end offsets were asked for after the lease began, so the
			// tail has read every record of the producers before it, and
			// every later one is held, unless one was dropped meanwhile.
			c.mu.Lock()
			if c.dropped.Load() == dropped {
				c.caughtUpIn.Store(epoch)
			}
			c.mu.Unlock()
		}
	}
	// Each source answers for all keys under one lock.
	held := make([][32]byte, len(keys))
	found := make([]bool, len(keys))
	for i, k := range keys {
		held[i], found[i] = known[k]
	}
	if sole {
		c.ackedLookup(keys, held, found)
	}
	filterUsable := c.idx.lookupAll(keys, held, found)
	var ask []store.StatementKey
	var askAt []int
	var fresh, dups int
	for i, k := range keys {
		switch {
		case !found[i] && !unchecked && filterUsable && !c.idx.seen.MayContain(k.tenant, k.id):
			d.New[i] = true
			fresh++
		case !found[i]:
			ask = append(ask, store.StatementKey{Tenant: tenant, ID: k.id.String()})
			askAt = append(askAt, i)
		case held[i] == fps[i]:
			dups++
		default:
			c.conflictChecks.Inc()
			d.Done()
			return nil, &ConflictError{ID: stmts[i].ID}
		}
	}
	c.newChecks.Add(float64(fresh))
	c.duplicateChecks.Add(float64(dups))
	if len(ask) > 0 {
		stored, err := c.lookups.do(ctx, ask)
		if err != nil && ctx.Err() != nil {
			d.Done()
			return nil, ctx.Err()
		}
		unchecked = unchecked || err != nil || c.idx.hole()
		for j, sk := range ask {
			i := askAt[j]
			fp, ok := stored[sk]
			switch {
			case !ok:
				d.New[i] = true
				if unchecked {
					c.uncheckedChecks.Inc()
				} else {
					c.newChecks.Inc()
				}
			case fp == stmts[i].Fingerprint:
				c.duplicateChecks.Inc()
			default:
				c.conflictChecks.Inc()
				d.Done()
				return nil, &ConflictError{ID: stmts[i].ID}
			}
		}
	}
	return d, nil
}

// claim registers this request's flights for keys, first waiting for any
// other request of this instance publishing one of them: if it was
// acknowledged, known gets its fingerprint.
func (c *Checker) claim(ctx context.Context, keys []key, fps [][32]byte, own map[key]*flight, g *flightGroup, known map[key][32]byte) error {
	for {
		var other *flight
		var otherKey key
		c.mu.Lock()
		for i, k := range keys {
			if _, mine := own[k]; mine {
				continue
			}
			if _, ok := known[k]; ok {
				continue
			}
			if f := c.flights[k]; f != nil {
				other, otherKey = f, k
				break
			}
			f := &flight{fp: fps[i], g: g}
			c.flights[k] = f
			own[k] = f
		}
		c.mu.Unlock()
		if other == nil {
			return nil
		}
		select {
		case <-other.g.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if other.g.ok {
			known[otherKey] = other.fp
		}
	}
}

// waitForTail waits until the tail has read everything acknowledged before
// the call began.
func (c *Checker) waitForTail(ctx context.Context) error {
	defer func(start time.Time) { c.waits.Observe(time.Since(start).Seconds()) }(time.Now())
	ends, _, err := c.ends.Get(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, c.cfg.Wait)
	defer cancel()
	var missing func([]int32)
	if c.tail != nil {
		missing = c.tail.missing
	}
	return c.idx.wait(wctx, ends, missing)
}

// soleCaughtUp reports whether a check may skip the wait for the tail: this
// instance is the topic's only producer, and in this lease a check found the
// tail had read what the topic held before. epoch is the lease's, 0 for
// none.
func (c *Checker) soleCaughtUp() (epoch uint64, ok bool) {
	if c.lease == nil {
		return 0, false
	}
	epoch, sole := c.lease.Sole()
	if !sole {
		return 0, false
	}
	return epoch, c.caughtUpIn.Load() == epoch
}

// ackedLookup fills in the fingerprints of the keys not found yet that
// this instance published and its tail has not read.
func (c *Checker) ackedLookup(keys []key, fps [][32]byte, found []bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		if !found[i] {
			var e ackedEntry
			e, found[i] = c.acked[k]
			fps[i] = e.fp
		}
	}
}

func (c *Checker) release(own map[key]*flight, g *flightGroup, at *ackedAt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Only the statements actually published count as acknowledged; a
	// duplicate was acknowledged before and the index or store knows it.
	g.ok = at != nil
	close(g.done)
	for k, f := range own {
		if c.flights[k] == f {
			delete(c.flights, k)
		}
		if at != nil && c.lease != nil {
			c.hold(k, f.fp, at)
		}
	}
	if c.lease != nil {
		c.pruneAcked()
	}
}

// hold keeps a statement this instance published until the tail reads it.
// A tail that stopped reading would let them grow without bound: past the
// index's bound they are no longer kept, and the checks wait for the tail
// again (and answer "unchecked" when the wait times out), which is right
// whatever was not kept. Called with c.mu held.
func (c *Checker) hold(k key, fp [32]byte, at *ackedAt) {
	if _, ok := c.acked[k]; ok {
		return
	}
	if len(c.acked) >= c.cfg.MaxEntries {
		c.dropped.Add(1)
		c.caughtUpIn.Store(0)
		return
	}
	c.acked[k] = ackedEntry{fp: fp, off: at.off}
	c.ackOrder[at.part] = append(c.ackOrder[at.part], ackedKey{k, at.off})
	if len(c.acked) >= c.cfg.MaxEntries {
		// Full: the next statement could not be held.
		c.caughtUpIn.Store(0)
	}
}

// pruneAcked forgets the published statements the tail has read: the index
// (or, once it trimmed them, the store and the filter) answers for them.
// Called with c.mu held.
func (c *Checker) pruneAcked() {
	for p, q := range c.ackOrder {
		next := c.idx.next(p)
		n := 0
		for n < len(q) && q[n].off < next {
			if e, ok := c.acked[q[n].k]; ok && e.off == q[n].off {
				delete(c.acked, q[n].k)
			}
			n++
		}
		c.ackOrder[p] = shrink(q[n:])
	}
}

// lookups shares store lookups between concurrent checks: while one query
// runs, the next collects every waiting request's ids.
type lookups struct {
	store    Store
	timeout  time.Duration
	duration prometheus.Histogram

	mu        sync.Mutex
	pending   []*lookupReq
	running   bool
	skipUntil time.Time
}

type lookupReq struct {
	keys []store.StatementKey
	done chan lookupResult
}

type lookupResult struct {
	found map[store.StatementKey]string
	err   error
}

var errStoreSkipped = errors.New("store lookups paused after a failure")

func (l *lookups) metric() prometheus.Collector {
	l.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "lrs_conflict_lookup_duration_seconds",
		Help:    "Store lookups of client-chosen ids the conflict index does not hold (one query serves concurrent requests).",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
	})
	return l.duration
}

func (l *lookups) do(ctx context.Context, keys []store.StatementKey) (map[store.StatementKey]string, error) {
	req := &lookupReq{keys: keys, done: make(chan lookupResult, 1)}
	l.mu.Lock()
	if time.Now().Before(l.skipUntil) {
		l.mu.Unlock()
		return nil, errStoreSkipped
	}
	l.pending = append(l.pending, req)
	if !l.running {
		l.running = true
		go l.loop()
	}
	l.mu.Unlock()
	select {
	case r := <-req.done:
		return r.found, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *lookups) loop() {
	for {
		l.mu.Lock()
		batch := l.pending
		l.pending = nil
		if len(batch) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		var keys []store.StatementKey
		for _, r := range batch {
			keys = append(keys, r.keys...)
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		found, err := l.store.Fingerprints(ctx, keys)
		cancel()
		if l.duration != nil {
			l.duration.Observe(time.Since(start).Seconds())
		}
		if err != nil {
			l.mu.Lock()
			// A store that is down would cost every request the timeout.
			l.skipUntil = time.Now().Add(time.Second)
			l.mu.Unlock()
		}
		for _, r := range batch {
			r.done <- lookupResult{found: found, err: err}
		}
	}
}
