package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// The document resources (State, Activity Profile, Agent Profile) and the
// canonical Activity definitions merged from statements.

const (
	docActivity = "http://example.com/activities/doc"
	docAgent    = "mbox:mailto:ann@example.com"
	docReg      = "9e2d3b1c-6d4a-4f7e-8a1b-2c3d4e5f6a7b"
)

// testDocuments runs the document and Activity tests (one entry in Run).
func testDocuments(t *testing.T, open Factory) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"RoundTrip", testDocumentRoundTrip},
		{"Keys", testDocumentKeys},
		{"ListAndDelete", testDocumentListAndDelete},
		{"ConcurrentUpdates", testDocumentConcurrentUpdates},
		{"ActivityDefinitions", testActivityDefinitions},
		{"ActivityDefinitionsConcurrent", testActivityDefinitionsConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func stateKey(tenant, id, registration string) store.DocumentKey {
	return store.DocumentKey{ID: id, DocumentScope: store.DocumentScope{
		Tenant: tenant, Kind: store.KindState, ActivityID: docActivity, Agent: docAgent, Registration: registration}}
}

// put writes a document unconditionally.
func put(t *testing.T, s store.Store, k store.DocumentKey, contentType, content string) {
	t.Helper()
	err := s.UpdateDocument(ctx(t), k, func(*store.Document) (*store.Document, error) {
		return &store.Document{ContentType: contentType, Content: []byte(content)}, nil
	})
	if err != nil {
		t.Fatalf("UpdateDocument(%+v): %v", k, err)
	}
}

// content returns a document's content, or "" when it does not exist.
func content(t *testing.T, s store.Store, k store.DocumentKey) string {
	t.Helper()
	d, err := s.GetDocument(ctx(t), k)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("GetDocument(%+v): %v", k, err)
	}
	return string(d.Content)
}

