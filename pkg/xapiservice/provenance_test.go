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
	prepared := func(ids ...string) []xapi.Prepared {
		out := make([]xapi.Prepared, len(ids))
		for i, id := range ids {
			out[i].ID = id
		}
		return out
	}
	at := time.Date(2024, 3, 1, 10, 0, 0, 500_000_000, time.UTC)
	for _, c := range []struct {
		name       string
		source     string
		p          auth.Principal
		body       string
		prepared   []xapi.Prepared
		wantStored map[string]time.Time
		wantStatus int // 0: no xAPI error
	}{
		{"no source", "", writer, `{"stored":"2024-03-01T10:00:00.5Z"}`, prepared("a"), nil, 0},
		{"one statement", "file:///x.ndjson", importer, ` {"id":"a","stored":"2024-03-01T11:00:00.5+01:00"}`, prepared("a"), map[string]time.Time{"a": at}, 0},
		{"an array, one without stored, one unreadable", "file:///x", importer,
			`[{"stored":"2024-03-01T10:00:00.5Z","context":{"stored":"no"}},{"id":"b"},{"stored":"yesterday"}]`, prepared("a", "b", "c"), map[string]time.Time{"a": at}, 0},
		{"stored after nested members, escaped", "file:///x", importer,
			`[{"result":{"extensions":{"http://e/x":{"stored":"2020-01-01T00:00:00Z"}}},"st\u006fred":"2024-03-01T10:00:00.5Z"}]`, prepared("a"), map[string]time.Time{"a": at}, 0},
		{"without the import scope", "file:///x", writer, `{}`, prepared("a"), nil, http.StatusForbidden},
		{"a source with a space", "file:///my file", importer, `{}`, prepared("a"), nil, http.StatusBadRequest},
		{"a source too long", "https://" + strings.Repeat("a", maxSourceLength), importer, `{}`, prepared("a"), nil, http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			pv, err := readProvenance(c.source, c.p, []byte(c.body), c.prepared)
			if c.wantStatus != 0 {
				wantStatus(t, err, c.wantStatus, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pv.source != c.source || len(pv.stored) != len(c.wantStored) {
				t.Fatalf("provenance %+v, want source %q and stored %v", pv, c.source, c.wantStored)
			}
			for id, want := range c.wantStored {
				if got := pv.stored[id]; !got.Equal(want) {
					t.Fatalf("stored of %s = %v, want %v", id, got, want)
				}
			}
		})
	}
	// A body that reads as fewer statements than were prepared is a bug, not a client's error.
	if _, err := readProvenance("file:///x", importer, []byte(`[{}]`), prepared("a", "b")); err == nil {
		t.Fatal("two statements prepared, one read: no error")
	}
}
