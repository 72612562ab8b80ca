package xapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzPrepare feeds arbitrary bodies to PrepareStatements under both
// versions. It checks that nothing panics or hangs, that only
// *ValidationError reports bad input, that the verdict equals the JSON
// Schema oracle's, and that an accepted statement's stored form is valid,
// a fixed point of PrepareStatements, and the same statement under the
// comparison rules. Seeds: the whole corpus plus testdata/fuzz/FuzzPrepare.
func FuzzPrepare(f *testing.F) {
	for _, c := range corpus() {
		f.Add([]byte(c.body), false)
		f.Add([]byte(c.body), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, v2 bool) {
		v := V1_0_3
		if v2 {
			v = V2_0_0
		}
		orig := bytes.Clone(body)
		ps, err := PrepareStatements(body, v, testAssign())
		if !bytes.Equal(orig, body) {
			t.Fatalf("PrepareStatements modified its input")
		}
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error is not a *ValidationError: %v", err)
		}
		if o := oracle(t, body, v); !errors.Is(o, errIndeterminate) && (o == nil) != (err == nil) {
			t.Fatalf("verdicts differ under %s: validator %v, schema oracle %v\n%q", v, err, o, body)
		}
		if err != nil {
			return
		}
		timestamps := originalHasTimestamp(t, body)
		for i, p := range ps {
			if !validUUID([]byte(p.ID)) || p.ID != string(bytes.ToLower([]byte(p.ID))) {
				t.Fatalf("statement %d: id %q is not a lower-case UUID", i, p.ID)
			}
			stored := bytes.Clone(p.JSON)
			again, err := PrepareStatements(p.JSON, v, testAssign())
			if !bytes.Equal(stored, p.JSON) {
				t.Fatalf("statement %d: PrepareStatements modified its input", i)
			}
			if err != nil {
				t.Fatalf("statement %d: stored form rejected: %v\n%s", i, err, p.JSON)
			}
			if !bytes.Equal(again[0].JSON, p.JSON) {
				t.Fatalf("statement %d: stored form is not a fixed point:\n%s\n%s", i, p.JSON, again[0].JSON)
			}
			if timestamps[i] && again[0].Fingerprint != p.Fingerprint {
				t.Fatalf("statement %d: stored form is a different statement under the comparison rules\n%q\n%s", i, body, p.JSON)
			}
		}
	})
}

// originalHasTimestamp tells, per statement of an accepted body, whether
// it had a timestamp (the LRS adds one otherwise, which changes the
// statement under the comparison rules).
func originalHasTimestamp(t *testing.T, body []byte) []bool {
	var one map[string]json.RawMessage
	if json.Unmarshal(body, &one) == nil {
		_, ok := one["timestamp"]
		return []bool{ok}
	}
	var many []map[string]json.RawMessage
	if err := json.Unmarshal(body, &many); err != nil {
		t.Fatalf("accepted body does not decode: %v", err)
	}
	out := make([]bool, len(many))
	for i, s := range many {
		_, out[i] = s["timestamp"]
	}
	return out
}
