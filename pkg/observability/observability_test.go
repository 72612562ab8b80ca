package observability

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadiness(t *testing.T) {
	tests := []struct {
		name   string
		checks map[string]Check
		status int
		failed string
	}{
		{name: "no dependencies", status: http.StatusOK},
		{name: "all answer", checks: map[string]Check{"kafka": func(context.Context) error { return nil }}, status: http.StatusOK},
		{name: "one down", checks: map[string]Check{
			"kafka": func(context.Context) error { return nil },
			"store": func(context.Context) error { return errors.New("connection refused") },
		}, status: http.StatusServiceUnavailable, failed: "store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHealth()
			for n, c := range tt.checks {
				h.Add(n, c)
			}
			srv := httptest.NewServer(Handler(NewRegistry(), h))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var rep ReadyReport
			json.NewDecoder(resp.Body).Decode(&rep)
			if resp.StatusCode != tt.status || rep.Ready != (tt.status == http.StatusOK) {
				t.Fatalf("status %d ready %v, want %d", resp.StatusCode, rep.Ready, tt.status)
			}
			if tt.failed != "" && rep.Checks[tt.failed] != "connection refused" {
				t.Fatalf("report does not name the failed dependency: %+v", rep.Checks)
			}
			for _, path := range []string{"/healthz", "/metrics"} {
				r, err := http.Get(srv.URL + path)
				if err != nil || r.StatusCode != http.StatusOK {
					t.Fatalf("%s: %v %v", path, err, r)
				}
				r.Body.Close()
			}
		})
	}
}

func TestNewLoggerRejectsBadSettings(t *testing.T) {
	for _, c := range [][2]string{{"xml", "info"}, {"json", "loud"}} {
		if _, err := NewLogger(c[0], c[1]); err == nil {
			t.Errorf("NewLogger(%q, %q): want error", c[0], c[1])
		}
	}
	if _, err := NewLogger("console", "debug"); err != nil {
		t.Fatal(err)
	}
}
