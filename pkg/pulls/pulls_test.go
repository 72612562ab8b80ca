package pulls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

type fakeStore struct{}

func (fakeStore) ListTenants(context.Context) ([]store.Tenant, error) { return nil, nil }
func (fakeStore) ListPullSources(context.Context, string) ([]store.PullSource, error) {
	return nil, nil
}
func (fakeStore) PullCursor(context.Context, string, string) (time.Time, error) {
	return time.Time{}, nil
}
func (fakeStore) AdvancePullCursor(context.Context, string, string, time.Time) error {
	return nil
}

// answering is a statement service that answers err and records the write.
type answering struct {
	err  error
	last xapiservice.StatementWrite
}

func (a *answering) Accept(_ context.Context, w xapiservice.StatementWrite) ([]string, error) {
	a.last = w
	return nil, a.err
}

// The in-process POST answers as the API would: the status of the xAPI
// error, the Retry-After of a 503; an unexpected error is returned for the
// importer to retry, as a network error would be.
func TestPostAnswersAsTheAPI(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter time.Duration
		fails      bool
	}{
		{name: "accepted", status: http.StatusOK},
		{name: "conflict", err: xapiservice.NewError(http.StatusConflict, "id exists"), status: http.StatusConflict},
		{name: "invalid", err: fmt.Errorf("prepare: %w", &xapi.ValidationError{Errors: []xapi.FieldError{{Pointer: "/verb", Rule: "required"}}}), status: http.StatusBadRequest},
		{name: "backlog", err: &xapiservice.Error{Status: http.StatusServiceUnavailable, Message: "behind", RetryAfter: 3}, status: http.StatusServiceUnavailable, retryAfter: 3 * time.Second},
		{name: "store unreachable", err: fmt.Errorf("check: %w", io.ErrUnexpectedEOF), status: http.StatusServiceUnavailable, retryAfter: 5 * time.Second},
		{name: "internal", err: errors.New("boom"), fails: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &answering{err: tc.err}
			r, err := New(Config{Recheck: time.Second, Batch: 10, RetryFor: time.Second}, fakeStore{}, svc, zap.NewNop(), nil)
			if err != nil {
				t.Fatal(err)
			}
			p := principal(store.PullSource{Tenant: "acme", Name: "moodle"})
			status, _, retryAfter, err := r.post(p, xapi.V2_0_0)(context.Background(), []byte(`[{"id":"x"}]`), "application/json", "https://lms.example.com/xapi")
			if (err != nil) != tc.fails || status != tc.status || retryAfter != tc.retryAfter {
				t.Fatalf("post = %d, retry after %v, %v; want %d, %v, failing %v", status, retryAfter, err, tc.status, tc.retryAfter, tc.fails)
			}
			w := svc.last
			if w.Principal.Tenant != "acme" || !w.Principal.Allows(auth.ScopeImport) || w.Version != xapi.V2_0_0 ||
				w.Source != "https://lms.example.com/xapi" || string(w.Statements) != `[{"id":"x"}]` {
				t.Fatalf("write handed to the statement service: %+v", w)
			}
		})
	}
}
