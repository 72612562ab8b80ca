package conflict

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Index holds the ids and fingerprints of statements the topic holds but the
// store may not have applied yet: what the tail read from the topic, minus
// what the store's applied offsets have passed. It is bounded: past max
// entries the oldest are evicted, and the index then knows it has a hole
// until the store catches up past them.
type Index struct {
	mu      sync.Mutex
	max     int
	entries map[key]entry
	parts   map[int32]*partition
	tenants map[string]string // interned, so that entries share one copy
	moved   chan struct{}     // closed (and replaced) whenever a partition's next offset advances

	// seen holds every id read and, once seenLoaded, every id the store
	// held when the tail started: then an id it has not seen is new. A
	// record the tail could not read (gap) makes "not seen" unprovable.
	seen       *Filter
	seenLoaded bool
	gap        bool
}

type key struct {
	tenant string
	id     uuid.UUID
}

type entry struct {
	fp   [32]byte
	part int32
	off  int64
}

type queued struct {
	k   key
	off int64
}

// partition is the index's view of one topic partition.
type partition struct {
	next    int64    // the next offset the tail reads: everything below it is indexed or applied
	queue   []queued // entries in offset order, for trimming and eviction
	applied int64    // the store's next offset, as last seen
	// Records below evicted may have been dropped from the index (or never
	// read) before the store applied them: until applied passes it, an id
	// found nowhere may still be in the topic.
	evicted int64
	// The records read that the store has not applied: their sizes in
	// offset order, and their sum.
	sizes   []recordSize
	backlog int64
}

type recordSize struct {
	off   int64
	bytes int64
}

// NewIndex returns an index bounded to max entries.
// seen, if not nil, is the filter of every id acknowledged (see Index.lookupAll).
func NewIndex(max int, seen *Filter) *Index {
	return &Index{max: max, entries: map[key]entry{}, parts: map[int32]*partition{}, tenants: map[string]string{}, moved: make(chan struct{}), seen: seen}
}

// unread reports whether records went unread (see lookupAll).
func (x *Index) unread() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.gap
}

// loaded marks the filter complete for what the store held at start.
func (x *Index) loaded() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.seenLoaded = true
}

// Len is the number of statements indexed.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.entries)
}

// start declares a partition the tail reads from offset next on; records
// from applied up to next were not read (a hole) when next > applied.
func (x *Index) start(p int32, next, applied int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.parts[p] = &partition{next: next, applied: applied, evicted: next}
	x.gap = x.gap || next > applied
	x.broadcast()
}

// add indexes the statements of the record at offset off of partition p.
// The first copy of an id wins, as in the store.
func (x *Index) add(p int32, off int64, tenant string, ids []stream.StatementID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	pt := x.parts[p]
	if pt == nil || off < pt.next {
		return // not a partition we read, or a record seen before
	}
	if x.seen != nil {
		for _, sid := range ids {
			x.seen.Add(tenant, sid.ID)
		}
	}
	if off >= pt.applied {
		t, ok := x.tenants[tenant]
		if !ok {
			t = tenant
			x.tenants[t] = t
		}
		for _, sid := range ids {
			k := key{t, sid.ID}
			if _, ok := x.entries[k]; !ok {
				x.entries[k] = entry{fp: sid.Fingerprint, part: p, off: off}
				pt.queue = append(pt.queue, queued{k: k, off: off})
			}
		}
		x.evict()
	}
	pt.next = off + 1
	x.broadcast()
}

// sized notes the size of the record at offset off of partition p, read
// by the tail: until the store applies it, it counts in Backlog.
func (x *Index) sized(p int32, off, bytes int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if pt := x.parts[p]; pt != nil && off >= pt.next && off >= pt.applied {
		pt.sizes = append(pt.sizes, recordSize{off, bytes})
		pt.backlog += bytes
	}
}

// Backlog is the most record bytes one partition holds that the tail has
// read and the store has not applied: against a topic bounded by bytes
// per partition, how close the store-writer is to losing records to
// retention.
func (x *Index) Backlog() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	var most int64
	for _, pt := range x.parts {
		most = max(most, pt.backlog)
	}
	return most
}

