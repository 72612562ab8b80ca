package store

import "testing"

func TestSkipValue(t *testing.T) {
	tests := []struct {
		in   string
		want int // index after the value; -1: malformed
	}{
		{`"a\"b",`, 6},
		{`123,`, 3},
		{`[1,{"k":"]}"},[]]x`, 17},
		{`{"a":[1,2],"b":{}}`, 18},
		{`[1}`, -1},
		{`{"a":1]`, -1},
		{`{"a":[1}}`, -1},
		{`[{]}`, -1},
		{`[[1]`, -1},
		{`{"a":"}`, -1},
		{``, -1},
	}
	for _, tt := range tests {
		end, err := skipValue([]byte(tt.in), 0)
		if tt.want < 0 {
			if err == nil {
				t.Errorf("skipValue(%s) = %d, want an error", tt.in, end)
			}
			continue
		}
		if err != nil || end != tt.want {
			t.Errorf("skipValue(%s) = %d, %v; want %d", tt.in, end, err, tt.want)
		}
	}
}

// A member whose value has mismatched brackets is malformed: the object's
// members are not misread around it.
func TestMembersRejectMismatchedBrackets(t *testing.T) {
	for _, in := range []string{`{"a":[1},"b":2}`, `{"a":{"x":1],"b":2}`} {
		err := members([]byte(in), func(string, []byte) error { return nil })
		if err == nil {
			t.Errorf("members(%s) accepted it", in)
		}
	}
}
