package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// withAttachment adds an attachment of hash sha2 to a statement body.
func withAttachment(body map[string]any, sha2 string) map[string]any {
	body["attachments"] = []any{map[string]any{"usageType": "http://example.com/usage", "display": map[string]any{"en-US": "file"},
		"contentType": "text/plain", "length": 1, "sha2": sha2}}
	return body
}

// An erasure removes every statement naming the agent (actor, context,
// group member, SubStatement; not the authority) up to its time, the
// attachments no other statement names and the agent's documents, and
// nothing else; its dry run counts the same and changes nothing; a second
// copy removes nothing more; the record keeps no identifier in clear.
func testErasure(t *testing.T, open Factory) {
	s := open(t)
	const t1, t2 = "t1", "t2"
	ana := mbox("ana")
	anaJSON, _ := json.Marshal(ana)
	attOnly, attShared := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	before := at(100)

	erased := map[string]store.Statement{
		"actor":        S(t1, newID(), at(1), basic("ana", "did", "x")),
		"instructor":   S(t1, newID(), at(2), map[string]any{"actor": mbox("bob"), "verb": verb("taught"), "object": activity("x"), "context": map[string]any{"instructor": ana}}),
		"group member": S(t1, newID(), at(3), map[string]any{"actor": mbox("bob"), "verb": verb("met"), "object": map[string]any{"objectType": "Group", "member": []any{ana, mbox("eve")}}}),
		"substatement": S(t1, newID(), at(4), map[string]any{"actor": mbox("bob"), "verb": verb("saw"), "object": map[string]any{"objectType": "SubStatement", "actor": ana, "verb": verb("did"), "object": activity("y")}}),
		"attachment":   S(t1, newID(), at(5), withAttachment(basic("ana", "sent", "x"), attOnly)),
		"shared att":   S(t1, newID(), at(6), withAttachment(basic("ana", "sent", "x"), attShared)),
	}
	authority := basic("bob", "did", "x")
	authority["authority"] = ana
	kept := map[string]store.Statement{
		"as authority":    S(t1, newID(), at(7), authority),
		"refers to ana's": S(t1, newID(), at(8), ref("bob", "liked", erased["actor"].ID)),
		"voids ana's":     S(t1, newID(), at(9), voiding("bob", erased["substatement"].ID)),
		"shares the att":  S(t1, newID(), at(10), withAttachment(basic("bob", "sent", "x"), attShared)),
		"after the time":  S(t1, newID(), at(200), basic("ana", "did", "z")),
	}
	other := S(t2, newID(), at(1), basic("ana", "did", "x"))
	var all []store.Statement
	for _, st := range erased {
		all = append(all, st)
	}
	for _, st := range kept {
		all = append(all, st)
	}
	apply(t, s, append(all, other)...)
	for _, tenant := range []string{t1, t2} {
		if err := s.PutAttachments(ctx(t), tenant, []store.Attachment{
			{SHA2: attOnly, ContentType: "text/plain", Content: []byte("1")},
			{SHA2: attShared, ContentType: "text/plain", Content: []byte("2")},
		}); err != nil {
			t.Fatalf("PutAttachments: %v", err)
		}
	}
	anaState := store.DocumentKey{ID: "s", DocumentScope: store.DocumentScope{Tenant: t1, Kind: store.KindState, ActivityID: actURL("x"), Agent: "mbox:mailto:ana@example.com"}}
	anaProfile := store.DocumentKey{ID: "p", DocumentScope: store.DocumentScope{Tenant: t1, Kind: store.KindAgentProfile, Agent: "mbox:mailto:ana@example.com"}}
	bobState := store.DocumentKey{ID: "s", DocumentScope: store.DocumentScope{Tenant: t1, Kind: store.KindState, ActivityID: actURL("x"), Agent: "mbox:mailto:bob@example.com"}}
	activityProfile := store.DocumentKey{ID: "a", DocumentScope: store.DocumentScope{Tenant: t1, Kind: store.KindActivityProfile, ActivityID: actURL("x")}}
	otherState := anaState
	otherState.Tenant = t2
	for _, k := range []store.DocumentKey{anaState, anaProfile, bobState, activityProfile, otherState} {
		put(t, s, k, "text/plain", "doc")
	}

	e := store.Erasure{ID: newID(), Tenant: t1, Agent: anaJSON, Before: before, RequestedBy: "dpo ticket 7"}
	want := store.ErasureCounts{Statements: len(erased), Attachments: 1, Documents: 2}
	dry, err := s.CountErasure(ctx(t), e)
	if err != nil || dry != want {
		t.Fatalf("CountErasure = %+v, %v; want %+v", dry, err, want)
	}
	if ok, _ := visible(t, s, t1, erased["actor"].ID); !ok {
		t.Fatal("the dry run removed a statement")
	}
	if n, err := s.ListErasures(ctx(t), t1, 10); err != nil || len(n) != 0 {
		t.Fatalf("ListErasures after the dry run = %+v, %v; want none", n, err)
	}

	got, err := s.EraseAgent(ctx(t), "g", e, []store.Offset{{Topic: "st", Partition: 3, Next: 42}})
	if err != nil || got != want {
		t.Fatalf("EraseAgent = %+v, %v; want %+v", got, err, want)
	}
	for name, st := range erased {
		if ok, voided := visible(t, s, t1, st.ID); ok || voided {
			t.Errorf("%s: statement still readable (voided=%v)", name, voided)
		}
	}
	for name, st := range kept {
		if ok, _ := visible(t, s, t1, st.ID); !ok {
			t.Errorf("%s: statement erased, want it kept", name)
		}
	}
	if ok, _ := visible(t, s, t2, other.ID); !ok {
		t.Error("the other tenant's statement was erased")
	}
	related := ids(t, s, store.Query{Tenant: t1, Agent: string(anaJSON), RelatedAgents: true})
	if w := []string{kept["as authority"].ID, kept["after the time"].ID}; !sameSet(related, w) {
		t.Errorf("agent=ana&related_agents=true lists %v, want %v (authority and later statements only)", related, w)
	}
	if direct := ids(t, s, store.Query{Tenant: t1, Agent: string(anaJSON)}); !sameSet(direct, []string{kept["after the time"].ID}) {
		t.Errorf("agent=ana lists %v, want only the later statement", direct)
	}
	for tenant, want := range map[string]int{t1: 1, t2: 2} {
		atts, err := s.GetAttachments(ctx(t), tenant, []string{attOnly, attShared})
		if err != nil || len(atts) != want {
			t.Errorf("%s: GetAttachments = %d bodies, %v; want %d", tenant, len(atts), err, want)
		}
	}
	for k, want := range map[store.DocumentKey]string{anaState: "", anaProfile: "", bobState: "doc", activityProfile: "doc", otherState: "doc"} {
		if got := content(t, s, k); got != want {
			t.Errorf("document %+v = %q, want %q", k.DocumentScope, got, want)
		}
	}
	if offs, err := s.AppliedOffsets(ctx(t), "g", "st"); err != nil || offs[3] != 42 {
		t.Errorf("AppliedOffsets = %v, %v; want partition 3 at 42", offs, err)
	}

	// The copy of another partition finds nothing more.
	again, err := s.EraseAgent(ctx(t), "g", e, []store.Offset{{Topic: "st", Partition: 4, Next: 7}})
	if err != nil || again != (store.ErasureCounts{}) {
		t.Fatalf("EraseAgent again = %+v, %v; want nothing removed", again, err)
	}
	recs, err := s.ListErasures(ctx(t), t1, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("ListErasures = %+v, %v; want one", recs, err)
	}
	r := recs[0]
	hash, err := s.AgentHash(ctx(t), t1, anaJSON)
	if err != nil {
		t.Fatalf("AgentHash: %v", err)
	}
	if r.ID != e.ID || r.RequestedBy != e.RequestedBy || !r.Before.Equal(before) || r.ErasureCounts != want || r.Copies != 2 || r.AgentHash != hash || r.Applied.IsZero() {
		t.Errorf("erasure record = %+v, want id %s, counts %+v, 2 copies, hash %s", r, e.ID, want, hash)
	}
	if strings.Contains(r.AgentHash, "ana") || len(r.AgentHash) != 64 {
		t.Errorf("agent hash %q: want 64 hex digits, no identifier", r.AgentHash)
	}
	if h2, _ := s.AgentHash(ctx(t), t2, anaJSON); h2 == hash {
		t.Error("the agent hash is the same in two tenants")
	}
	if recs, _ := s.ListErasures(ctx(t), t2, 10); len(recs) != 0 {
		t.Errorf("ListErasures of the other tenant = %+v, want none", recs)
	}

	if _, err := s.CountErasure(ctx(t), store.Erasure{ID: newID(), Tenant: t1, Agent: []byte(`{"name":"no ifi"}`), Before: before}); err == nil {
		t.Error("CountErasure accepted an agent without an identifier")
	}
}

