package xapi

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// EnvConformanceCases names a directory holding v1_0_3.jsonl and
// v2_0.jsonl, the ADL conformance suite's statement cases as written by
// testdata/cts/extract.js. The suite is not part of this repository, so
// the test skips without it.
const EnvConformanceCases = "LRS_CTS_STATEMENTS_DIR"

// TestConformanceSuite runs every templated statement-structure case of
// the ADL LRS conformance suite (each a single POST checked only for its
// status) through PrepareStatements and through the schema oracle: the
// verdicts must be the suite's (200 or 400).
func TestConformanceSuite(t *testing.T) {
	dir := os.Getenv(EnvConformanceCases)
	if dir == "" {
		t.Skipf("%s not set: see testdata/cts/extract.js", EnvConformanceCases)
	}
	for _, f := range []struct {
		file string
		v    Version
	}{{"v1_0_3.jsonl", V1_0_3}, {"v2_0.jsonl", V2_0_0}} {
		fh, err := os.Open(filepath.Join(dir, f.file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<24)
		total, accept := 0, 0
		for sc.Scan() {
			var c struct {
				File, Name string
				Expect     []int
				Statement  json.RawMessage
			}
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("%s: %v", f.file, err)
			}
			total++
			want := c.Expect[0] == 200
			if want {
				accept++
			}
			_, err := PrepareStatements(c.Statement, f.v, testAssign())
			if (err == nil) != want {
				t.Errorf("%s %s %q: validator says %v, suite expects %d\n  %s", f.v, c.File, c.Name, err, c.Expect[0], c.Statement)
			}
			if err := oracle(t, c.Statement, f.v); (err == nil) != want {
				t.Errorf("%s %s %q: schemas say %v, suite expects %d", f.v, c.File, c.Name, err, c.Expect[0])
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if total == 0 {
			t.Errorf("%s: no cases", f.file)
		}
		t.Logf("%s: %d suite cases (%d expect 200, %d expect 400)", f.v, total, accept, total-accept)
	}
}