func testDocumentRoundTrip(t *testing.T, open Factory) {
	s := open(t)
	k := stateKey("t1", "progress", "")
	if _, err := s.GetDocument(ctx(t), k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDocument before any write: %v, want ErrNotFound", err)
	}
	before := time.Now().Add(-time.Second)
	var seen []*store.Document
	write := func(ct string, body []byte) {
		t.Helper()
		if err := s.UpdateDocument(ctx(t), k, func(cur *store.Document) (*store.Document, error) {
			seen = append(seen, cur)
			return &store.Document{ContentType: ct, Content: body}, nil
		}); err != nil {
			t.Fatalf("UpdateDocument: %v", err)
		}
	}
	binary := []byte{0, 1, 2, 0xff, 0xfe, '"', '\n'}
	write("application/octet-stream", binary)
	got, err := s.GetDocument(ctx(t), k)
	if err != nil {
		t.Fatalf("GetDocument: %v", err)
	}
	if !bytes.Equal(got.Content, binary) || got.ContentType != "application/octet-stream" {
		t.Fatalf("GetDocument = %q (%s), want the bytes and type written", got.Content, got.ContentType)
	}
	if got.ETag != store.ETag(binary) || len(got.ETag) != 40 {
		t.Fatalf("ETag = %q, want the SHA-1 hex of the content %q", got.ETag, store.ETag(binary))
	}
	if got.Updated.Before(before) || got.Updated.After(time.Now().Add(time.Second)) {
		t.Fatalf("Updated = %v, want about now", got.Updated)
	}
	write("application/json; charset=utf-8", []byte(`{"a":1}`))
	if seen[0] != nil || seen[1] == nil || !bytes.Equal(seen[1].Content, binary) || seen[1].ETag != got.ETag {
		t.Fatalf("UpdateDocument passed %+v, want nil then the stored document", seen)
	}
	got2, err := s.GetDocument(ctx(t), k)
	if err != nil || string(got2.Content) != `{"a":1}` || got2.ContentType != "application/json; charset=utf-8" || got2.ETag == got.ETag {
		t.Fatalf("after replace: %+v, %v", got2, err)
	}

	// A failing update writes nothing and returns the callback's error.
	errNo := errors.New("precondition failed")
	err = s.UpdateDocument(ctx(t), k, func(*store.Document) (*store.Document, error) { return nil, errNo })
	if !errors.Is(err, errNo) {
		t.Fatalf("UpdateDocument with a failing callback: %v, want its error", err)
	}
	if c := content(t, s, k); c != `{"a":1}` {
		t.Fatalf("failed update changed the document to %q", c)
	}
	// Returning nil deletes; deleting what is absent is not an error.
	for range 2 {
		if err := s.UpdateDocument(ctx(t), k, func(*store.Document) (*store.Document, error) { return nil, nil }); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	if _, err := s.GetDocument(ctx(t), k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDocument after delete: %v, want ErrNotFound", err)
	}
}

// testDocumentKeys: every part of a key tells documents apart, tenants
// above all.
func testDocumentKeys(t *testing.T, open Factory) {
	s := open(t)
	base := stateKey("t1", "same-id", "")
	variants := []struct {
		name string
		key  func(store.DocumentKey) store.DocumentKey
	}{
		{"base", func(k store.DocumentKey) store.DocumentKey { return k }},
		{"other tenant", func(k store.DocumentKey) store.DocumentKey { k.Tenant = "t2"; return k }},
		{"other activity", func(k store.DocumentKey) store.DocumentKey { k.ActivityID += "/2"; return k }},
		{"other agent", func(k store.DocumentKey) store.DocumentKey { k.Agent = "mbox:mailto:bob@example.com"; return k }},
		{"registration", func(k store.DocumentKey) store.DocumentKey { k.Registration = docReg; return k }},
		{"other id", func(k store.DocumentKey) store.DocumentKey { k.ID = "same-id2"; return k }},
		{"activity profile", func(k store.DocumentKey) store.DocumentKey {
			k.Kind, k.Agent = store.KindActivityProfile, ""
			return k
		}},
		{"agent profile", func(k store.DocumentKey) store.DocumentKey {
			k.Kind, k.ActivityID = store.KindAgentProfile, ""
			return k
		}},
		// Fields that collide when naively concatenated stay apart.
		{"shifted boundary", func(k store.DocumentKey) store.DocumentKey {
			k.ActivityID, k.Agent = k.ActivityID+k.Agent[:4], k.Agent[4:]
			return k
		}},
	}
	for _, v := range variants {
		put(t, s, v.key(base), "text/plain", v.name)
	}
	for _, v := range variants {
		if got := content(t, s, v.key(base)); got != v.name {
			t.Errorf("%s: document holds %q, want its own", v.name, got)
		}
	}
	// A listing and a delete-all of t2 see nothing of t1.
	sc := base.DocumentScope
	sc.Tenant = "t2"
	if ids, err := s.ListDocumentIDs(ctx(t), sc, time.Time{}); err != nil || !reflect.DeepEqual(ids, []string{"same-id"}) {
		t.Fatalf("ListDocumentIDs(t2) = %v, %v; want [same-id]", ids, err)
	}
	if n, err := s.DeleteDocuments(ctx(t), sc); err != nil || n != 1 {
		t.Fatalf("DeleteDocuments(t2) = %d, %v; want 1", n, err)
	}
	if got := content(t, s, base); got != "base" {
		t.Fatalf("deleting t2's documents touched t1's: %q", got)
	}

	bad := []store.DocumentKey{
		{},
		{ID: "x", DocumentScope: store.DocumentScope{Tenant: "t1", Kind: store.KindState, ActivityID: docActivity}},
		{ID: "x", DocumentScope: store.DocumentScope{Tenant: "t1", Kind: store.KindAgentProfile, ActivityID: docActivity, Agent: docAgent}},
		{ID: "x", DocumentScope: store.DocumentScope{Tenant: "t1", Kind: store.KindActivityProfile, ActivityID: docActivity, Registration: docReg}},
		{DocumentScope: base.DocumentScope},
		{ID: "x", DocumentScope: store.DocumentScope{Tenant: "t1", Kind: 9, ActivityID: docActivity}},
	}
	for _, k := range bad {
		if err := s.UpdateDocument(ctx(t), k, func(*store.Document) (*store.Document, error) {
			return &store.Document{Content: []byte("x")}, nil
		}); err == nil {
			t.Errorf("UpdateDocument accepted the malformed key %+v", k)
		}
		if _, err := s.GetDocument(ctx(t), k); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetDocument(%+v) = %v, want a malformed-key error", k, err)
		}
	}
}