// Retention purges statements stored before a time, in bounded rounds,
// with their unreferenced attachments; its dry run only counts.
func testRetention(t *testing.T, open Factory) {
	s := open(t)
	if err := s.CreateTenant(ctx(t), store.Tenant{ID: "t1", Name: "T1"}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	tn, err := s.SetTenantRetention(ctx(t), "t1", 48*time.Hour)
	if err != nil || tn.Retention != 48*time.Hour {
		t.Fatalf("SetTenantRetention = %+v, %v; want 48h", tn, err)
	}
	if tn, err := s.GetTenant(ctx(t), "t1"); err != nil || tn.Retention != 48*time.Hour {
		t.Fatalf("GetTenant = %+v, %v; want retention 48h", tn, err)
	}
	if _, err := s.SetTenantRetention(ctx(t), "missing", time.Hour); err == nil {
		t.Error("SetTenantRetention of a missing tenant succeeded")
	}
	att := strings.Repeat("c3", 32)
	old := []store.Statement{
		S("t1", newID(), at(1), basic("ana", "did", "x")),
		S("t1", newID(), at(2), withAttachment(basic("ana", "did", "x"), att)),
		S("t1", newID(), at(3), basic("bob", "did", "x")),
	}
	young := S("t1", newID(), at(50), basic("ana", "did", "x"))
	otherTenant := S("t2", newID(), at(1), basic("ana", "did", "x"))
	apply(t, s, append(old, young, otherTenant)...)
	if err := s.PutAttachments(ctx(t), "t1", []store.Attachment{{SHA2: att, ContentType: "text/plain", Content: []byte("1")}}); err != nil {
		t.Fatalf("PutAttachments: %v", err)
	}
	if n, err := s.PurgeBefore(ctx(t), "t1", at(10), 2, true); err != nil || n.Statements != 3 {
		t.Fatalf("PurgeBefore dry run = %+v, %v; want 3 statements", n, err)
	}
	total := 0
	for round := 0; ; round++ {
		n, err := s.PurgeBefore(ctx(t), "t1", at(10), 2, false)
		if err != nil {
			t.Fatalf("PurgeBefore: %v", err)
		}
		total += n.Statements
		if n.Statements < 2 || round > 3 {
			break
		}
	}
	if total != 3 {
		t.Fatalf("PurgeBefore removed %d statements, want 3", total)
	}
	if got := ids(t, s, store.Query{Tenant: "t1"}); !sameSet(got, []string{young.ID}) {
		t.Errorf("t1 lists %v, want only the young statement", got)
	}
	if got := ids(t, s, store.Query{Tenant: "t1", Agent: `{"mbox":"mailto:ana@example.com"}`}); !sameSet(got, []string{young.ID}) {
		t.Errorf("t1 agent=ana lists %v, want only the young statement", got)
	}
	if ok, _ := visible(t, s, "t2", otherTenant.ID); !ok {
		t.Error("the other tenant's statement was purged")
	}
	if atts, err := s.GetAttachments(ctx(t), "t1", []string{att}); err != nil || len(atts) != 0 {
		t.Errorf("the purged statement's attachment stays: %d, %v", len(atts), err)
	}
}
