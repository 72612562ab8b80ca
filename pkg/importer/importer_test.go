package importer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetriesThenGivesUp: an LRS that keeps answering 503 is retried with
// backoff until RetryFor has passed; then the run stops with the LRS's last
// answer, and nothing is counted as accepted.
func TestRetriesThenGivesUp(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"status":503,"message":"the statement stream is unavailable"}}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "a.ndjson")
	if err := os.WriteFile(file, []byte(`{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/o"}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	im, err := New(Config{Endpoint: srv.URL + "/xapi", Key: "k", Secret: "s", Batch: 10, Concurrency: 1,
		RetryFor: 600 * time.Millisecond, StatePath: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p, err := im.Run(context.Background(), []string{file})
	if err == nil || !strings.Contains(err.Error(), "the statement stream is unavailable") || errors.Is(err, ErrFatal) {
		t.Fatalf("Run = %v, want the LRS's last answer after giving up", err)
	}
	if n := posts.Load(); n < 2 || p.Retries < 1 || p.Accepted != 0 {
		t.Fatalf("%d posts, progress %+v: want retries before giving up", n, p)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("gave up after %v, want about RetryFor", d)
	}
}
