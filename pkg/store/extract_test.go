package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExtract(t *testing.T) {
	const target = "9c4f5e3a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	cases := []struct {
		name    string
		json    string
		keys    []string // "key" direct, "~key" related only
		ref     string
		voiding bool
	}{
		{
			name: "activity object, registration in upper case",
			json: `{"actor":{"mbox":"mailto:a@x"},"verb":{"id":"http://v/did"},"object":{"id":"http://act/1"},
				"context":{"registration":"6F1A9A27-5A1F-4BB2-9F49-0D4CF3C1C8A1"}}`,
			keys: []string{"v:http://v/did", "g:mbox:mailto:a@x", "r:6f1a9a27-5a1f-4bb2-9f49-0d4cf3c1c8a1", "c:http://act/1"},
		},
		{
			name: "identified group actor with members, agent object, authority",
			json: `{"actor":{"objectType":"Group","openid":"http://g","member":[{"mbox_sha1sum":"abc"},{"account":{"homePage":"http://h","name":"n"}}]},
				"verb":{"id":"http://v/met"},"object":{"objectType":"Agent","mbox":"mailto:b@x"},"authority":{"mbox":"mailto:lms@x"}}`,
			keys: []string{"v:http://v/met", "g:openid:http://g", "g:sha1:abc", "g:account:http://h\nn", "~g:mbox:mailto:lms@x", "a:mbox:mailto:lms@x", "g:mbox:mailto:b@x"},
		},
		{
			name: "context agents, groups and activities, single-object context activity",
			json: `{"actor":{"mbox":"mailto:a@x"},"verb":{"id":"http://v/did"},"object":{"objectType":"Activity","id":"http://act/1"},
				"context":{"instructor":{"mbox":"mailto:i@x"},"team":{"objectType":"Group","member":[{"mbox":"mailto:t@x"}]},
				"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:ca@x"}}],
				"contextGroups":[{"objectType":"contextGroup","group":{"objectType":"Group","mbox":"mailto:cg@x"}}],
				"contextActivities":{"parent":[{"id":"http://p"}],"grouping":[{"id":"http://g"}],"category":{"id":"http://c"},"other":[{"id":"http://act/1"}]}}}`,
			keys: []string{"v:http://v/did", "g:mbox:mailto:a@x", "~g:mbox:mailto:i@x", "~g:mbox:mailto:t@x", "~g:mbox:mailto:ca@x",
				"~g:mbox:mailto:cg@x", "~c:http://p", "~c:http://g", "~c:http://c", "c:http://act/1"},
		},
		{
			name: "substatement parts are related only, its registration is not indexed",
			json: `{"actor":{"mbox":"mailto:a@x"},"verb":{"id":"http://v/said"},"object":{"objectType":"SubStatement",
				"actor":{"mbox":"mailto:s@x"},"verb":{"id":"http://v/did"},"object":{"id":"http://act/2"},
				"context":{"registration":"6f1a9a27-5a1f-4bb2-9f49-0d4cf3c1c8a1","contextActivities":{"parent":[{"id":"http://p"}]}}}}`,
			keys: []string{"v:http://v/said", "g:mbox:mailto:a@x", "~g:mbox:mailto:s@x", "~c:http://act/2", "~c:http://p"},
		},
		{
			name:    "voiding statement",
			json:    `{"actor":{"mbox":"mailto:a@x"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"` + strings.ToUpper(target) + `"}}`,
			keys:    []string{"v:http://adlnet.gov/expapi/verbs/voided", "g:mbox:mailto:a@x"},
			ref:     target,
			voiding: true,
		},
		{
			name: "plain StatementRef",
			json: `{"actor":{"mbox":"mailto:a@x"},"verb":{"id":"http://v/confirmed"},"object":{"objectType":"StatementRef","id":"` + target + `"}}`,
			keys: []string{"v:http://v/confirmed", "g:mbox:mailto:a@x"},
			ref:  target,
		},
		{
			name: "escapes, and brackets and quotes inside skipped strings",
			json: `{"actor":{"mbox":"mailto:a\u0040x","name":"q\"uote\\"},"verb":{"id":"http:\/\/v\/did"},
				"object":{"id":"http://act/1","definition":{"name":{"en":"}]\"{[\\"}}},"result":{"score":{"raw":-1.5e3},"success":true}}`,
			keys: []string{"v:http://v/did", "g:mbox:mailto:a@x", "c:http://act/1"},
		},
		{
			name: "anonymous group actor contributes its members only",
			json: `{"actor":{"objectType":"Group","member":[{"mbox":"mailto:m@x"}]},"verb":{"id":"http://v/did"},"object":{"id":"http://act/1"}}`,
			keys: []string{"v:http://v/did", "g:mbox:mailto:m@x", "c:http://act/1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, err := extract([]byte(tc.json))
			if err != nil {
				t.Fatalf("extract: %v", err)
			}
			var got []string
			for _, k := range x.Keys {
				if k.Direct {
					got = append(got, k.Key)
				} else {
					got = append(got, "~"+k.Key)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.keys))
			if !slices.Equal(got, want) {
				t.Errorf("keys = %q\nwant   %q", got, want)
			}
			if x.Ref != tc.ref || x.Voiding != tc.voiding {
				t.Errorf("ref, voiding = %q, %v; want %q, %v", x.Ref, x.Voiding, tc.ref, tc.voiding)
			}
		})
	}
	// Malformed JSON, also where the walker skips a value unread (result,
	// definition): the statement is refused, never misread around it.
	for _, bad := range []string{`{"actor":`, `{"actor":{"mbox":"x"}`, `{"a" 1}`, `[`, `{"a":1,}`, `{"a":"x`, `{"verb":{"id":"\u12"}}`, ``,
		`{"result":[1},"verb":{"id":"http://v/did"}}`, `{"object":{"id":"http://act/1","definition":{"name":{"en":"x"]}}}`,
		`{"result":{"score":{"raw":1,}},"verb":{"id":"http://v/did"}}`, `{"result":{"response":"\q"}}`, `{"result":[1,,2]}`} {
		if _, err := extract([]byte(bad)); err == nil {
			t.Errorf("extract accepted malformed JSON %q", bad)
		}
	}
}

