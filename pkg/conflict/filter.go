package conflict

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

// Filter is a Bloom filter of every (tenant, id) the store holds or the
// tail has read: "absent" is certain, so a new client-chosen id (the usual
// case) needs no store lookup at all; "maybe" costs the lookup it costs
// without a filter. It scales by adding layers of twice the capacity of the
// last one, so it needs no count up front and stays small for a small
// store, and it stops growing at maxBytes, past which the false-positive
// rate rises (more lookups, never a wrong answer).
type Filter struct {
	maxBytes int
	seed1    maphash.Seed
	seed2    maphash.Seed

	mu     sync.RWMutex
	layers []*layer
	bytes  int
	n      atomic.Int64
}

// layer is one fixed-size Bloom filter.
type layer struct {
	words []atomic.Uint64
	mask  uint64 // len(words)*64 - 1: the bit count is a power of two
	cap   int64
	n     atomic.Int64
}

// 16 bits and 8 probes per statement: a false-positive rate of about 0.06%
// per layer, so even ten full layers ask the store for under 1% of new ids.
const (
	filterBitsPer  = 16
	filterProbes   = 8
	filterFirstCap = 1 << 16
)

// NewFilter returns an empty filter that grows to at most maxBytes
// (at least its first layer, 128 KiB).
func NewFilter(maxBytes int) *Filter {
	f := &Filter{maxBytes: maxBytes, seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
	f.grow()
	return f
}

// grow adds a layer of twice the last one's capacity, if the budget allows.
// Called with mu held for writing, or before f is shared.
func (f *Filter) grow() {
	c := int64(filterFirstCap)
	if len(f.layers) > 0 {
		c = 2 * f.layers[len(f.layers)-1].cap
	}
	nbits := uint64(1) << bits.Len64(uint64(c*filterBitsPer)-1)
	size := int(nbits / 8)
	if len(f.layers) > 0 && f.bytes+size > f.maxBytes {
		return // the last layer fills on: more false positives, more lookups
	}
	f.layers = append(f.layers, &layer{words: make([]atomic.Uint64, nbits/64), mask: nbits - 1, cap: c})
	f.bytes += size
}

func (f *Filter) hashes(tenant string, id uuid.UUID) (uint64, uint64) {
	var h maphash.Hash
	h.SetSeed(f.seed1)
	h.WriteString(tenant)
	h.WriteByte(0)
	h.Write(id[:])
	h1 := h.Sum64()
	h.SetSeed(f.seed2)
	h.WriteString(tenant)
	h.WriteByte(0)
	h.Write(id[:])
	return h1, h.Sum64() | 1
}

// Add records (tenant, id).
func (f *Filter) Add(tenant string, id uuid.UUID) {
	h1, h2 := f.hashes(tenant, id)
	f.mu.RLock()
	l := f.layers[len(f.layers)-1]
	f.mu.RUnlock()
	l.add(h1, h2)
	f.n.Add(1)
	if l.n.Add(1) == l.cap {
		f.mu.Lock()
		if f.layers[len(f.layers)-1] == l {
			f.grow()
		}
		f.mu.Unlock()
	}
}

// MayContain reports false only for an id never added.
func (f *Filter) MayContain(tenant string, id uuid.UUID) bool {
	h1, h2 := f.hashes(tenant, id)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, l := range f.layers {
		if l.has(h1, h2) {
			return true
		}
	}
	return false
}

// Len is the number of additions; Bytes the memory held.
func (f *Filter) Len() int64 { return f.n.Load() }
func (f *Filter) Bytes() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.bytes
}

func (l *layer) add(h1, h2 uint64) {
	for i := uint64(0); i < filterProbes; i++ {
		b := (h1 + i*h2) & l.mask
		w := &l.words[b/64]
		bit := uint64(1) << (b % 64)
		if w.Load()&bit == 0 {
			w.Or(bit)
		}
	}
}

func (l *layer) has(h1, h2 uint64) bool {
	for i := uint64(0); i < filterProbes; i++ {
		b := (h1 + i*h2) & l.mask
		if l.words[b/64].Load()&(uint64(1)<<(b%64)) == 0 {
			return false
		}
	}
	return true
}
