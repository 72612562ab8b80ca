package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

type recordingPublisher struct{ published []stream.Erasure }

func (p *recordingPublisher) Publish(_ context.Context, e stream.Erasure) (int, error) {
	if err := e.Validate(); err != nil {
		return 0, err
	}
	p.published = append(p.published, e)
	return 3, nil
}

type syncer bool

func (s syncer) Sync(context.Context) (time.Time, bool, error) { return time.Now(), bool(s), nil }

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// newService runs on a real SQLite store with tenants t1 and t2; t2 keeps
// statements 30 days.
func newService(t *testing.T, caughtUp bool) (*Service, *recordingPublisher, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lrs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"t1", "t2"} {
		if err := st.CreateTenant(ctx, store.Tenant{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SetTenantRetention(ctx, "t2", 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	pub := &recordingPublisher{}
	s, err := New(st, pub, nil, syncer(caughtUp), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return now }
	return s, pub, st
}

func TestErase(t *testing.T) {
	agent := json.RawMessage(`{"mbox":"mailto:ana@example.com"}`)
	for _, c := range []struct {
		name    string
		tenant  string
		agent   json.RawMessage
		dryRun  bool
		wantErr error
	}{
		{"published", "t1", agent, false, nil},
		{"dry run publishes nothing", "t1", agent, true, nil},
		{"agent without an identifier", "t1", json.RawMessage(`{"name":"Ana"}`), false, ErrInvalid},
		{"not an agent", "t1", json.RawMessage(`"ana"`), false, ErrInvalid},
		{"unknown tenant", "nosuch", agent, false, store.ErrNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, pub, _ := newService(t, false)
			e, err := s.Erase(context.Background(), c.tenant, c.agent, "ticket 7", c.dryRun)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Erase() error %v, want %v", err, c.wantErr)
			}
			switch {
			case err != nil || c.dryRun:
				if len(pub.published) != 0 {
					t.Fatalf("published %+v", pub.published)
				}
				if c.dryRun && (e.Counts == nil || e.Counts.StoreCaughtUp || e.ID != "") {
					t.Fatalf("dry run answer %+v: want counts, the store behind, no id", e)
				}
			default:
				if len(pub.published) != 1 || e.Copies != 3 || e.ID == "" || e.AgentHash == "" {
					t.Fatalf("answer %+v, published %+v", e, pub.published)
				}
				p := pub.published[0]
				if p.ID != e.ID || p.Tenant != "t1" || string(p.Agent) != string(agent) || !p.Before.Equal(now) || p.RequestedBy != "ticket 7" || p.Retention {
					t.Fatalf("published %+v", p)
				}
			}
		})
	}
}

func TestSetRetention(t *testing.T) {
	for _, c := range []struct {
		name      string
		retention time.Duration
		dryRun    bool
		wantErr   error
		// wantBefore is the cut published (zero: nothing published).
		wantBefore time.Time
		wantStored time.Duration
	}{
		{"a year", 8760 * time.Hour, false, nil, now.Add(-8760 * time.Hour), 8760 * time.Hour},
		{"for ever", 0, false, nil, time.Time{}, 0},
		{"dry run", 24 * time.Hour, true, nil, time.Time{}, 30 * 24 * time.Hour},
		{"too short", time.Minute, false, ErrInvalid, time.Time{}, 30 * 24 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, pub, st := newService(t, true)
			r, err := s.SetRetention(context.Background(), "t2", c.retention, c.dryRun)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("SetRetention() error %v, want %v", err, c.wantErr)
			}
			if c.dryRun && (r.Counts == nil || !r.Counts.StoreCaughtUp || r.Before == nil) {
				t.Fatalf("dry run answer %+v", r)
			}
			switch {
			case c.wantBefore.IsZero() && len(pub.published) != 0:
				t.Fatalf("published %+v", pub.published)
			case !c.wantBefore.IsZero() && (len(pub.published) != 1 || !pub.published[0].Retention || !pub.published[0].Before.Equal(c.wantBefore)):
				t.Fatalf("published %+v, want one retention record cut at %v", pub.published, c.wantBefore)
			}
			tn, err := st.GetTenant(context.Background(), "t2")
			if err != nil || tn.Retention != c.wantStored {
				t.Fatalf("tenant retention %v (%v), want %v", tn.Retention, err, c.wantStored)
			}
		})
	}
}

// The job publishes a cut for each tenant with a retention, and only those.
func TestApplyRetention(t *testing.T) {
	s, pub, _ := newService(t, true)
	n, err := s.ApplyRetention(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ApplyRetention() = %d, %v", n, err)
	}
	if p := pub.published[0]; p.Tenant != "t2" || !p.Retention || !p.Before.Equal(now.Add(-30*24*time.Hour)) {
		t.Fatalf("published %+v", p)
	}
}

type countingAnalytics struct{ err error }

func (a countingAnalytics) EraseAgent(context.Context, analytics.Erasure, bool) (analytics.ErasureCounts, error) {
	return analytics.ErasureCounts{Statements: 4, Months: []int{202605}}, a.err
}

func (a countingAnalytics) PurgeBefore(context.Context, string, time.Time, bool) (analytics.ErasureCounts, error) {
	return analytics.ErasureCounts{Statements: 9, Months: []int{202604, 202605}}, a.err
}

// ClickHouse counts in a dry run where the process has it; down, the dry
// run still answers the store's counts and says why ClickHouse's are missing.
func TestDryRunCountsClickHouse(t *testing.T) {
	for _, c := range []struct {
		name    string
		ch      Analytics
		want    int
		wantErr bool
	}{
		{"no ClickHouse here", nil, -1, false},
		{"ClickHouse up", countingAnalytics{}, 4, false},
		{"ClickHouse down", countingAnalytics{err: errors.New("connection refused")}, -1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _ := newService(t, true)
			s.ch = c.ch
			e, err := s.Erase(context.Background(), "t1", json.RawMessage(`{"mbox":"mailto:ana@example.com"}`), "", true)
			if err != nil {
				t.Fatal(err)
			}
			got := -1
			if e.Counts.Analytics != nil {
				got = e.Counts.Analytics.Statements
			}
			if got != c.want || (e.Counts.AnalyticsError != "") != c.wantErr {
				t.Fatalf("counts %+v: want ClickHouse statements %d, an error %v", e.Counts, c.want, c.wantErr)
			}
		})
	}
}
