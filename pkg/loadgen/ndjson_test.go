package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// TestNDJSON: the file holds -n valid statements, one a line, each with
// its own id and a stored time after its timestamp.
func TestNDJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.ndjson")
	if err := Command(context.Background(), []string{"ndjson", "-n", "500", "-instances", "2", "-learners", "50", "-out", path}, os.Stdout); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	seen := map[string]bool{}
	for sc.Scan() {
		var st struct{ ID, Timestamp, Stored string }
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			t.Fatalf("line %d: %v", len(seen)+1, err)
		}
		ts, err1 := time.Parse(time.RFC3339Nano, st.Timestamp)
		stored, err2 := time.Parse(time.RFC3339Nano, st.Stored)
		if st.ID == "" || seen[st.ID] || err1 != nil || err2 != nil || !stored.After(ts) {
			t.Fatalf("line %d: id %q (seen: %v), timestamp %q, stored %q", len(seen)+1, st.ID, seen[st.ID], st.Timestamp, st.Stored)
		}
		seen[st.ID] = true
		if _, err := xapi.PrepareStatements(sc.Bytes(), xapi.V1_0_3, xapi.Assign{Stored: time.Now(), NewID: func() string { panic("the generated statements carry ids") }}); err != nil {
			t.Fatalf("line %d is not a valid statement: %v", len(seen), err)
		}
	}
	if err := sc.Err(); err != nil || len(seen) != 500 {
		t.Fatalf("%d statements read (%v), want 500", len(seen), err)
	}
	if err := Command(context.Background(), []string{"ndjson", "-n", "1", "extra"}, &strings.Builder{}); err == nil {
		t.Fatal("ndjson with an argument: want an error")
	}
}
