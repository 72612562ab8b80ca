package stream

import (
	"encoding/json"
	"testing"
	"time"
)

// Provenance rides on the record as optional members: encoded exactly as
// encoding/json would, absent for an ordinary statement, and read back by
// the writers' fast decoder as well as by the general one.
func TestBatchProvenanceRoundTrip(t *testing.T) {
	orig := time.Date(2019, 3, 4, 5, 6, 7, 89e6, time.UTC)
	for _, tt := range []struct {
		name   string
		source string
		fast   bool
	}{
		{"plain URL", "https://lms.example.com/xapi", true},
		{"file URL", "file:///data/export%20old.ndjson.gz", true},
		{"escaped characters", "https://lms.example.com/xapi?a=1&b=2", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := Batch{Tenant: "acme", Statements: []Statement{
				{ID: "00000000-0000-4000-8000-000000000001", Stored: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC), Fingerprint: "ab",
					Statement: json.RawMessage(`{"id":"00000000-0000-4000-8000-000000000001"}`), Source: tt.source, OriginalStored: orig},
				{ID: "00000000-0000-4000-8000-000000000002", Stored: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC), Fingerprint: "cd",
					Statement: json.RawMessage(`{"id":"00000000-0000-4000-8000-000000000002"}`), Source: tt.source},
				{ID: "00000000-0000-4000-8000-000000000003", Stored: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC), Fingerprint: "ef",
					Statement: json.RawMessage(`{"id":"00000000-0000-4000-8000-000000000003"}`)},
			}}
			rec, err := b.Record("t")
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(b)
			if string(rec.Value) != string(want) {
				t.Fatalf("encoding differs from encoding/json:\n got %s\nwant %s", rec.Value, want)
			}
			if _, ok := decodeEncoded(rec.Value); ok != tt.fast {
				t.Fatalf("fast decoder took it: %v, want %v", ok, tt.fast)
			}
			got, err := DecodeBatch(rec)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range b.Statements {
				g := got.Statements[i]
				if g.Source != w.Source || !g.OriginalStored.Equal(w.OriginalStored) || g.ID != w.ID || string(g.Statement) != string(w.Statement) {
					t.Fatalf("statement %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
