package importer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	gz := func(s string) string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.String()
	}
	for _, tc := range []struct {
		name, in string
		want     []string // the items' JSON, "!" for an item refused as not an object
		lines    []int64
		err      string
	}{
		{name: "array", in: ` [{"a":1}, {"b":2}] `, want: []string{`{"a":1}`, `{"b":2}`}, lines: []int64{0, 0}},
		{name: "ndjson", in: "{\"a\":1}\n\n{\"b\":2}\r\n", want: []string{`{"a":1}`, `{"b":2}`}, lines: []int64{1, 3}},
		{name: "gzip ndjson", in: gz("{\"a\":1}\n{\"b\":2}"), want: []string{`{"a":1}`, `{"b":2}`}, lines: []int64{1, 2}},
		{name: "gzip array", in: gz(`[{"a":1}]`), want: []string{`{"a":1}`}, lines: []int64{0}},
		{name: "byte order mark", in: "\xef\xbb\xbf[{\"a\":1}]", want: []string{`{"a":1}`}, lines: []int64{0}},
		{name: "empty", in: "  \n"},
		{name: "not objects", in: "[1, \"x\", {\"a\":1}]", want: []string{"!", "!", `{"a":1}`}, lines: []int64{0, 0, 0}},
		{name: "bad line is an item", in: "{\"a\":\n{\"b\":2}", want: []string{"!", `{"b":2}`}, lines: []int64{1, 2}},
		{name: "broken array", in: `[{"a":1}, {"b":`, want: []string{`{"a":1}`}, lines: []int64{0}, err: "element 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var lines []int64
			var n int64
			err := Read(strings.NewReader(tc.in), &n, func(it Item) error {
				if it.Err != nil {
					got = append(got, "!")
				} else {
					got = append(got, string(it.JSON))
				}
				lines = append(lines, it.Line)
				if it.Index != int64(len(got)-1) {
					t.Errorf("item %d has index %d", len(got)-1, it.Index)
				}
				return nil
			})
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Read error = %v, want %q", err, tc.err)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") || len(lines) != len(tc.lines) {
				t.Fatalf("items %q (lines %v), want %q (lines %v)", got, lines, tc.want, tc.lines)
			}
			for i := range lines {
				if lines[i] != tc.lines[i] {
					t.Fatalf("lines %v, want %v", lines, tc.lines)
				}
			}
			if n != int64(len(tc.in)) {
				t.Errorf("read %d bytes, the input has %d", n, len(tc.in))
			}
		})
	}
}

func TestWithID(t *testing.T) {
	own := Item{Index: 3, JSON: []byte(`{"id":"6d1f9b1e-0000-4000-8000-000000000001","verb":{}}`)}
	if b, id, err := WithID(own); err != nil || id != "6d1f9b1e-0000-4000-8000-000000000001" || !bytes.Equal(b, own.JSON) {
		t.Fatalf("a statement with an id: %s %s %v", b, id, err)
	}
	none := Item{Index: 3, JSON: []byte(` { "verb":{} } `[1:])}
	b1, id1, err := WithID(none)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b1, &back); err != nil || back["id"] != id1 || back["verb"] == nil {
		t.Fatalf("with its id: %s (%v)", b1, err)
	}
	if _, again, _ := WithID(none); again != id1 {
		t.Fatalf("the derived id changed: %s then %s", id1, again)
	}
	moved := none
	moved.Index = 4
	if _, other, _ := WithID(moved); other == id1 {
		t.Fatal("the same statement at another position got the same id")
	}
	if b, _, err := WithID(Item{JSON: []byte(`{}`)}); err != nil || !json.Valid(b) {
		t.Fatalf("an empty object: %s %v", b, err)
	}
}

// TestResumePoint: batches finish out of order; the state moves past a
// batch only when every batch before it is done, and survives a reload.
func TestResumePoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	s, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.file("/data/a.ndjson", 100)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := f.dispatched(10), f.dispatched(25), f.dispatched(40)
	f.done(b)
	if f.resumeAt() != 0 {
		t.Fatalf("resume at %d with the first batch pending, want 0", f.resumeAt())
	}
	f.done(a)
	if f.resumeAt() != 25 {
		t.Fatalf("resume at %d, want 25", f.resumeAt())
	}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	f.done(c)
	if f.resumeAt() != 40 {
		t.Fatalf("resume at %d with every batch done, want 40", f.resumeAt())
	}
	s2, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if f2, err := s2.file("/data/a.ndjson", 100); err != nil || f2.resumeAt() != 25 {
		t.Fatalf("reloaded: %v, %v", f2, err)
	}
	if _, err := s2.file("/data/a.ndjson", 101); err == nil {
		t.Fatal("a file whose size changed was resumed")
	}
}

// FuzzRead: whatever a file holds, Read ends without panicking, counts every
// byte it took, and hands out items with increasing positions that are
// either JSON objects or marked refused.
func FuzzRead(f *testing.F) {
	for _, s := range []string{`[{"a":1},{"b":[1,2]}]`, "{\"a\":1}\n{\"b\":2}\n", "\x1f\x8b\x08", "[1,{", "\xef\xbb\xbf{}", "", "[]", "{\n\n}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var n int64
		next := int64(0)
		Read(bytes.NewReader(in), &n, func(it Item) error {
			if it.Index != next {
				t.Fatalf("item index %d, want %d", it.Index, next)
			}
			next++
			if it.Err == nil && (!json.Valid(it.JSON) || it.JSON[0] != '{') {
				t.Fatalf("item %d accepted but not a JSON object: %q", it.Index, it.JSON)
			}
			if it.Err == nil {
				if _, _, err := WithID(it); err != nil {
					t.Fatalf("item %d: WithID: %v", it.Index, err)
				}
			}
			return nil
		})
		if n > int64(len(in)) {
			t.Fatalf("counted %d bytes of %d", n, len(in))
		}
	})
}
