package xapi

import "testing"

// The statement parser is a full parser: mismatched brackets are a syntax
// error, as they are for jsonscan.Skip, which the store and the record
// decoder use.
func TestParseRejectsMismatchedBrackets(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`[1]`, true},
		{`{"a":[{},[]],"b":"]}"}`, true},
		{`[1}`, false},
		{`{"a":1]`, false},
		{`{"a":[1}}`, false},
		{`[{]}`, false},
		{`[[1]`, false},
	}
	for _, tt := range tests {
		var d document
		if err := d.parse([]byte(tt.in)); (err == nil) != tt.ok {
			t.Errorf("parse(%s) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}
