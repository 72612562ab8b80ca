package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestSkip(t *testing.T) {
	tests := []struct {
		in   string
		want int // index after the value; -1: malformed
	}{
		{`"a\"b",`, 6},
		{`123,`, 3},
		{`-0.5e+10]`, 8},
		{`true}`, 4},
		{`null`, 4},
		{`[]`, 2},
		{`{ }x`, 3},
		{`[1,{"k":"]}"},[]]x`, 17},
		{`{"a":[1,2],"b":{}}`, 18},
		{`{ "a" : [ 1 , 2 ] , "b" : { } } ,`, 31},
		{`{"a":"\u00e9\ud83d\ude00\n"}`, 28},
		{`"é€😀"`, 11},
		{`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, 80}, // deeper than the inline stack

		// mismatched brackets
		{`[1}`, -1},
		{`{"a":1]`, -1},
		{`{"a":[1}}`, -1},
		{`[{]}`, -1},
		{`[[1]`, -1},
		// unterminated
		{`{"a":"}`, -1},
		{`"abc`, -1},
		{`"abc\"`, -1},
		{`[1,2`, -1},
		{`{"a":1`, -1},
		{`{"a"`, -1},
		{``, -1},
		// bad escapes and string contents
		{`"\x"`, -1},
		{`"\u12"`, -1},
		{`"\u12g4"`, -1},
		{`"\`, -1},
		{`"\u0000"`, -1},
		{`"\ud800"`, -1},
		{`"\udc00\ud800"`, -1},
		{"\"a\tb\"", -1},
		{"\"\xff\"", -1},
		{"\"\xc3\"", -1},
		// stray and missing commas and colons
		{`[1,]`, -1},
		{`[,1]`, -1},
		{`[1 2]`, -1},
		{`{"a":1,}`, -1},
		{`{,"a":1}`, -1},
		{`{"a":1 "b":2}`, -1},
		{`{"a" 1}`, -1},
		{`{"a":}`, -1},
		{`{a:1}`, -1},
		{`{1:1}`, -1},
		// numbers and literals
		{`01`, 1}, // a number ends at the 0; what follows is the caller's
		{`-`, -1},
		{`1.`, -1},
		{`1e`, -1},
		{`.5`, -1},
		{`+1`, -1},
		{`tru`, -1},
		{`nul`, -1},
		{`True`, -1},
		{`[01]`, -1},
	}
	for _, tt := range tests {
		end, err := Skip([]byte(tt.in), 0)
		if tt.want < 0 {
			var e *Error
			if err == nil {
				t.Errorf("Skip(%q) = %d, want an error", tt.in, end)
			} else if !errors.As(err, &e) {
				t.Errorf("Skip(%q): %v is not an *Error", tt.in, err)
			}
			continue
		}
		if err != nil || end != tt.want {
			t.Errorf("Skip(%q) = %d, %v; want %d", tt.in, end, err, tt.want)
		}
	}
}

// The error says what is wrong and where, which xapi passes on to clients.
func TestSkipErrorMessages(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[1}`, `expected ',' or ']' in array at byte 2`},
		{`{"a":1]`, `expected ',' or '}' in object at byte 6`},
		{`{"a":"x`, `unterminated string at byte 7`},
		{`["\q"]`, `invalid escape at byte 2`},
		{`[1,]`, `unexpected character ']' at byte 3`},
		{`{"a":1,}`, `expected a property name in double quotes at byte 7`},
		{`[1.]`, `invalid number: digits must follow the decimal point at byte 3`},
		{`[1`, `unterminated array at byte 2`},
	}
	for _, tt := range tests {
		_, err := Skip([]byte(tt.in), 0)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Skip(%s): %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in      string
		end     int
		escaped bool
	}{
		{`""`, 2, false},
		{`"plain ascii, longer than one word of eight"x`, 44, false},
		{`"0123456\"89"`, 13, true},
		{`"01234567\\"`, 12, true},
		{`"` + "\u00e9t\u00e9 \u2014 caf\u00e9 au lait" + `"`, 25, false},
		{`"\/\b\f\n\r\t\u20AC"`, 20, true},
	}
	for _, tt := range tests {
		end, escaped, err := String([]byte(tt.in), 0)
		if err != nil || end != tt.end || escaped != tt.escaped {
			t.Errorf("String(%s) = %d, %v, %v; want %d, %v", tt.in, end, escaped, err, tt.end, tt.escaped)
		}
	}
}

// plain finds the same first special byte as the byte table, in words
// that hold a special byte at each position next to bytes that would trip
// a wrong borrow, and in random ones.
func TestPlain(t *testing.T) {
	check := func(b []byte) {
		want := 0
		for want < len(b) && !stringSpecial[b[want]] {
			want++
		}
		if got := plain(b, 0); got != want {
			t.Fatalf("plain(%q) = %d, want %d", b, got, want)
		}
	}
	edge := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xa0, 0xdc, 0xff, 'a'}
	for pos := 0; pos < 8; pos++ {
		for _, c := range edge {
			for _, fill := range edge {
				for _, second := range edge {
					w := bytes.Repeat([]byte{fill}, 8)
					w[pos] = c
					w[(pos+3)%8] = second
					check(w)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = ' ' + byte(r.IntN(0x5f)) // mostly printable ASCII, like statements
			if r.IntN(8) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		check(b)
	}
}

func TestNumberAndLiteral(t *testing.T) {
	for in, want := range map[string]int{`0`: 1, `-12.5E-3,`: 8, `1e+9`: 4, `7]`: 1} {
		if end, err := Number([]byte(in), 0); err != nil || end != want {
			t.Errorf("Number(%s) = %d, %v; want %d", in, end, err, want)
		}
	}
	for _, in := range []string{`-`, `-a`, `1.e3`, `1e+`, `x`} {
		if end, err := Number([]byte(in), 0); err == nil {
			t.Errorf("Number(%s) = %d, want an error", in, end)
		}
	}
	for in, want := range map[string]int{`true`: 4, `false,`: 5, `null]`: 4} {
		if end, err := Literal([]byte(in), 0); err != nil || end != want {
			t.Errorf("Literal(%s) = %d, %v; want %d", in, end, err, want)
		}
	}
	for _, in := range []string{`tru`, `fals`, `nil`, `x`, ``} {
		if end, err := Literal([]byte(in), 0); err == nil {
			t.Errorf("Literal(%s) = %d, want an error", in, end)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`"abc"`, "abc", true},
		{`""`, "", true},
		{`"a\"b\\c\/\n\u00e9\ud83d\ude00"`, "a\"b\\c/\né😀", true},
		{`null`, "", false},
		{`12`, "", false},
		{`{"a":"b"}`, "", false},
	}
	for _, tt := range tests {
		if got, ok := Value(tt.in).Text(); got != tt.want || ok != tt.ok {
			t.Errorf("Text(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

type member struct{ name, val string }

// walk lists the members of obj through Members and, below them, through
// the Values' own Members and Elements, as the store's walker descends.
func walk(obj []byte) ([]member, error) {
	got := []member{}
	var add func(prefix string) func([]byte, Value) error
	add = func(prefix string) func([]byte, Value) error {
		return func(name []byte, v Value) error {
			got = append(got, member{prefix + string(name), string(v)})
			if v.IsObject() {
				return v.Members(add(prefix + string(name) + "."))
			}
			if v.IsArray() {
				return v.Elements(func(e Value) error {
					got = append(got, member{prefix + string(name) + "[]", string(e)})
					return nil
				})
			}
			return nil
		}
	}
	return got, Members(obj, add(""))
}

func TestMembers(t *testing.T) {
	tests := []struct {
		in   string
		want []member // nil: malformed
	}{
		{`{}`, []member{}},
		{` { "a" : 1 , "b\u0041" : [ 2 , "]" , [] ] } `, []member{{"a", "1"}, {"bA", `[ 2 , "]" , [] ]`}, {"bA[]", "2"}, {"bA[]", `"]"`}, {"bA[]", "[]"}}},
		{`{"a":{"x":"}\"{","y":{"z":null}},"b":true}`, []member{
			{"a", `{"x":"}\"{","y":{"z":null}}`}, {"a.x", `"}\"{"`}, {"a.y", `{"z":null}`}, {"a.y.z", "null"}, {"b", "true"},
		}},
		{`{"a":"x\\","b":"\\\""}`, []member{{"a", `"x\\"`}, {"b", `"\\\""`}}},
		{`{"a":[1},"b":2}`, nil},
		{`{"a":{"x":1],"b":2}`, nil},
		{`{"a":{"x":1,},"b":2}`, nil},
		{`{"a":[1,,2]}`, nil},
		{`{"a":1,}`, nil},
		{`{"a":1 "b":2}`, nil},
		{`{"a":"\x"}`, nil},
		{`{"a":{"b":"\x"}}`, nil},
		{`{"a":1`, nil},
		{`[1]`, nil},
	}
	for _, tt := range tests {
		got, err := walk([]byte(tt.in))
		if tt.want == nil {
			if err == nil {
				t.Errorf("Members(%s) accepted it: %v", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Members(%s) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	stop := errors.New("stop")
	if err := Members([]byte(`{"a":1,"b":2}`), func([]byte, Value) error { return stop }); err != stop {
		t.Errorf("Members did not return fn's error: %v", err)
	}
}

func TestFirst(t *testing.T) {
	for in, want := range map[string]string{`{"a":[1]} x`: `{"a":[1]}`, `"s",1`: `"s"`, `null`: `null`} {
		if v, err := First([]byte(in)); err != nil || string(v) != want {
			t.Errorf("First(%s) = %s, %v; want %s", in, v, err, want)
		}
	}
	for _, in := range []string{`{"a":[1}`, ` {}`, ``, `{"a":1,}`} {
		if v, err := First([]byte(in)); err == nil {
			t.Errorf("First(%q) = %s, want an error", in, v)
		}
	}
}

// FuzzWalk: a Value's own walk finds what the validating one does, and
// bytes that are not a Value never make it read outside them.
func FuzzWalk(f *testing.F) {
	for _, s := range []string{`{"a":{"b":[1,{"c":"]\\"}]},"d":"\""}`, `{"a":[}`, `{"a":"`, `{"a":{"b":1`, `{"a":[1,2`, `[[1,"x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Not a Value: anything may come back, but no panic.
		_ = Value(b).Members(func([]byte, Value) error { return nil })
		_ = Value(b).Elements(func(Value) error { return nil })
		var want []member
		if Members(b, func(name []byte, v Value) error {
			want = append(want, member{string(name), string(v)})
			return nil
		}) != nil {
			return
		}
		var again []member
		if err := Value(b).Members(func(name []byte, v Value) error {
			again = append(again, member{string(name), string(v)})
			return nil
		}); err != nil || !slices.Equal(again, want) {
			t.Fatalf("Value(%q).Members = %v, %v; Members = %v", b, again, err, want)
		}
		if _, err := walk(b); err != nil {
			t.Fatalf("walk(%q): %v", b, err)
		}
	})
}

// FuzzSkip holds Skip to encoding/json: what Skip accepts is valid JSON, and
// valid JSON is accepted whole, unless it is outside the dialect (invalid
// UTF-8, \u escapes of U+0000 or unpaired surrogates).
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`[1}`, `{"a":[1,{"k":"]}\"}"}],"b":{}}`, `"\ud83d\ude00"`, `-1.5e3`, `{"a":1,}`, `[[],[[]]]`, `"é"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := Skip(b, 0)
		if err == nil && !json.Valid(b[:end]) {
			t.Fatalf("Skip accepted %q, which is not JSON", b[:end])
		}
		v := bytes.TrimRight(b, " \t\r\n")
		if len(v) == 0 || Space(v, 0) != 0 || !json.Valid(v) || !utf8.Valid(v) || bytes.Contains(v, []byte(`\u`)) {
			return
		}
		if err != nil || end != len(v) {
			t.Fatalf("Skip(%q) = %d, %v; want %d", b, end, err, len(v))
		}
	})
}
