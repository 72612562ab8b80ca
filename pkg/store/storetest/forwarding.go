package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// testForwarding: rules are per tenant; a rewind raises the generation, and
// positions saved under an older one neither move the rule back nor lose
// their counts; dead letters are listed, marked, deleted, and go with
// their rule.
func testForwarding(t *testing.T, open Factory) {
	s := open(t)
	c := ctx(t)
	for _, id := range []string{"acme", "beta"} {
		if err := s.CreateTenant(c, store.Tenant{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	r := store.ForwardingRule{Tenant: "acme", Name: "lake", Filter: []byte(`{"verb":"http://v/passed"}`), Target: []byte(`{"type":"webhook"}`), StartAt: start}
	if err := s.CreateForwardingRule(c, r); err != nil {
		t.Fatalf("CreateForwardingRule: %v", err)
	}
	if err := s.CreateForwardingRule(c, r); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateForwardingRule twice: %v, want ErrExists", err)
	}
	if err := s.CreateForwardingRule(c, store.ForwardingRule{Tenant: "nosuch", Name: "x", Filter: []byte(`{}`), Target: []byte(`{}`)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateForwardingRule in a missing tenant: %v, want ErrNotFound", err)
	}
	if err := s.CreateForwardingRule(c, store.ForwardingRule{Tenant: "beta", Name: "lake", Filter: []byte(`{}`), Target: []byte(`{}`)}); err != nil {
		t.Fatalf("the same name in another tenant: %v", err)
	}
	got, err := s.GetForwardingRule(c, "acme", "lake")
	if err != nil || string(got.Filter) != string(r.Filter) || string(got.Target) != string(r.Target) || !got.StartAt.Equal(start) || got.Generation != 1 || got.Paused || got.CreatedAt.IsZero() {
		t.Fatalf("GetForwardingRule = %+v, %v", got, err)
	}
	if _, err := s.GetForwardingRule(c, "beta", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetForwardingRule(nope) = %v, want ErrNotFound", err)
	}
	if all, err := s.ListForwardingRules(c, ""); err != nil || len(all) != 2 || all[0].Tenant != "acme" || all[1].Tenant != "beta" || !all[1].StartAt.IsZero() {
		t.Fatalf("ListForwardingRules(all) = %+v, %v", all, err)
	}
	if one, err := s.ListForwardingRules(c, "beta"); err != nil || len(one) != 1 || one[0].Tenant != "beta" {
		t.Fatalf("ListForwardingRules(beta) = %+v, %v", one, err)
	}
	if p, err := s.SetForwardingRulePaused(c, "acme", "lake", true); err != nil || !p.Paused || p.Generation != 1 {
		t.Fatalf("pause = %+v, %v", p, err)
	}

	save := func(ps ...store.ForwardingPosition) {
		t.Helper()
		if err := s.SaveForwardingPositions(c, "acme", "lake", ps); err != nil {
			t.Fatalf("SaveForwardingPositions: %v", err)
		}
	}
	pending := start.Add(time.Minute)
	save(store.ForwardingPosition{Partition: 0, Generation: 1, Next: 10, End: 12, PendingSince: pending, Delivered: 5, Failed: 1, LastError: "503 from target", LastErrorAt: pending},
		store.ForwardingPosition{Partition: 1, Generation: 1, Next: 3, End: 3, Delivered: 2})
	save(store.ForwardingPosition{Partition: 0, Generation: 1, Next: 12, End: 12, Delivered: 2})
	ps, err := s.ForwardingPositions(c, "acme", "lake")
	if err != nil || len(ps) != 2 {
		t.Fatalf("ForwardingPositions = %+v, %v", ps, err)
	}
	if p := ps[0]; p.Next != 12 || p.End != 12 || !p.PendingSince.IsZero() || p.Delivered != 7 || p.Failed != 1 || p.LastError != "503 from target" || !p.LastErrorAt.Equal(pending) {
		t.Fatalf("partition 0 = %+v: want next 12, 7 delivered, the last error kept", p)
	}

	rw, err := s.RewindForwardingRule(c, "acme", "lake", time.Time{})
	if err != nil || rw.Generation != 2 || !rw.StartAt.IsZero() || !rw.Paused {
		t.Fatalf("rewind = %+v, %v", rw, err)
	}
	// A forwarder of generation 1 still finishing a batch: counted, but
	// its position must not cover the rewind's.
	save(store.ForwardingPosition{Partition: 0, Generation: 2, Next: 4, End: 12})
	save(store.ForwardingPosition{Partition: 0, Generation: 1, Next: 13, End: 13, Delivered: 1})
	ps, _ = s.ForwardingPositions(c, "acme", "lake")
	if p := ps[0]; p.Generation != 2 || p.Next != 4 || p.Delivered != 8 {
		t.Fatalf("after a stale save, partition 0 = %+v: want generation 2 at 4, 8 delivered", p)
	}

	dls := []store.ForwardingDeadLetter{
		{Tenant: "acme", Rule: "lake", StatementID: "s1", Statement: []byte(`{"id":"s1"}`), Partition: 0, Offset: 3, Status: 400, Answer: "bad s1"},
		{Tenant: "acme", Rule: "lake", StatementID: "s2", Statement: []byte(`{"id":"s2"}`), Partition: 1, Offset: 7, Status: 403, Answer: "no"},
	}
	if err := s.AddForwardingDeadLetters(c, dls); err != nil {
		t.Fatalf("AddForwardingDeadLetters: %v", err)
	}
	list, err := s.ListForwardingDeadLetters(c, "acme", "lake", 0, 10, false)
	if err != nil || len(list) != 2 || list[0].StatementID != "s1" || string(list[0].Statement) != `{"id":"s1"}` || list[0].Status != 400 || list[0].Answer != "bad s1" || list[1].Offset != 7 || list[0].Resend {
		t.Fatalf("ListForwardingDeadLetters = %+v, %v", list, err)
	}
	if more, err := s.ListForwardingDeadLetters(c, "acme", "lake", list[0].ID, 10, false); err != nil || len(more) != 1 || more[0].StatementID != "s2" {
		t.Fatalf("ListForwardingDeadLetters after the first = %+v, %v", more, err)
	}
	if n, err := s.MarkForwardingDeadLetters(c, "acme", "lake", []int64{list[1].ID}); err != nil || n != 1 {
		t.Fatalf("MarkForwardingDeadLetters = %d, %v", n, err)
	}
	if n, err := s.MarkForwardingDeadLetters(c, "beta", "lake", nil); err != nil || n != 0 {
		t.Fatalf("MarkForwardingDeadLetters of another tenant's rule = %d, %v; want 0", n, err)
	}
	if marked, err := s.ListForwardingDeadLetters(c, "acme", "lake", 0, 10, true); err != nil || len(marked) != 1 || marked[0].StatementID != "s2" || !marked[0].Resend {
		t.Fatalf("dead letters to resend = %+v, %v", marked, err)
	}
	if err := s.DeleteForwardingDeadLetters(c, "acme", "lake", []int64{list[1].ID}); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.ListForwardingDeadLetters(c, "acme", "lake", 0, 10, false); len(left) != 1 || left[0].StatementID != "s1" {
		t.Fatalf("after delete: %+v", left)
	}

	if err := s.DeleteForwardingRule(c, "acme", "lake"); err != nil {
		t.Fatalf("DeleteForwardingRule: %v", err)
	}
	if err := s.DeleteForwardingRule(c, "acme", "lake"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteForwardingRule twice: %v, want ErrNotFound", err)
	}
	if ps, _ := s.ForwardingPositions(c, "acme", "lake"); len(ps) != 0 {
		t.Fatalf("positions outlived their rule: %+v", ps)
	}
	if err := s.SaveForwardingPositions(c, "acme", "lake", []store.ForwardingPosition{{Partition: 0, Generation: 2, Next: 5}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("saving positions of a deleted rule: %v, want ErrNotFound", err)
	}
	if err := s.CreateForwardingRule(c, r); err != nil {
		t.Fatalf("re-create: %v", err)
	}
	if left, _ := s.ListForwardingDeadLetters(c, "acme", "lake", 0, 10, false); len(left) != 0 {
		t.Fatalf("dead letters outlived their rule: %+v", left)
	}
}
