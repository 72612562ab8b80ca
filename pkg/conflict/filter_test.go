package conflict

import (
	"testing"

	"github.com/google/uuid"
)

func TestFilter(t *testing.T) {
	const n = 300_000 // several layers
	f := NewFilter(64 << 20)
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
		f.Add("t", ids[i])
	}
	for _, id := range ids {
		if !f.MayContain("t", id) {
			t.Fatalf("%s added but not found", id)
		}
	}
	if f.MayContain("other tenant", ids[0]) && f.MayContain("other tenant", ids[1]) {
		t.Error("the tenant is not part of the key")
	}
	fp := 0
	for range 100_000 {
		if f.MayContain("t", uuid.New()) {
			fp++
		}
	}
	if fp > 1000 {
		t.Errorf("%d false positives in 100000 (want under 1%%)", fp)
	}
	if f.Len() != n {
		t.Errorf("Len = %d, want %d", f.Len(), n)
	}
	t.Logf("%d ids in %d bytes (%.1f per id), %d false positives in 100000", n, f.Bytes(), float64(f.Bytes())/n, fp)
}

// Past its budget the filter stops growing and answers "maybe" more often,
// never "absent" for an id it was given.
func TestFilterBudget(t *testing.T) {
	f := NewFilter(1) // the first layer only
	first := f.Bytes()
	ids := make([]uuid.UUID, 4*filterFirstCap)
	for i := range ids {
		ids[i] = uuid.New()
		f.Add("t", ids[i])
	}
	if f.Bytes() != first {
		t.Fatalf("grew to %d bytes past a 1-byte budget (first layer %d)", f.Bytes(), first)
	}
	for _, id := range ids {
		if !f.MayContain("t", id) {
			t.Fatalf("%s added but not found", id)
		}
	}
}
