package store

import (
	"bytes"
	"reflect"
	"testing"
)

func TestMergeDefinition(t *testing.T) {
	cases := []struct {
		name, cur, next, want string
	}{
		{"first", ``, `{"name":{"en":"a"},"type":"http://t/1"}`, `{"name":{"en":"a"},"type":"http://t/1"}`},
		{"languages merge", `{"name":{"en":"a"}}`, `{"name":{"fr":"b"}}`, `{"name":{"en":"a","fr":"b"}}`},
		{"later language wins", `{"name":{"en":"a","fr":"b"}}`, `{"name":{"en":"A"}}`, `{"name":{"en":"A","fr":"b"}}`},
		{"extensions merge", `{"extensions":{"http://e/1":1}}`, `{"extensions":{"http://e/2":[2]}}`, `{"extensions":{"http://e/1":1,"http://e/2":[2]}}`},
		{"others replaced whole", `{"choices":[{"id":"a"}],"type":"http://t/1"}`, `{"choices":[{"id":"b"}]}`, `{"choices":[{"id":"b"}],"type":"http://t/1"}`},
		{"sorted and compact", ``, `{ "type" : "http://t/1", "name" : { "en" : "<&>" } }`, `{"name":{"en":"<&>"},"type":"http://t/1"}`},
	}
	for _, tc := range cases {
		got, err := mergeDefinition([]byte(tc.cur), []byte(tc.next))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: mergeDefinition = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if _, err := mergeDefinition([]byte(`{"name":{}}`), []byte(`[1]`)); err == nil {
		t.Error("mergeDefinition accepted a definition that is not an object")
	}
}

// TestDefinitionContains: the fast path says "no change" only when the
// merge would indeed change nothing.
func TestDefinitionContains(t *testing.T) {
	cur := `{"description":{"en":"d"},"extensions":{"http://e/1":{"a":1}},"name":{"en":"a","fr":"b"},"type":"http://t/1"}`
	cases := []struct {
		next string
		want bool
	}{
		{cur, true},
		{`{"name":{"fr":"b"}}`, true},
		{`{"type":"http://t/1","extensions":{"http://e/1":{"a":1}}}`, true},
		{`{}`, true},
		{`{"name":{"fr":"c"}}`, false},
		{`{"name":{"de":"b"}}`, false},
		{`{"type":"http://t/2"}`, false},
		{`{"moreInfo":"http://m"}`, false},
		{`{"extensions":{"http://e/1":{"a":2}}}`, false},
		{`{"name":{"fr": "b"}}`, true},
		{`{"extensions":{"http://e/1":{"a": 1}}}`, false}, // formatted otherwise: the full merge decides
		{`not json`, false},
	}
	for _, tc := range cases {
		got := definitionContains([]byte(cur), []byte(tc.next))
		if got != tc.want {
			t.Errorf("definitionContains(%s) = %v, want %v", tc.next, got, tc.want)
		}
		if got {
			merged, err := mergeDefinition([]byte(cur), []byte(tc.next))
			if err != nil || !bytes.Equal(merged, []byte(cur)) {
				t.Errorf("definitionContains(%s) but the merge gives %s", tc.next, merged)
			}
		}
	}
	if definitionContains(nil, []byte(`{}`)) {
		t.Error("an absent definition contains nothing")
	}
}

func TestStatementActivities(t *testing.T) {
	st := `{"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"http://v"},
	"object":{"objectType":"SubStatement","actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"http://v"},
		"object":{"id":"http://a/sub","definition":{"type":"http://t/sub"}},
		"context":{"contextActivities":{"parent":{"id":"http://a/subparent","definition":{"type":"http://t/p"}}}}},
	"context":{"contextActivities":{"grouping":[{"id":"http://a/g","definition":{"name":{"en":"g"}}},{"id":"http://a/nodef"}],
		"category":[{"objectType":"Activity","id":"http://a/cat","definition":{"type":"http://t/c"}}]}}}`
	acts, err := statementActivities("t1", []byte(st))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range acts {
		got[a.ID] = string(a.Definition)
		if a.Digest != keyDigest("t1", prefixActivity+a.ID) {
			t.Errorf("digest of %s is not its activity key's in the tenant", a.ID)
		}
	}
	want := map[string]string{
		"http://a/sub": `{"type":"http://t/sub"}`, "http://a/subparent": `{"type":"http://t/p"}`,
		"http://a/g": `{"name":{"en":"g"}}`, "http://a/cat": `{"type":"http://t/c"}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("statementActivities = %v, want %v", got, want)
	}
	// An Agent object and a StatementRef define no Activity.
	for _, st := range []string{
		`{"object":{"objectType":"Agent","mbox":"mailto:a@b.c","definition":{"type":"http://t"}}}`,
		`{"object":{"objectType":"StatementRef","id":"00000000-0000-4000-8000-000000000000"}}`,
	} {
		if acts, err := statementActivities("t1", []byte(st)); err != nil || len(acts) != 0 {
			t.Errorf("statementActivities(%s) = %v, %v; want none", st, acts, err)
		}
	}
}
