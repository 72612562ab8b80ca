package analytics

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// erasureStatement builds a statement of tenant whose actor and object are
// given as JSON, stored (and timestamped) at ts.
func erasureStatement(tenant, actor, object, extra, ts string) (Statement, uuid.UUID) {
	id := uuid.New()
	return Statement{Tenant: tenant, JSON: fmt.Appendf(nil, `{"id":"%s","actor":%s,"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":%s,%s
		"timestamp":"%s","stored":"%s","version":"1.0.3","authority":{"mbox":"mailto:ana@example.org"}}`, id, actor, object, extra, ts, ts)}, id
}

// An erasure deletes the rows of every statement naming the agent, and
// only those, and recomputes their rollup months so that no rollup keeps
// the learner; its dry run counts the same and deletes nothing.
func TestEraseAgent(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		ctx := testenv.Context(t, 5*time.Minute)
		const ana = `{"mbox":"mailto:ana@example.org"}`
		const bob = `{"mbox":"mailto:bob@example.org"}`
		const act = `{"id":"https://lms.example/a1"}`
		var stmts []Statement
		erased := map[string]uuid.UUID{}
		kept := map[string]uuid.UUID{}
		add := func(into map[string]uuid.UUID, name string, s Statement, id uuid.UUID) {
			stmts = append(stmts, s)
			into[name] = id
		}
		s, id := erasureStatement("t1", ana, act, "", "2024-01-10T10:00:00Z")
		add(erased, "actor", s, id)
		s, id = erasureStatement("t1", bob, act, `"context":{"instructor":`+ana+`},`, "2024-02-10T10:00:00Z")
		add(erased, "instructor", s, id)
		s, id = erasureStatement("t1", bob, `{"objectType":"Group","member":[`+ana+`]}`, "", "2024-02-11T10:00:00Z")
		add(erased, "group member", s, id)
		s, id = erasureStatement("t1", bob, `{"objectType":"SubStatement","actor":`+ana+`,"verb":{"id":"http://example.com/v"},"object":`+act+`}`, "", "2024-02-12T10:00:00Z")
		add(erased, "substatement", s, id)
		s, id = erasureStatement("t1", bob, act, "", "2024-02-13T10:00:00Z")
		add(kept, "ana only as the authority", s, id)
		s, id = erasureStatement("t1", ana, act, "", "2024-06-01T10:00:00Z")
		add(kept, "after the erasure", s, id)
		s, id = erasureStatement("t2", ana, act, "", "2024-01-10T10:00:00Z")
		add(kept, "other tenant", s, id)
		mustInsert(t, c, stmts)
		if err := c.RefreshMonths(ctx, []int{202401, 202402, 202406}); err != nil {
			t.Fatal(err)
		}
		e := Erasure{Tenant: "t1", Agent: []byte(ana), Before: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
		want := ErasureCounts{Statements: len(erased), Months: []int{202401, 202402}}
		dry, err := c.EraseAgent(ctx, e, true)
		if err != nil || dry.Statements != want.Statements || !slices.Equal(dry.Months, want.Months) {
			t.Fatalf("dry run = %+v, %v; want %+v", dry, err, want)
		}
		if n := queryInt(t, c, "SELECT count() FROM statements"); n != uint64(len(stmts)) {
			t.Fatalf("the dry run deleted rows: %d left of %d", n, len(stmts))
		}
		got, err := c.EraseAgent(ctx, e, false)
		if err != nil || got.Statements != want.Statements || !slices.Equal(got.Months, want.Months) {
			t.Fatalf("EraseAgent = %+v, %v; want %+v", got, err, want)
		}
		for name, id := range erased {
			if n := queryInt(t, c, "SELECT count() FROM statements WHERE statement_id = ?", id); n != 0 {
				t.Errorf("%s: %d rows left", name, n)
			}
		}
		for name, id := range kept {
			if n := queryInt(t, c, "SELECT count() FROM statements WHERE statement_id = ?", id); n != 1 {
				t.Errorf("%s: %d rows, want 1", name, n)
			}
		}
		// The rollups were recomputed: no daily time spent of ana in t1
		// before the erasure, and they match the views again.
		if n := queryInt(t, c, "SELECT count() FROM rollup_time_spent_daily WHERE tenant = 't1' AND actor_ifi = 'mailto:ana@example.org' AND day < '2024-03-01'"); n != 0 {
			t.Errorf("rollup_time_spent_daily keeps %d rows of the erased learner", n)
		}
		if n := queryInt(t, c, "SELECT sum(statements) FROM rollup_learners_daily WHERE tenant = 't1' AND day < '2024-03-01'"); n != 1 {
			t.Errorf("rollup_learners_daily counts %d statements of t1 before March, want 1 (bob's)", n)
		}
		if n := queryInt(t, c, "SELECT count() FROM rollup_dirty WHERE month IN (202401, 202402)"); n == 0 {
			t.Error("the erased months were not marked for the periodic refresh")
		}
		// Again (another partition's copy, or a replay): nothing more.
		if again, err := c.EraseAgent(ctx, e, false); err != nil || again.Statements != 0 {
			t.Errorf("EraseAgent again = %+v, %v; want nothing", again, err)
		}
		if _, err := c.EraseAgent(ctx, Erasure{Tenant: "t1", Agent: []byte(`{"name":"x"}`), Before: e.Before}, true); err == nil || !strings.Contains(err.Error(), "inverse functional identifier") {
			t.Errorf("an agent without an identifier: %v", err)
		}

		// Retention: t1's rows stored before June go, t2's stay.
		june := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
		if n, err := c.PurgeBefore(ctx, "t1", june, true); err != nil || n.Statements != 1 {
			t.Fatalf("PurgeBefore dry run = %+v, %v; want 1 statement", n, err)
		}
		if n, err := c.PurgeBefore(ctx, "t1", june, false); err != nil || n.Statements != 1 || !slices.Equal(n.Months, []int{202402}) {
			t.Fatalf("PurgeBefore = %+v, %v; want 1 statement in 202402", n, err)
		}
		if n := queryInt(t, c, "SELECT count() FROM statements WHERE tenant = 't1'"); n != 1 {
			t.Errorf("t1 keeps %d rows after the purge, want 1", n)
		}
		if n := queryInt(t, c, "SELECT count() FROM statements WHERE tenant = 't2'"); n != 1 {
			t.Errorf("t2 keeps %d rows, want 1", n)
		}
	})
}