func TestAgentKey(t *testing.T) {
	cases := []struct {
		agent, want string
		ok          bool
	}{
		{`{"objectType":"Agent","mbox":"mailto:a@x"}`, "g:mbox:mailto:a@x", true},
		{`{"account":{"homePage":"http://h","name":"n"}}`, "g:account:http://h\nn", true},
		{`{"objectType":"Group","mbox_sha1sum":"abc","member":[]}`, "g:sha1:abc", true},
		{`{"name":"nobody"}`, "", false},
		{`[1]`, "", false},
	}
	for _, tc := range cases {
		got, err := agentKey(tc.agent)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("agentKey(%s) = %q, %v; want %q, ok=%v", tc.agent, got, err, tc.want, tc.ok)
		}
	}
}

var testCursorKey = []byte("0123456789abcdef0123456789abcdef")

func TestCursorRoundTrip(t *testing.T) {
	l, err := normalize(Query{Tenant: "t", Agent: `{"mbox":"mailto:a@x"}`, RelatedAgents: true, Verb: "http://v",
		Since: time.UnixMicro(5), Until: time.UnixMicro(9), Limit: 7, Ascending: true}, testCursorKey)
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	l.After = &position{Stored: 8, ID: "00000000-0000-4000-8000-000000000001"}
	back, err := normalize(Query{Tenant: "t", Cursor: encodeCursor(l, testCursorKey)}, testCursorKey)
	if err != nil {
		t.Fatalf("normalize cursor: %v", err)
	}
	if !reflect.DeepEqual(back, l) {
		t.Fatalf("cursor round trip = %+v, want %+v", back, l)
	}
	if l.Keys[0] != (keyFilter{Key: "g:mbox:mailto:a@x"}) || l.Keys[1] != (keyFilter{Key: "v:http://v", Direct: true}) {
		t.Fatalf("keys = %+v: want the related agent first, then the verb", l.Keys)
	}
	if l, _ := normalize(Query{Tenant: "t", Limit: MaxLimit + 1}, testCursorKey); l.Limit != MaxLimit {
		t.Fatalf("limit above the maximum = %d, want %d", l.Limit, MaxLimit)
	}
}

