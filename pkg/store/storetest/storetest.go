// Package storetest is the behaviour every store.Store backend must have:
// idempotent writes with offsets, voiding in any order, the xAPI query
// filters, cursor paging under concurrent inserts, tenant isolation,
// documents, attachments, tenants and credentials. Each
// backend's tests call Run with a factory of fresh, migrated stores.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// Factory returns a fresh, migrated, empty store, closed at the end of the test.
type Factory func(t *testing.T) store.Store

// Run runs the whole suite against the backend made by open.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"MigrateTwice", testMigrateTwice},
		{"Idempotency", testIdempotency},
		{"Fingerprints", testFingerprints},
		{"ScanStatementKeys", testScanStatementKeys},
		{"Attachments", testAttachments},
		{"AttachmentGrants", testAttachmentGrants},
		{"RecentConflicts", testRecentConflicts},
		{"Offsets", testOffsets},
		{"VoidingAnyOrder", testVoidingAnyOrder},
		{"VoidingConcurrent", testVoidingConcurrent},
		{"Filters", testFilters},
		{"StatementRefFilters", testStatementRefFilters},
		{"TimeAndOrder", testTimeAndOrder},
		{"PagingUnderInserts", testPagingUnderInserts},
		{"TenantIsolation", testTenantIsolation},
		{"TenantsAndCredentials", testTenantsAndCredentials},
		{"AuthorityFilter", testAuthorityFilter},
		{"CredentialRotation", testCredentialRotation},
		{"BadQueries", testBadQueries},
		{"Documents", testDocuments},
		{"Forwarding", testForwarding},
		{"Imports", testImports},
		{"Erasure", testErasure},
		{"Retention", testRetention},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// base is the stored time of the first test statement; each test spaces
// its statements by whole seconds from it.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// S builds a prepared statement from its JSON; the fingerprint hashes the
// JSON, which is enough for tests (ingest hashes the canonical form).
func S(tenant, id string, stored time.Time, body map[string]any) store.Statement {
	body["id"] = id
	body["stored"] = stored.Format(time.RFC3339Nano)
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return store.Statement{Tenant: tenant, ID: id, Stored: stored, JSON: b, Fingerprint: hex.EncodeToString(sum[:])}
}

func mbox(name string) map[string]any {
	return map[string]any{"objectType": "Agent", "mbox": "mailto:" + name + "@example.com"}
}

func verb(name string) map[string]any {
	return map[string]any{"id": "http://example.com/verbs/" + name}
}

func activity(name string) map[string]any {
	return map[string]any{"objectType": "Activity", "id": "http://example.com/activities/" + name}
}

// basic is "actor verb activity".
func basic(actor, v, act string) map[string]any {
	return map[string]any{"actor": mbox(actor), "verb": verb(v), "object": activity(act)}
}

func voiding(actor, target string) map[string]any {
	return map[string]any{
		"actor":  mbox(actor),
		"verb":   map[string]any{"id": store.VerbVoided},
		"object": map[string]any{"objectType": "StatementRef", "id": target},
	}
}

func ref(actor, v, target string) map[string]any {
	return map[string]any{
		"actor":  mbox(actor),
		"verb":   verb(v),
		"object": map[string]any{"objectType": "StatementRef", "id": target},
	}
}

func newID() string { return uuid.NewString() }

func apply(t *testing.T, s store.Store, stmts ...store.Statement) store.ApplyResult {
	t.Helper()
	res, err := s.ApplyStatements(ctx(t), "g", stmts, nil)
	if err != nil {
		t.Fatalf("ApplyStatements: %v", err)
	}
	return res
}

