package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// testImports: the provenance of imported statements is kept with the
// statement, whichever way it was inserted (a batch of new ids, a batch
// meeting an existing id, a placeholder filled), only for the tenant it
// belongs to, and never replaced by a later copy; a pull's cursor is per
// tenant and source and only moves forward.
func testImports(t *testing.T, open Factory) {
	s := open(t)
	orig := time.Date(2019, 5, 6, 7, 8, 9, 123e6, time.UTC)
	from := func(st store.Statement, source string, stored time.Time) store.Statement {
		st.Provenance = store.Provenance{Source: source, OriginalStored: stored}
		return st
	}
	want := func(tenant, id string, w store.Provenance) {
		t.Helper()
		got, err := s.StatementProvenance(ctx(t), tenant, id)
		if w == (store.Provenance{}) {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("provenance of %s/%s: got %+v, %v; want ErrNotFound", tenant, id, got, err)
			}
			return
		}
		if err != nil || got.Source != w.Source || !got.OriginalStored.Equal(w.OriginalStored) {
			t.Fatalf("provenance of %s/%s: got %+v, %v; want %+v", tenant, id, got, err, w)
		}
	}

	a := from(S("t1", newID(), at(1), basic("ann", "did", "a")), "https://lms.example.com/xapi", orig)
	b := from(S("t1", newID(), at(1), basic("ann", "did", "b")), "file:///exports/old.ndjson", time.Time{})
	plain := S("t1", newID(), at(1), basic("ann", "did", "c"))
	apply(t, s, a, b, plain)
	want("t1", a.ID, a.Provenance)
	want("t1", b.ID, b.Provenance)
	want("t1", plain.ID, store.Provenance{})
	want("t2", a.ID, store.Provenance{})

	// A replay claiming another source changes nothing; the new statement
	// beside it (the slow path of a batch with a known id) gets its own.
	c := from(S("t1", newID(), at(2), basic("bob", "did", "a")), "https://other.example.com/xapi", orig.Add(time.Second))
	if res := apply(t, s, from(a, "https://other.example.com/xapi", orig.Add(time.Hour)), c); res.Inserted != 1 || res.Duplicates != 1 {
		t.Fatalf("replay: %+v", res)
	}
	want("t1", a.ID, a.Provenance)
	want("t1", c.ID, c.Provenance)

	// The voiding statement arrives first and leaves a placeholder; the
	// imported target fills it and keeps its provenance.
	target := from(S("t1", newID(), at(3), basic("cat", "did", "a")), "https://lms.example.com/xapi", orig.Add(2*time.Second))
	apply(t, s, from(S("t1", newID(), at(4), voiding("cat", target.ID)), "https://lms.example.com/xapi", orig.Add(3*time.Second)))
	apply(t, s, target)
	want("t1", target.ID, target.Provenance)

	// A batch larger than a backend's multi-row INSERTs (SQLite writes 200
	// rows at a time) keeps the provenance and the keys of every statement,
	// those of the last, partial INSERT too.
	var big []store.Statement
	for i := range 450 {
		big = append(big, from(S("t3", newID(), at(5), basic(fmt.Sprintf("l%03d", i), "did", "a")), "file:///exports/big.ndjson", orig.Add(time.Duration(i)*time.Millisecond)))
	}
	if res := apply(t, s, big...); res.Inserted != len(big) {
		t.Fatalf("big batch: %+v", res)
	}
	for _, i := range []int{0, 199, 200, 399, 400, 449} {
		want("t3", big[i].ID, big[i].Provenance)
		q := store.Query{Tenant: "t3", Agent: fmt.Sprintf(`{"mbox":"mailto:l%03d@example.com"}`, i)}
		if got := ids(t, s, q); len(got) != 1 || got[0] != big[i].ID {
			t.Fatalf("statements of learner %d in the big batch: %v, want [%s]", i, got, big[i].ID)
		}
	}
	if got := ids(t, s, store.Query{Tenant: "t3", Verb: "http://example.com/verbs/did"}); len(got) != len(big) {
		t.Fatalf("big batch by verb: %d statements, want %d", len(got), len(big))
	}

	const src = "https://lms.example.com/xapi"
	if got, err := s.PullCursor(ctx(t), "t1", src); err != nil || !got.IsZero() {
		t.Fatalf("cursor never written: %v, %v", got, err)
	}
	for _, step := range []struct {
		tenant string
		to     time.Time
		want   time.Time
	}{
		{"t1", orig, orig},
		{"t1", orig.Add(time.Minute), orig.Add(time.Minute)},
		{"t1", orig, orig.Add(time.Minute)}, // never back
		{"t2", orig.Add(-time.Hour), orig.Add(-time.Hour)},
	} {
		if err := s.AdvancePullCursor(ctx(t), step.tenant, src, step.to); err != nil {
			t.Fatal(err)
		}
		if got, err := s.PullCursor(ctx(t), step.tenant, src); err != nil || !got.Equal(step.want) {
			t.Fatalf("cursor of %s after advancing to %v: %v, %v; want %v", step.tenant, step.to, got, err, step.want)
		}
	}
	if got, err := s.PullCursor(ctx(t), "t1", "https://other.example.com/xapi"); err != nil || !got.IsZero() {
		t.Fatalf("another source's cursor: %v, %v", got, err)
	}
	if err := s.AdvancePullCursor(ctx(t), "t1", "", orig); err == nil {
		t.Fatal("a cursor without a source must be refused")
	}

	// Pull sources: per tenant, replaced by name, the tenant must exist.
	now := time.Now().UTC().Truncate(time.Millisecond)
	lms := store.PullSource{Tenant: "acme", Name: "moodle", Endpoint: src, Key: "k", Secret: "s", Version: "1.0.3",
		Interval: 90 * time.Second, Since: orig, CreatedAt: now, UpdatedAt: now}
	if err := s.PutPullSource(ctx(t), lms); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a source of a tenant that does not exist: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"acme", "other"} {
		if err := s.CreateTenant(ctx(t), store.Tenant{ID: id, Name: id, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	other := lms
	other.Tenant, other.Name, other.Since = "other", "ll", time.Time{}
	for _, p := range []store.PullSource{lms, other} {
		if err := s.PutPullSource(ctx(t), p); err != nil {
			t.Fatal(err)
		}
	}
	lms.Secret, lms.Interval, lms.UpdatedAt = "s2", 0, now.Add(time.Minute)
	if err := s.PutPullSource(ctx(t), lms); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListPullSources(ctx(t), "acme")
	if err != nil || len(got) != 1 {
		t.Fatalf("sources of acme: %+v, %v", got, err)
	}
	if g := got[0]; g.Name != "moodle" || g.Secret != "s2" || g.Interval != 0 || !g.Since.Equal(orig) || !g.CreatedAt.Equal(now) || !g.UpdatedAt.Equal(lms.UpdatedAt) {
		t.Fatalf("source after replacing: %+v, want %+v", g, lms)
	}
	if got, _ := s.ListPullSources(ctx(t), "other"); len(got) != 1 || !got[0].Since.IsZero() {
		t.Fatalf("sources of other: %+v", got)
	}
	if err := s.DeletePullSource(ctx(t), "other", "moodle"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting another tenant's source: %v, want ErrNotFound", err)
	}
	if err := s.DeletePullSource(ctx(t), "acme", "moodle"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListPullSources(ctx(t), "acme"); len(got) != 0 {
		t.Fatalf("sources of acme after deleting: %+v", got)
	}
}
