package xapi

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testVersions = []Version{V1_0_3, V2_0_0}

func testAssign() Assign {
	return Assign{
		Stored: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		NewID:  func() string { return "6e1a2e6d-0b1b-4c8f-9d8e-1234567890ab" },
	}
}

func TestCorpusSize(t *testing.T) {
	all := corpus()
	var valid, invalid int
	for _, c := range all {
		for _, v := range testVersions {
			if c.ok(v) {
				valid++
			} else {
				invalid++
			}
		}
	}
	t.Logf("corpus: %d statements, %d accept and %d reject verdicts over both versions", len(all), valid, invalid)
	if len(all) < 400 || valid < 200 || invalid < 200 {
		t.Errorf("corpus too small: %d cases, %d valid, %d invalid verdicts", len(all), valid, invalid)
	}
	for _, c := range all {
		if c.req == "" {
			t.Errorf("%s: no requirement given", c.name)
		}
	}
}

// TestCorpus checks the validator's verdict on every corpus statement
// under both versions, and that each rejection names a field and a rule.
func TestCorpus(t *testing.T) {
	for _, c := range corpus() {
		for _, v := range testVersions {
			_, err := PrepareStatements([]byte(c.body), v, testAssign())
			if c.ok(v) {
				if err != nil {
					t.Errorf("%s [%s]: rejected, want accepted (%s): %v\n  %s", c.name, v, c.req, err, c.body)
				}
				continue
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("%s [%s]: err = %v, want a *ValidationError (%s)\n  %s", c.name, v, err, c.req, c.body)
				continue
			}
			for _, fe := range ve.Errors {
				if fe.Rule == "" || (fe.Pointer != "" && !strings.HasPrefix(fe.Pointer, "/")) {
					t.Errorf("%s [%s]: malformed field error %+v", c.name, v, fe)
				}
			}
		}
	}
}

// TestCorpusAgreesWithSchemas is the differential test: the published
// JSON Schemas (plus the rules of schemas/xapi/README.md, implemented
// separately in oracle_test.go) give every corpus statement the verdict
// the specification demands, which TestCorpus shows the validator gives.
func TestCorpusAgreesWithSchemas(t *testing.T) {
	for _, c := range corpus() {
		for _, v := range testVersions {
			err := oracle(t, []byte(c.body), v)
			if errors.Is(err, errIndeterminate) {
				t.Errorf("%s [%s]: oracle cannot judge", c.name, v)
				continue
			}
			if (err == nil) != c.ok(v) {
				t.Errorf("%s [%s]: schema verdict %v (err %v), want accept=%v (%s)\n  %s", c.name, v, err == nil, err, c.ok(v), c.req, c.body)
			}
		}
	}
}