// ids lists a query's statement ids over all its pages.
func ids(t *testing.T, s store.Store, q store.Query) []string {
	t.Helper()
	var out []string
	for range 1000 {
		p, err := s.QueryStatements(ctx(t), q)
		if err != nil {
			t.Fatalf("QueryStatements(%+v): %v", q, err)
		}
		for _, st := range p.Statements {
			out = append(out, st.ID)
		}
		if p.More == "" {
			return out
		}
		q = store.Query{Tenant: q.Tenant, Authority: q.Authority, Cursor: p.More}
	}
	t.Fatalf("QueryStatements(%+v): more than 1000 pages", q)
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func testMigrateTwice(t *testing.T, open Factory) {
	s := open(t)
	if err := s.Migrate(ctx(t)); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testIdempotency(t *testing.T, open Factory) {
	s := open(t)
	a := S("t1", newID(), at(1), basic("ann", "did", "x"))
	b := S("t1", newID(), at(2), basic("bob", "did", "x"))
	res := apply(t, s, a, b)
	if res.Inserted != 2 || res.Duplicates != 0 || len(res.Conflicts) != 0 {
		t.Fatalf("first apply = %+v, want 2 inserted", res)
	}
	// A replay changes nothing; the same id with other content is a conflict.
	changed := S("t1", a.ID, at(3), basic("ann", "undid", "x"))
	c := S("t1", newID(), at(4), basic("cat", "did", "x"))
	res = apply(t, s, a, b, changed, c, c)
	if res.Inserted != 1 || res.Duplicates != 3 || len(res.Conflicts) != 1 {
		t.Fatalf("replay = %+v, want 1 inserted, 3 duplicates, 1 conflict", res)
	}
	if got := res.Conflicts[0].Statement.Fingerprint; got != changed.Fingerprint || res.Conflicts[0].Reason == "" {
		t.Fatalf("conflict = %+v, want the changed statement with a reason", res.Conflicts[0])
	}
	// A conflicting copy within one batch loses to the first copy.
	d1 := S("t1", newID(), at(5), basic("dan", "did", "x"))
	d2 := S("t1", d1.ID, at(5), basic("dan", "undid", "x"))
	res = apply(t, s, d1, d2)
	if res.Inserted != 1 || len(res.Conflicts) != 1 || res.Conflicts[0].Statement.Fingerprint != d2.Fingerprint {
		t.Fatalf("in-batch conflict = %+v, want d1 inserted and d2 conflicting", res)
	}
	got, err := s.GetStatement(ctx(t), "t1", a.ID, false)
	if err != nil {
		t.Fatalf("GetStatement: %v", err)
	}
	if string(got.JSON) != string(a.JSON) || got.Fingerprint != a.Fingerprint || !got.Stored.Equal(a.Stored) || got.ID != a.ID {
		t.Fatalf("GetStatement = %+v, want the first statement byte for byte", got)
	}
	if all := ids(t, s, store.Query{Tenant: "t1"}); len(all) != 4 {
		t.Fatalf("listing holds %d statements, want 4", len(all))
	}
	// An unparsable statement is reported, not written, and does not fail the batch.
	bad := store.Statement{Tenant: "t1", ID: newID(), Stored: at(6), JSON: []byte("{not json"), Fingerprint: "x"}
	res = apply(t, s, bad)
	if res.Inserted != 0 || len(res.Conflicts) != 1 {
		t.Fatalf("unparsable = %+v, want one conflict", res)
	}
	if _, err := s.GetStatement(ctx(t), "t1", newID(), false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetStatement of a missing id: %v, want ErrNotFound", err)
	}
	if _, err := s.GetStatement(ctx(t), "t1", "not-a-uuid", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetStatement of a malformed id: %v, want ErrNotFound", err)
	}
	if _, err := s.ApplyStatements(ctx(t), "g", []store.Statement{{Tenant: "t1", ID: newID()}}, nil); err == nil {
		t.Fatal("ApplyStatements accepted a statement without stored, JSON and fingerprint")
	}
}

func testFingerprints(t *testing.T, open Factory) {
	s := open(t)
	a := S("t1", newID(), at(1), basic("ann", "did", "x"))
	v := S("t1", newID(), at(2), voiding("ann", a.ID))
	// A StatementRef to an unknown id leaves a placeholder row: not a statement.
	unknown := newID()
	r := S("t2", newID(), at(3), ref("bob", "liked", unknown))
	apply(t, s, a, v, r)
	var keys []store.StatementKey
	for range 450 { // more than one SQLite query's worth
		keys = append(keys, store.StatementKey{Tenant: "t1", ID: newID()})
	}
	keys = append(keys,
		store.StatementKey{Tenant: "t1", ID: strings.ToUpper(a.ID)}, // voided, still a statement
		store.StatementKey{Tenant: "t1", ID: v.ID},
		store.StatementKey{Tenant: "t2", ID: a.ID}, // another tenant's id
		store.StatementKey{Tenant: "t2", ID: r.ID},
		store.StatementKey{Tenant: "t2", ID: unknown},
		store.StatementKey{Tenant: "t1", ID: "not-a-uuid"},
	)
	got, err := s.Fingerprints(ctx(t), keys)
	if err != nil {
		t.Fatalf("Fingerprints: %v", err)
	}
	want := map[store.StatementKey]string{
		{Tenant: "t1", ID: a.ID}: a.Fingerprint,
		{Tenant: "t1", ID: v.ID}: v.Fingerprint,
		{Tenant: "t2", ID: r.ID}: r.Fingerprint,
	}
	if !maps.Equal(got, want) {
		t.Fatalf("Fingerprints = %v, want %v", got, want)
	}
	if got, err := s.Fingerprints(ctx(t), nil); err != nil || len(got) != 0 {
		t.Fatalf("Fingerprints(nil) = %v, %v", got, err)
	}
}

func testScanStatementKeys(t *testing.T, open Factory) {
	s := open(t)
	a := S("t1", newID(), at(1), basic("ann", "did", "x"))
	v := S("t1", newID(), at(2), voiding("ann", a.ID))
	unknown := newID() // a placeholder row, not a statement
	r := S("t2", newID(), at(3), ref("bob", "liked", unknown))
	apply(t, s, a, v, r)
	got := map[store.StatementKey]bool{}
	err := s.ScanStatementKeys(ctx(t), func(k store.StatementKey) error {
		got[k] = true
		return nil
	})
	if err != nil {
		t.Fatalf("ScanStatementKeys: %v", err)
	}
	want := map[store.StatementKey]bool{{Tenant: "t1", ID: a.ID}: true, {Tenant: "t1", ID: v.ID}: true, {Tenant: "t2", ID: r.ID}: true}
	if !maps.Equal(got, want) {
		t.Fatalf("ScanStatementKeys saw %v, want %v", got, want)
	}
	stop := errors.New("stop")
	calls := 0
	err = s.ScanStatementKeys(ctx(t), func(store.StatementKey) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("ScanStatementKeys with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

func testRecentConflicts(t *testing.T, open Factory) {
	s := open(t)
	a := S("t1", newID(), at(1), basic("ann", "did", "x"))
	b := S("t1", newID(), at(1), basic("bob", "did", "x"))
	apply(t, s, a, b)
	later := S("t1", a.ID, at(2), basic("ann", "failed", "x"))   // a later batch, other content
	inBatch := S("t1", newID(), at(3), basic("cid", "did", "x")) // and one whose conflict is in its own batch
	inBatch2 := S("t1", inBatch.ID, at(3), basic("cid", "failed", "x"))
	for range 2 { // a batch retried after it was applied records nothing twice
		res := apply(t, s, later, b, inBatch, inBatch2)
		if len(res.Conflicts) != 2 {
			t.Fatalf("conflicts %+v, want 2", res.Conflicts)
		}
	}
	got, err := s.RecentConflicts(ctx(t), "t1", 10)
	if err != nil {
		t.Fatalf("RecentConflicts: %v", err)
	}
	want := map[string][2]string{a.ID: {later.Fingerprint, a.Fingerprint}, inBatch.ID: {inBatch2.Fingerprint, inBatch.Fingerprint}}
	if len(got) != len(want) {
		t.Fatalf("RecentConflicts = %+v, want %d records", got, len(want))
	}
	for _, c := range got {
		w, ok := want[c.ID]
		if !ok || c.Tenant != "t1" || [2]string{c.Fingerprint, c.StoredFingerprint} != w || time.Since(c.Detected) > time.Minute {
			t.Errorf("conflict %+v, want fingerprint/stored %v", c, w)
		}
	}
	if got, err := s.RecentConflicts(ctx(t), "t1", 1); err != nil || len(got) != 1 {
		t.Errorf("RecentConflicts with limit 1 = %+v, %v", got, err)
	}
	if got, err := s.RecentConflicts(ctx(t), "t2", 10); err != nil || len(got) != 0 {
		t.Errorf("another tenant's conflicts = %+v, %v", got, err)
	}
}

func testOffsets(t *testing.T, open Factory) {
	s := open(t)
	c := ctx(t)
	st := S("t1", newID(), at(1), basic("ann", "did", "x"))
	_, err := s.ApplyStatements(c, "writer", []store.Statement{st}, []store.Offset{
		{Topic: "statements", Partition: 0, Next: 10},
		{Topic: "statements", Partition: 1, Next: 5},
		{Topic: "statements", Partition: 0, Next: 12},
		{Topic: "other", Partition: 0, Next: 99},
	})
	if err != nil {
		t.Fatalf("ApplyStatements: %v", err)
	}
	// Offsets move only forward, and an empty batch still records them.
	if _, err := s.ApplyStatements(c, "writer", nil, []store.Offset{
		{Topic: "statements", Partition: 0, Next: 3},
		{Topic: "statements", Partition: 1, Next: 7},
		{Topic: "statements", Partition: 2, Next: 1},
	}); err != nil {
		t.Fatalf("ApplyStatements: %v", err)
	}
	got, err := s.AppliedOffsets(c, "writer", "statements")
	if err != nil {
		t.Fatalf("AppliedOffsets: %v", err)
	}
	want := map[int32]int64{0: 12, 1: 7, 2: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("AppliedOffsets = %v, want %v", got, want)
	}
	if got, err := s.AppliedOffsets(c, "other-group", "statements"); err != nil || len(got) != 0 {
		t.Fatalf("AppliedOffsets of another group = %v, %v; want empty", got, err)
	}
	if _, err := s.ApplyStatements(c, "", nil, []store.Offset{{Topic: "x", Next: 1}}); err == nil {
		t.Fatal("ApplyStatements recorded offsets without a group")
	}
}

// visible reports (found as not voided, found as voided).
func visible(t *testing.T, s store.Store, tenant, id string) (bool, bool) {
	t.Helper()
	_, err := s.GetStatement(ctx(t), tenant, id, false)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetStatement: %v", err)
	}
	_, errV := s.GetStatement(ctx(t), tenant, id, true)
	if errV != nil && !errors.Is(errV, store.ErrNotFound) {
		t.Fatalf("GetStatement voided: %v", errV)
	}
	return err == nil, errV == nil
}

func testVoidingAnyOrder(t *testing.T, open Factory) {
	orders := []struct {
		name    string
		batches func(target, voider store.Statement) [][]store.Statement
	}{
		{"target first", func(tg, v store.Statement) [][]store.Statement { return [][]store.Statement{{tg}, {v}} }},
		{"voider first", func(tg, v store.Statement) [][]store.Statement { return [][]store.Statement{{v}, {tg}} }},
		{"same batch, voider first", func(tg, v store.Statement) [][]store.Statement { return [][]store.Statement{{v, tg}} }},
		{"same batch, target first", func(tg, v store.Statement) [][]store.Statement { return [][]store.Statement{{tg, v}} }},
		{"voider replayed after target", func(tg, v store.Statement) [][]store.Statement { return [][]store.Statement{{v}, {tg}, {v}} }},
	}
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			s := open(t)
			target := S("t1", newID(), at(1), basic("ann", "did", "x"))
			voider := S("t1", newID(), at(2), voiding("admin", target.ID))
			other := S("t1", newID(), at(3), basic("ann", "did", "x"))
			for _, b := range o.batches(target, voider) {
				apply(t, s, b...)
			}
			apply(t, s, other)
			if plain, voided := visible(t, s, "t1", target.ID); plain || !voided {
				t.Fatalf("target: found plain=%v voided=%v, want only as voided", plain, voided)
			}
			if plain, voided := visible(t, s, "t1", voider.ID); !plain || voided {
				t.Fatalf("voiding statement: found plain=%v voided=%v, want only plain", plain, voided)
			}
			// The comparison rules see a statement whether or not it is voided.
			fps, err := s.Fingerprints(ctx(t), []store.StatementKey{{Tenant: "t1", ID: target.ID}, {Tenant: "t1", ID: voider.ID}, {Tenant: "t2", ID: target.ID}})
			want := map[store.StatementKey]string{{Tenant: "t1", ID: target.ID}: target.Fingerprint, {Tenant: "t1", ID: voider.ID}: voider.Fingerprint}
			if err != nil || !maps.Equal(fps, want) {
				t.Fatalf("Fingerprints = %v, %v; want %v", fps, err, want)
			}
			// Voided statements never appear in listings; the voiding
			// statement does, also when filtering on the target's fields.
			for _, q := range []store.Query{
				{Tenant: "t1"},
				{Tenant: "t1", Agent: `{"mbox":"mailto:ann@example.com"}`},
				{Tenant: "t1", Verb: "http://example.com/verbs/did"},
			} {
				got := ids(t, s, q)
				if want := []string{other.ID, voider.ID}; !slices.Equal(got, want) {
					t.Fatalf("listing %+v = %v, want %v", q, got, want)
				}
			}
		})
	}

	t.Run("a voiding statement cannot be voided", func(t *testing.T) {
		for _, voiderFirst := range []bool{false, true} {
			s := open(t)
			target := S("t1", newID(), at(1), basic("ann", "did", "x"))
			v1 := S("t1", newID(), at(2), voiding("admin", target.ID))
			v2 := S("t1", newID(), at(3), voiding("admin", v1.ID))
			if voiderFirst {
				apply(t, s, v2)
				apply(t, s, v1)
				apply(t, s, target)
			} else {
				apply(t, s, target, v1, v2)
			}
			if plain, _ := visible(t, s, "t1", v1.ID); !plain {
				t.Fatalf("voiderFirst=%v: the voided voiding statement is not visible", voiderFirst)
			}
			if _, voided := visible(t, s, "t1", target.ID); !voided {
				t.Fatalf("voiderFirst=%v: the target is not voided", voiderFirst)
			}
		}
	})

	t.Run("a conflicting voider voids nothing", func(t *testing.T) {
		s := open(t)
		target := S("t1", newID(), at(1), basic("ann", "did", "x"))
		taken := S("t1", newID(), at(2), basic("bob", "did", "y"))
		v := S("t1", taken.ID, at(3), voiding("admin", target.ID))
		apply(t, s, target, taken)
		if res := apply(t, s, v); len(res.Conflicts) != 1 {
			t.Fatalf("apply = %+v, want a conflict", res)
		}
		if plain, _ := visible(t, s, "t1", target.ID); !plain {
			t.Fatal("a conflicting voiding statement voided its target")
		}
	})
}

// testVoidingConcurrent writes targets, their voiders and statements
// referring to them in concurrent transactions: whichever commits first,
// each target ends voided and the others match the target's agent.
func testVoidingConcurrent(t *testing.T, open Factory) {
	s := open(t)
	const n = 30
	type trio struct{ target, voider, confirm store.Statement }
	var all []trio
	for i := range n {
		tg := S("t1", newID(), at(i), basic(fmt.Sprint("ann", i), "did", "x"))
		all = append(all, trio{
			target:  tg,
			voider:  S("t1", newID(), at(1000+i), voiding("admin", tg.ID)),
			confirm: S("t1", newID(), at(2000+i), ref("bob", "confirmed", tg.ID)),
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for _, tr := range all {
		for _, st := range []store.Statement{tr.target, tr.voider, tr.confirm} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.ApplyStatements(ctx(t), "g", []store.Statement{st}, nil); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent ApplyStatements: %v", err)
	}
	for i, tr := range all {
		if plain, voided := visible(t, s, "t1", tr.target.ID); plain || !voided {
			t.Fatalf("target %d: plain=%v voided=%v, want voided", i, plain, voided)
		}
		q := store.Query{Tenant: "t1", Agent: fmt.Sprintf(`{"mbox":"mailto:ann%d@example.com"}`, i)}
		if got, want := ids(t, s, q), []string{tr.confirm.ID, tr.voider.ID}; !slices.Equal(got, want) {
			t.Fatalf("statements of target %d's agent = %v, want its confirmation and voider %v", i, got, want)
		}
	}
	if got := ids(t, s, store.Query{Tenant: "t1"}); len(got) != 2*n {
		t.Fatalf("listing holds %d statements, want the %d voiding and referring statements", len(got), 2*n)
	}
}
