package xapiservice

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

func TestReadProvenance(t *testing.T) {
	importer := principal("importer", auth.ScopeStatementsWrite, auth.ScopeImport)
	// statement is a valid statement with id and the members more.
	statement := func(id, more string) string {
		return `{"id":"` + id + `","actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://v/did"},"object":{"id":"http://a/1"}` + more + `}`
	}
	const a, b, c = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b", "00000000-0000-4000-8000-00000000000c"
	at := time.Date(2024, 3, 1, 10, 0, 0, 500_000_000, time.UTC)
	for _, tc := range []struct {
		name       string
		source     string
		p          auth.Principal
		body       string
		wantStored map[string]time.Time
		wantStatus int // 0: no xAPI error
	}{
		{"no source", "", writer, statement(a, `,"stored":"2024-03-01T10:00:00.5Z"`), nil, 0},
		{"one statement", "file:///x.ndjson", importer, " " + statement(a, `,"stored":"2024-03-01T11:00:00.5+01:00"`), map[string]time.Time{a: at}, 0},
		{"an array, one without stored", "file:///x", importer,
			"[" + statement(a, `,"stored":"2024-03-01T10:00:00.5Z","result":{"extensions":{"http://e/x":{"stored":"2020-01-01T00:00:00Z"}}}`) + "," + statement(b, "") + "]",
			map[string]time.Time{a: at}, 0},
		{"stored escaped", "file:///x", importer, "[" + statement(c, `,"stored":"2024-03-01T10:00:00.5\u005a"`) + "]", map[string]time.Time{c: at}, 0},
		{"without the import scope", "file:///x", writer, statement(a, ""), nil, http.StatusForbidden},
		{"a source with a space", "file:///my file", importer, statement(a, ""), nil, http.StatusBadRequest},
		{"a source too long", "https://" + strings.Repeat("a", maxSourceLength), importer, statement(a, ""), nil, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prepared, err := xapi.PrepareStatements([]byte(tc.body), xapi.V1_0_3, xapi.Assign{Stored: time.Now(), NewID: func() string { return b }, SentStored: tc.source != ""})
			if err != nil {
				t.Fatalf("PrepareStatements: %v", err)
			}
			pv, err := readProvenance(tc.source, tc.p, prepared)
			if tc.wantStatus != 0 {
				wantStatus(t, err, tc.wantStatus, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pv.source != tc.source || len(pv.stored) != len(tc.wantStored) {
				t.Fatalf("provenance %+v, want source %q and stored %v", pv, tc.source, tc.wantStored)
			}
			for id, want := range tc.wantStored {
				if got := pv.stored[id]; !got.Equal(want) {
					t.Fatalf("stored of %s = %v, want %v", id, got, want)
				}
			}
		})
	}
}