func testDocumentListAndDelete(t *testing.T, open Factory) {
	s := open(t)
	put(t, s, stateKey("t1", "b", ""), "text/plain", "1")
	put(t, s, stateKey("t1", "a", docReg), "text/plain", "2")
	put(t, s, stateKey("t1", "b", docReg), "text/plain", "3")
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	put(t, s, stateKey("t1", "c", ""), "text/plain", "4")
	put(t, s, stateKey("t1", "a", docReg), "text/plain", "2 again")

	all := stateKey("t1", "", "").DocumentScope
	reg := stateKey("t1", "", docReg).DocumentScope
	cases := []struct {
		name  string
		scope store.DocumentScope
		since time.Time
		want  []string
	}{
		{"every registration", all, time.Time{}, []string{"a", "b", "c"}},
		{"one registration", reg, time.Time{}, []string{"a", "b"}},
		{"since", all, mid, []string{"a", "c"}},
		{"since, one registration", reg, mid, []string{"a"}},
		{"since the future", all, time.Now().Add(time.Hour), []string{}},
	}
	for _, tc := range cases {
		got, err := s.ListDocumentIDs(ctx(t), tc.scope, tc.since)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ListDocumentIDs = %#v, %v; want %#v", tc.name, got, err, tc.want)
		}
	}

	if n, err := s.DeleteDocuments(ctx(t), reg); err != nil || n != 2 {
		t.Fatalf("DeleteDocuments(registration) = %d, %v; want 2", n, err)
	}
	if got, _ := s.ListDocumentIDs(ctx(t), all, time.Time{}); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Fatalf("after deleting one registration: %v, want [b c]", got)
	}
	if n, err := s.DeleteDocuments(ctx(t), all); err != nil || n != 2 {
		t.Fatalf("DeleteDocuments(all) = %d, %v; want 2", n, err)
	}
	if got, _ := s.ListDocumentIDs(ctx(t), all, time.Time{}); len(got) != 0 {
		t.Fatalf("after deleting all: %v", got)
	}
	if _, err := s.ListDocumentIDs(ctx(t), store.DocumentScope{Tenant: "t1", Kind: store.KindState}, time.Time{}); err == nil {
		t.Fatal("ListDocumentIDs accepted a State scope without activity and agent")
	}
}