// TestCursorRefusesWhatTheStoreDidNotMake: a cursor is accepted only as the
// store signed it; a forged, re-signed-elsewhere, edited or oversized one
// is an invalid query.
func TestCursorRefusesWhatTheStoreDidNotMake(t *testing.T) {
	l := listing{Tenant: "t", Limit: 10, After: &position{Stored: 1, ID: "00000000-0000-4000-8000-000000000001"}}
	good := encodeCursor(l, testCursorKey)
	many := l
	for i := range 5000 {
		many.Keys = append(many.Keys, keyFilter{Key: fmt.Sprint("v:", i)})
	}
	unsigned, _ := json.Marshal(l)
	payload, _, _ := strings.Cut(good, ".")
	edited := l
	edited.Tenant = "other"
	editedPayload, _, _ := strings.Cut(encodeCursor(edited, testCursorKey), ".")
	_, sig, _ := strings.Cut(good, ".")
	for name, c := range map[string]string{
		"unsigned (the old format)": base64.RawURLEncoding.EncodeToString(unsigned),
		"no signature":              payload + ".",
		"another key":               encodeCursor(l, []byte("another key of thirty-two bytes!")),
		"edited payload":            editedPayload + "." + sig,
		"thousands of keys":         encodeCursor(many, testCursorKey),
		"six keys, signed":          encodeCursor(listing{Tenant: "t", Limit: 1, After: l.After, Keys: make([]keyFilter, 6)}, testCursorKey),
	} {
		if _, err := decodeCursor(c, testCursorKey); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: decodeCursor = %v, want ErrInvalidQuery", name, err)
		}
	}
	if _, err := decodeCursor(good, testCursorKey); err != nil {
		t.Fatalf("the store's own cursor: %v", err)
	}
}

// FuzzDecodeCursor: whatever a client sends as `more`, decoding returns a
// listing or ErrInvalidQuery, never panics, and accepts only signed cursors.
func FuzzDecodeCursor(f *testing.F) {
	l := listing{Tenant: "t", Limit: 10, After: &position{Stored: 1, ID: "00000000-0000-4000-8000-000000000001"},
		Keys: []keyFilter{{Key: "v:http://v", Direct: true}}}
	f.Add(encodeCursor(l, testCursorKey))
	f.Add("")
	f.Add(".")
	f.Add("eyJ0IjoidCJ9.AAAA")
	f.Fuzz(func(t *testing.T, c string) {
		got, err := decodeCursor(c, testCursorKey)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("decodeCursor(%q) = %v: want ErrInvalidQuery", c, err)
			}
			return
		}
		if c != encodeCursor(got, testCursorKey) && !strings.Contains(c, ".") {
			t.Fatalf("accepted an unsigned cursor %q", c)
		}
		if len(got.Keys) > maxCursorKeys || got.Limit > MaxLimit || got.Limit <= 0 {
			t.Fatalf("accepted an unbounded cursor %+v", got)
		}
	})
}

// BenchmarkPlan is the CPU the store spends per statement before the database.
func BenchmarkPlan(b *testing.B) {
	body := []byte(`{"id":"4f1b2c3d-0000-4000-8000-000000000000","actor":{"objectType":"Agent","name":"Learner","mbox":"mailto:learner00042@example.com"},
"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},
"object":{"objectType":"Activity","id":"https://lms.example.com/activities/module-00042","definition":{"name":{"en-US":"Module"},"description":{"en-US":"` + strings.Repeat("lorem ipsum ", 8) + `"}}},
"result":{"score":{"scaled":0.5},"success":true,"completion":true,"duration":"PT4M30S"},
"context":{"registration":"6f1a9a27-5a1f-4bb2-9f49-0d4cf3c1c8a1","contextActivities":{"parent":[{"id":"https://lms.example.com/courses/course-0042"}],
"grouping":[{"id":"https://lms.example.com/programs/p-042"}]},"platform":"Example LMS","language":"en-US","extensions":{"https://example.com/ext/notes":"` + strings.Repeat("x", 300) + `"}},
"timestamp":"2026-01-01T00:00:00.000Z","stored":"2026-01-01T00:00:00.000Z","authority":{"objectType":"Agent","mbox":"mailto:lms01@example.com"},"version":"1.0.3"}`)
	stmts := make([]Statement, 1000)
	for i := range stmts {
		stmts[i] = Statement{Tenant: "t", ID: fmt.Sprintf("4f1b2c3d-0000-4000-8000-%012d", i), Stored: time.Now(), JSON: body, Fingerprint: "f"}
	}
	b.SetBytes(int64(len(body) * len(stmts)))
	for b.Loop() {
		todo, _, err := plan(stmts)
		if err != nil || len(todo) != len(stmts) {
			b.Fatal(err)
		}
		for _, p := range todo {
			for _, k := range p.Keys {
				keyDigest(p.Tenant, k.Key)
			}
		}
	}
}
