package ingest

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkPostStatements is the write path through HTTP: a POST of 10
// statements with client-chosen ids (the conflict check runs), validated, checked for conflicts and
// published to an in-memory log.
//
//	go test ./pkg/ingest -run '^$' -bench PostStatements -benchmem
func BenchmarkPostStatements(b *testing.B) {
	s := newTestServer(b)
	stmts := make([]string, 10)
	for i := range stmts {
		stmts[i] = fmt.Sprintf(`{"id":"0d9f5a4e-6b1c-4a2d-8e3f-7a6b5c4d3e%02d",`, i) + testStatement[1:]
	}
	body := []byte("[" + strings.Join(stmts, ",") + "]")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := s.do(b, "ana", "POST", "/statements", "application/json", body); r.status != 200 {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
}