// testDocumentConcurrentUpdates: read-modify-write callbacks racing on one
// key never lose an update, including the race to create it.
func testDocumentConcurrentUpdates(t *testing.T, open Factory) {
	s := open(t)
	k := store.DocumentKey{ID: "counter", DocumentScope: store.DocumentScope{Tenant: "t1", Kind: store.KindAgentProfile, Agent: docAgent}}
	const writers, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				err := s.UpdateDocument(ctx(t), k, func(cur *store.Document) (*store.Document, error) {
					n := 0
					if cur != nil {
						if err := json.Unmarshal(cur.Content, &n); err != nil {
							return nil, err
						}
					}
					return &store.Document{ContentType: "application/json", Content: fmt.Appendf(nil, "%d", n+1)}, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("UpdateDocument: %v", err)
	}
	if got := content(t, s, k); got != fmt.Sprint(writers*rounds) {
		t.Fatalf("counter = %s after %d increments: updates were lost", got, writers*rounds)
	}
}

func withDefinition(actor, id string, def map[string]any) map[string]any {
	st := basic(actor, "did", "x")
	st["object"] = map[string]any{"objectType": "Activity", "id": id, "definition": def}
	return st
}

func definition(t *testing.T, s store.Store, tenant, id string) map[string]any {
	t.Helper()
	a, err := s.GetActivity(ctx(t), tenant, id)
	if err != nil {
		t.Fatalf("GetActivity(%s, %s): %v", tenant, id, err)
	}
	var def map[string]any
	if err := json.Unmarshal(a.Definition, &def); err != nil {
		t.Fatalf("definition of %s is not JSON: %s", id, a.Definition)
	}
	return def
}

func testActivityDefinitions(t *testing.T, open Factory) {
	s := open(t)
	const act = "http://example.com/activities/meeting"
	second := S("t1", newID(), at(2), withDefinition("bob", act, map[string]any{
		"type": "http://example.com/types/session", "name": map[string]any{"fr-FR": "réunion <&>"},
		"description": map[string]any{"en-US": "weekly"}, "extensions": map[string]any{"http://example.com/ext/b": 2}}))
	// json.Marshal escaped <&>; a client need not.
	second.JSON = bytes.ReplaceAll(second.JSON, []byte(`\u003c\u0026\u003e`), []byte("<&>"))
	apply(t, s,
		S("t1", newID(), at(1), withDefinition("ann", act, map[string]any{
			"type": "http://example.com/types/meeting", "name": map[string]any{"en-US": "meeting"},
			"extensions": map[string]any{"http://example.com/ext/a": 1}})),
		second,
	)
	// A later batch replaces one language and adds moreInfo.
	apply(t, s, S("t1", newID(), at(3), withDefinition("cat", act, map[string]any{
		"name": map[string]any{"en-US": "Meeting"}, "moreInfo": "http://example.com/more"})))
	want := map[string]any{
		"type":        "http://example.com/types/session",
		"name":        map[string]any{"en-US": "Meeting", "fr-FR": "réunion <&>"},
		"description": map[string]any{"en-US": "weekly"},
		"extensions":  map[string]any{"http://example.com/ext/a": 1.0, "http://example.com/ext/b": 2.0},
		"moreInfo":    "http://example.com/more",
	}
	if got := definition(t, s, "t1", act); !reflect.DeepEqual(got, want) {
		t.Fatalf("merged definition = %v, want %v", got, want)
	}
	a, _ := s.GetActivity(ctx(t), "t1", act)
	if !bytes.Contains(a.Definition, []byte("<&>")) {
		t.Errorf("definition is HTML-escaped: %s", a.Definition)
	}

	// Context activities and a SubStatement's object and context count too.
	sub := basic("dan", "did", "x")
	sub["context"] = map[string]any{"contextActivities": map[string]any{
		"parent":   []any{map[string]any{"id": "http://example.com/activities/course", "definition": map[string]any{"name": map[string]any{"en": "course"}}}},
		"grouping": map[string]any{"id": "http://example.com/activities/program", "definition": map[string]any{"name": map[string]any{"en": "program"}}},
	}}
	sub["object"] = map[string]any{"objectType": "SubStatement", "actor": mbox("eve"), "verb": verb("plans"),
		"object":  map[string]any{"id": "http://example.com/activities/sub", "definition": map[string]any{"name": map[string]any{"en": "sub"}}},
		"context": map[string]any{"contextActivities": map[string]any{"other": []any{map[string]any{"id": "http://example.com/activities/subctx", "definition": map[string]any{"type": "http://example.com/types/x"}}}}},
	}
	apply(t, s, S("t1", newID(), at(4), sub))
	for id, want := range map[string]map[string]any{
		"http://example.com/activities/course":  {"name": map[string]any{"en": "course"}},
		"http://example.com/activities/program": {"name": map[string]any{"en": "program"}},
		"http://example.com/activities/sub":     {"name": map[string]any{"en": "sub"}},
		"http://example.com/activities/subctx":  {"type": "http://example.com/types/x"},
	} {
		if got := definition(t, s, "t1", id); !reflect.DeepEqual(got, want) {
			t.Errorf("definition of %s = %v, want %v", id, got, want)
		}
	}

	// Tenants do not share definitions; an Activity without one is unknown.
	apply(t, s, S("t2", newID(), at(5), withDefinition("ann", act, map[string]any{"name": map[string]any{"de": "Treffen"}})))
	if got := definition(t, s, "t2", act); !reflect.DeepEqual(got, map[string]any{"name": map[string]any{"de": "Treffen"}}) {
		t.Errorf("t2's definition = %v, want only its own", got)
	}
	if got := definition(t, s, "t1", act); !reflect.DeepEqual(got, want) {
		t.Errorf("t2's statement changed t1's definition to %v", got)
	}
	apply(t, s, S("t1", newID(), at(6), basic("ann", "did", "undefined")))
	for _, id := range []string{"http://example.com/activities/undefined", "http://example.com/activities/never"} {
		if _, err := s.GetActivity(ctx(t), "t1", id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetActivity(%s): %v, want ErrNotFound", id, err)
		}
	}
	// A replayed statement changes nothing.
	before, _ := s.GetActivity(ctx(t), "t1", act)
	st := S("t1", newID(), at(7), withDefinition("ann", act, map[string]any{"name": map[string]any{"en-US": "meeting"}}))
	apply(t, s, st)
	after, _ := s.GetActivity(ctx(t), "t1", act)
	if !after.Updated.After(before.Updated) {
		t.Errorf("a changing statement did not move Updated: %v -> %v", before.Updated, after.Updated)
	}
	apply(t, s, st)
	again, _ := s.GetActivity(ctx(t), "t1", act)
	if !bytes.Equal(again.Definition, after.Definition) || !again.Updated.Equal(after.Updated) {
		t.Errorf("a replayed statement rewrote the definition: %s at %v", again.Definition, again.Updated)
	}
}

// testActivityDefinitionsConcurrent: batches merging into the same
// Activity at once lose no language.
func testActivityDefinitionsConcurrent(t *testing.T, open Factory) {
	s := open(t)
	const act = "http://example.com/activities/busy"
	langs := []string{"en", "fr", "de", "es", "it", "nl", "pt", "sv"}
	var wg sync.WaitGroup
	errs := make(chan error, len(langs))
	for i, lang := range langs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := S("t1", newID(), at(i), withDefinition("ann", act, map[string]any{"name": map[string]any{lang: lang}}))
			if _, err := s.ApplyStatements(ctx(t), "g", []store.Statement{st}, nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ApplyStatements: %v", err)
	}
	name, _ := definition(t, s, "t1", act)["name"].(map[string]any)
	if len(name) != len(langs) {
		t.Fatalf("name = %v after %d concurrent batches: languages were lost", name, len(langs))
	}
}
