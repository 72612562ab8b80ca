package xapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatExact, "exact": FormatExact, "ids": FormatIDs, "canonical": FormatCanonical} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"IDS", "full", " exact"} {
		if _, err := ParseFormat(in); err == nil {
			t.Errorf("ParseFormat(%q) accepted", in)
		}
	}
}

func TestParseAcceptLanguage(t *testing.T) {
	cases := map[string][]string{
		"":                            {},
		"en-GB":                       {"en-GB"},
		"en-US,en;q=0.8":              {"en-US", "en"},
		"fr;q=0.5, de, en;q=0.9":      {"de", "en", "fr"},
		"da, en-gb;q=0.8, en;q=0.7":   {"da", "en-gb", "en"},
		"en;q=0, fr":                  {"fr"},
		"en;q=abc, fr;q=2, es;q=0.1 ": {"es"},
		"*;q=0.1, nl":                 {"nl", "*"},
	}
	for in, want := range cases {
		if got := ParseAcceptLanguage(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseAcceptLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

const formatSource = `{"actor":{"objectType":"Agent","name":"Ada","mbox":"mailto:ada@example.com"},
"verb":{"id":"http://example.com/verbs/planned","display":{"en-US":"planned","en-GB":"planned (GB)","de":"geplant"}},
"object":{"objectType":"SubStatement",
	"actor":{"objectType":"Group","name":"Blue","mbox":"mailto:blue@example.com","member":[{"mbox":"mailto:a@example.com","name":"A"}]},
	"verb":{"id":"http://example.com/verbs/visit","display":{"en-US":"visit"}},
	"object":{"objectType":"Activity","id":"http://example.com/site","definition":{"name":{"fr":"site","en-US":"site (US)"},
		"type":"http://example.com/types/site","interactionType":"choice","choices":[{"id":"a","description":{"en-GB":"A (GB)","fr":"A (fr)"}}]}}},
"context":{"instructor":{"objectType":"Group","name":"Pair","member":[{"name":"T","account":{"homePage":"https://lms.example.com","name":"t"}}]},
	"contextActivities":{"parent":[{"id":"http://example.com/p","definition":{"name":{"en-GB":"P"}}}]}},
"authority":{"objectType":"Agent","name":"LMS","mbox":"mailto:lms@example.com"}}`

func formatted(t *testing.T, f Format, langs []string) map[string]any {
	t.Helper()
	ps, err := PrepareStatements([]byte(formatSource), V2_0_0, testAssign())
	if err != nil {
		t.Fatal(err)
	}
	out, err := FormatStatement(ps[0].JSON, f, langs)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s output is not JSON: %v\n%s", f, err, out)
	}
	return m
}

func at(m any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m = m.(map[string]any)[k]
		case int:
			m = m.([]any)[k]
		}
	}
	return m
}

func TestFormatIDs(t *testing.T) {
	m := formatted(t, FormatIDs, nil)
	cases := []struct {
		path []any
		want string
	}{
		{[]any{"actor"}, `{"mbox":"mailto:ada@example.com","objectType":"Agent"}`},
		{[]any{"verb"}, `{"id":"http://example.com/verbs/planned"}`},
		{[]any{"object", "actor"}, `{"mbox":"mailto:blue@example.com","objectType":"Group"}`},
		{[]any{"object", "verb"}, `{"id":"http://example.com/verbs/visit"}`},
		{[]any{"object", "object"}, `{"id":"http://example.com/site"}`},
		{[]any{"context", "instructor"}, `{"member":[{"account":{"homePage":"https://lms.example.com","name":"t"}}],"objectType":"Group"}`},
		{[]any{"context", "contextActivities", "parent"}, `[{"id":"http://example.com/p"}]`},
		{[]any{"authority"}, `{"mbox":"mailto:lms@example.com","objectType":"Agent"}`},
		{[]any{"version"}, `"2.0.0"`},
	}
	for _, c := range cases {
		got, _ := json.Marshal(at(m, c.path...))
		if string(got) != c.want {
			t.Errorf("ids %v = %s, want %s", c.path, got, c.want)
		}
	}
}

func TestFormatCanonical(t *testing.T) {
	cases := []struct {
		langs []string
		path  []any
		want  string
	}{
		{[]string{"en-GB"}, []any{"verb", "display"}, `{"en-GB":"planned (GB)"}`},
		{[]string{"en-GB"}, []any{"object", "object", "definition", "name"}, `{"en-US":"site (US)"}`},
		{[]string{"en-GB"}, []any{"object", "object", "definition", "choices", 0, "description"}, `{"en-GB":"A (GB)"}`},
		{[]string{"en"}, []any{"verb", "display"}, `{"en-US":"planned"}`},
		{[]string{"de", "en"}, []any{"verb", "display"}, `{"de":"geplant"}`},
		{[]string{"ja"}, []any{"verb", "display"}, `{"en-US":"planned"}`},
		{nil, []any{"object", "object", "definition", "name"}, `{"fr":"site"}`},
		{[]string{"fr"}, []any{"object", "object", "definition", "type"}, `"http://example.com/types/site"`},
		{[]string{"fr"}, []any{"actor"}, `{"mbox":"mailto:ada@example.com","name":"Ada","objectType":"Agent"}`},
	}
	for _, c := range cases {
		got, _ := json.Marshal(at(formatted(t, FormatCanonical, c.langs), c.path...))
		if string(got) != c.want {
			t.Errorf("canonical %v %v = %s, want %s", c.langs, c.path, got, c.want)
		}
	}
}

func TestFormatExactIsStored(t *testing.T) {
	ps, err := PrepareStatements([]byte(formatSource), V1_0_3, testAssign())
	if err != nil {
		t.Fatal(err)
	}
	out, err := FormatStatement(ps[0].JSON, FormatExact, []string{"de"})
	if err != nil || string(out) != string(ps[0].JSON) {
		t.Errorf("exact changed the statement: %v\n%s", err, out)
	}
	if _, err := FormatStatement([]byte(`[1]`), FormatIDs, nil); err == nil {
		t.Error("a non-statement was formatted")
	}
}
