package xapi

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in   string
		want Version
		ok   bool
	}{
		{"1.0", V1_0_3, true}, {"1.0.0", V1_0_3, true}, {"1.0.3", V1_0_3, true}, {"1.0.9", V1_0_3, true},
		{"2.0", V2_0_0, true}, {"2.0.0", V2_0_0, true}, {"2.0.1", V2_0_0, true},
		{"", "", false}, {"1.1.0", "", false}, {"0.95", "", false}, {"1.0.", "", false}, {"2.0.x", "", false},
	}
	for _, c := range cases {
		got, err := ParseVersion(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestPrepareAssigns(t *testing.T) {
	body := `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"http://example.com/a"}}`
	stored := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	ps, err := PrepareStatements([]byte(body), V1_0_3, Assign{
		Stored: stored, Authority: json.RawMessage(`{"mbox":"mailto:lrs@example.com"}`),
		NewID: func() string { return "6E1A2E6D-0B1B-4C8F-9D8E-1234567890AB" },
	})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(ps[0].JSON, &m); err != nil {
		t.Fatal(err)
	}
	if ps[0].ID != "6e1a2e6d-0b1b-4c8f-9d8e-1234567890ab" || m["id"] != ps[0].ID {
		t.Errorf("id = %q / %v", ps[0].ID, m["id"])
	}
	if m["stored"] != "2024-05-01T12:00:00.123Z" || m["timestamp"] != m["stored"] || m["version"] != "1.0.0" {
		t.Errorf("assigned fields wrong: %v", m)
	}
}

func TestPrepareRejects(t *testing.T) {
	body := `[{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"http://example.com/a"}},
	{"actor":{"mbox":"a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"http://example.com/a"}}]`
	_, err := PrepareStatements([]byte(body), V1_0_3, Assign{NewID: func() string { return "6e1a2e6d-0b1b-4c8f-9d8e-1234567890ab" }})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	if ve.Errors[0].Pointer != "/1/actor/mbox" {
		t.Errorf("pointer = %q", ve.Errors[0].Pointer)
	}
}