// skipTo moves a partition's next offset past records that were not read
// (an offset reset after retention deleted them): they are a hole.
func (x *Index) skipTo(p int32, next int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if pt := x.parts[p]; pt != nil && next > pt.next {
		pt.next = next
		pt.evicted = max(pt.evicted, next)
		x.gap = true
		x.broadcast()
	}
}

// trim drops the entries the store has applied: the store answers for them.
func (x *Index) trim(applied map[int32]int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for p, a := range applied {
		pt := x.parts[p]
		if pt == nil || a <= pt.applied {
			continue
		}
		pt.applied = a
		n := 0
		for n < len(pt.queue) && pt.queue[n].off < a {
			x.drop(p, pt.queue[n])
			n++
		}
		pt.queue = shrink(pt.queue[n:])
		n = 0
		for n < len(pt.sizes) && pt.sizes[n].off < a {
			pt.backlog -= pt.sizes[n].bytes
			n++
		}
		pt.sizes = shrink(pt.sizes[n:])
	}
}

// evict drops the oldest entries of the longest queues while over max.
func (x *Index) evict() {
	for len(x.entries) > x.max {
		var longest int32
		var pt *partition
		for p, c := range x.parts {
			if pt == nil || len(c.queue) > len(pt.queue) {
				longest, pt = p, c
			}
		}
		if pt == nil || len(pt.queue) == 0 {
			return
		}
		q := pt.queue[0]
		x.drop(longest, q)
		pt.queue = pt.queue[1:]
		pt.evicted = max(pt.evicted, q.off+1)
	}
}

func (x *Index) drop(p int32, q queued) {
	if e, ok := x.entries[q.k]; ok && e.part == p && e.off == q.off {
		delete(x.entries, q.k)
	}
}

// shrink copies a queue whose backing array is mostly consumed, so that a
// drained queue does not pin the memory of its peak.
func shrink[T any](q []T) []T {
	if cap(q) > 1024 && len(q) < cap(q)/4 {
		return append(make([]T, 0, 2*len(q)), q...)
	}
	return q
}

func (x *Index) broadcast() {
	close(x.moved)
	x.moved = make(chan struct{})
}

// next is the next offset the tail reads in partition p (-1 when it does
// not read p).
func (x *Index) next(p int32) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if pt := x.parts[p]; pt != nil {
		return pt.next
	}
	return -1
}

// lookupAll fills in the fingerprints indexed for the keys not found yet.
// It reports whether the filter can tell an id never acknowledged, as far
// as the tail has read: it is loaded and nothing went unread.
func (x *Index) lookupAll(keys []key, fps [][32]byte, found []bool) (filterUsable bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, k := range keys {
		if !found[i] {
			var e entry
			e, found[i] = x.entries[k]
			fps[i] = e.fp
		}
	}
	return x.seen != nil && x.seenLoaded && !x.gap
}

// hole reports whether an id found neither here nor in the store may still
// be in the topic: evicted (or never read) records the store has not
// applied yet.
func (x *Index) hole() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, pt := range x.parts {
		if pt.evicted > pt.applied {
			return true
		}
	}
	return false
}

// wait returns once every partition has been read up to ends, or with
// ctx's error. Partitions the index does not know are passed to missing
// (a partition added to the topic) once per call.
func (x *Index) wait(ctx context.Context, ends map[int32]int64, missing func([]int32)) error {
	asked := false
	for {
		x.mu.Lock()
		var unknown []int32
		behind := false
		for p, end := range ends {
			pt := x.parts[p]
			switch {
			case pt == nil:
				unknown = append(unknown, p)
			case pt.next < end:
				behind = true
			}
		}
		moved := x.moved
		x.mu.Unlock()
		if len(unknown) == 0 && !behind {
			return nil
		}
		if len(unknown) > 0 && !asked && missing != nil {
			missing(unknown)
			asked = true
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
