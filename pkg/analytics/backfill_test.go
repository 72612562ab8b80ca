package analytics

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

type sliceSource struct {
	stmts []Statement
	fail  error // returned instead of io.EOF at the end, when set
}

func (s *sliceSource) Next(context.Context) (Statement, error) {
	if len(s.stmts) == 0 {
		if s.fail != nil {
			return Statement{}, s.fail
		}
		return Statement{}, io.EOF
	}
	st := s.stmts[0]
	s.stmts = s.stmts[1:]
	return st, nil
}

func TestBackfillSelectsAndReplays(t *testing.T) {
	testenv.ForEachClickHouseFull(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		ctx := testenv.Context(t, 5*time.Minute)
		g := newGenerator(genConfig{seed: 21, tenants: 2, learners: 20, activities: 5,
			start: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), days: 60})
		stmts := append(g.batch(1000), Statement{Tenant: "tenant0", JSON: []byte(`{"id":"x"}`)})
		from, to := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC), time.Date(2024, 4, 15, 0, 0, 0, 0, time.UTC)
		var want uint64
		for _, s := range stmts[:1000] {
			r, err := flatten(s)
			if err != nil {
				t.Fatal(err)
			}
			if ts := time.Unix(r.timestamp, 0); r.tenant == "tenant0" && !ts.Before(from) && ts.Before(to) {
				want++
			}
		}
		var calls, bad int
		opts := BackfillOptions{Tenant: "tenant0", From: from, To: to, BatchSize: 100,
			Progress: func(BackfillProgress) { calls++ },
			OnBad:    func(Statement, RowError) { bad++ }}
		for run := range 2 { // the second run is a replay of the first
			p, err := c.Backfill(ctx, &sliceSource{stmts: stmts}, opts)
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			if p.Read != len(stmts) || uint64(p.Written) != want || p.Bad != 1 || p.Filtered != len(stmts)-int(want)-1 {
				t.Fatalf("run %d progress %+v, want %d written of %d read and 1 bad", run, p, want, len(stmts))
			}
			if n := queryInt(t, c, "SELECT count() FROM statements_current"); n != want {
				t.Fatalf("run %d: %d statements in ClickHouse, want %d", run, n, want)
			}
			if n := queryInt(t, c, "SELECT sum(statements) FROM rollup_learners_daily"); n != want {
				t.Fatalf("run %d: rollups count %d statements, want %d", run, n, want)
			}
		}
		if calls == 0 || bad != 2 {
			t.Fatalf("progress called %d times, bad rows reported %d times (want 2: one per run)", calls, bad)
		}

		boom := errors.New("topic gone")
		if _, err := c.Backfill(ctx, &sliceSource{fail: boom}, BackfillOptions{}); !errors.Is(err, boom) {
			t.Fatalf("source error = %v, want %v", err, boom)
		}
	})
}
