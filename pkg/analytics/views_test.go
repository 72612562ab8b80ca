package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

var views = []string{"statements_all", "statements_current", "learners_daily", "activity_daily",
	"score_distribution_daily", "time_spent_daily", "ingest_hourly"}

// snapshot renders every row of a view as a sorted list of strings, so that
// two results compare whatever the row order.
func snapshot(t *testing.T, c *ClickHouse, view string) []string {
	t.Helper()
	return snapshotWith(t, c, testenv.Context(t, time.Minute), view)
}

// snapshotWith is snapshot with the settings (clickhouse.Context) of ctx.
func snapshotWith(t *testing.T, c *ClickHouse, ctx context.Context, view string) []string {
	t.Helper()
	rows, err := c.conn.Query(ctx, "SELECT * FROM "+view)
	if err != nil {
		t.Fatalf("query %s: %v", view, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("scan %s: %v", view, err)
		}
		var b strings.Builder
		for i, d := range dest {
			v := reflect.ValueOf(d).Elem()
			for v.Kind() == reflect.Pointer && !v.IsNil() {
				v = v.Elem()
			}
			fmt.Fprintf(&b, "%s=%v ", types[i].Name(), v.Interface())
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", view, err)
	}
	slices.Sort(out)
	return out
}

func TestReplayChangesNoViewResult(t *testing.T) {
	testenv.ForEachClickHouseFull(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		g := newGenerator(genConfig{seed: 5, tenants: 2, learners: 40, activities: 8,
			start: time.Date(2024, 1, 25, 0, 0, 0, 0, time.UTC), days: 14})
		stmts := g.batch(3000)
		// Void 30 of them; the voiding statements travel in the same stream.
		rnd := rand.New(rand.NewPCG(1, 2))
		for range 30 {
			target, err := flatten(stmts[rnd.IntN(len(stmts))])
			if err != nil {
				t.Fatal(err)
			}
			stmts = append(stmts, voidingStatement(target.tenant, target.statementID, "2024-02-10T00:00:00Z"))
		}
		insertInBatches(t, c, stmts, 500)
		before := map[string][]string{}
		for _, v := range views {
			before[v] = snapshot(t, c, v)
			if len(before[v]) == 0 {
				t.Fatalf("view %s is empty: the comparison would prove nothing", v)
			}
		}
		// A replay of the whole stream with other batch boundaries, then a
		// retried overlapping slice.
		insertInBatches(t, c, stmts, 733)
		insertInBatches(t, c, stmts[1000:2500], 1500)
		if raw, distinct := queryInt(t, c, "SELECT count() FROM statements"), queryInt(t, c, "SELECT uniqExact(tenant, statement_id) FROM statements"); raw <= distinct {
			t.Logf("background merges already collapsed the copies (%d rows, %d statements)", raw, distinct)
		} else {
			t.Logf("%d rows hold %d statements: the views must deduplicate", raw, distinct)
		}
		for _, v := range views {
			after := snapshot(t, c, v)
			if !slices.Equal(before[v], after) {
				t.Errorf("view %s changed after the replay: %d rows before, %d after", v, len(before[v]), len(after))
			}
		}
		if n := queryInt(t, c, "SELECT count() FROM statements_all"); n != uint64(len(stmts)) {
			t.Errorf("statements_all has %d statements, want %d", n, len(stmts))
		}
	})
}

func insertInBatches(t *testing.T, c *ClickHouse, stmts []Statement, size int) {
	t.Helper()
	for lo := 0; lo < len(stmts); lo += size {
		mustInsert(t, c, stmts[lo:min(lo+size, len(stmts))])
	}
}

func voidingStatement(tenant string, target uuid.UUID, ts string) Statement {
	return Statement{Tenant: tenant, JSON: fmt.Appendf(nil, `{"id":"%s","actor":{"mbox":"mailto:admin@lms.example"},
		"verb":{"id":"%s"},"object":{"objectType":"StatementRef","id":"%s"},
		"timestamp":"%s","stored":"%s","version":"1.0.3","authority":{"account":{"homePage":"https://lrs.example","name":"lms-2"}}}`,
		uuid.New(), VerbVoided, target, ts, ts)}
}

// known builds one statement of the hand-made rollup dataset.
func known(tenant, learner, verb, activity, ts, result, credential string) (Statement, uuid.UUID) {
	id := uuid.New()
	if result != "" {
		result = `"result":` + result + `,`
	}
	return Statement{Tenant: tenant, JSON: fmt.Appendf(nil, `{"id":"%s","actor":{"mbox":"mailto:%s@example.org"},
		"verb":{"id":"http://adlnet.gov/expapi/verbs/%s"},"object":{"id":"https://lms.example/%s","definition":{"name":{"en":"Activity %s"}}},%s
		"timestamp":"%s","stored":"%s","version":"1.0.3","authority":{"account":{"homePage":"https://lrs.example","name":"%s"}}}`,
		id, learner, verb, activity, activity, result, ts, ts, credential)}, id
}

// knownDataset is a small hand-made stream whose view rows
// TestRollupsKnownDataset spells out: two tenants, two days, a voided
// statement, scores, durations and every outcome verb.
func knownDataset() []Statement {
	const d1, d2 = "2024-02-01T10:15:00Z", "2024-02-02T09:30:00Z"
	var stmts []Statement
	add := func(s Statement, _ uuid.UUID) { stmts = append(stmts, s) }
	add(known("acme", "alice", "attempted", "A", d1, "", "lms-1"))
	add(known("acme", "alice", "passed", "A", d1, `{"success":true,"score":{"scaled":0.85},"duration":"PT10M"}`, "lms-1"))
	add(known("acme", "bob", "attempted", "A", d1, "", "lms-1"))
	add(known("acme", "bob", "failed", "A", d1, `{"success":false,"score":{"scaled":0.4},"duration":"PT5M"}`, "lms-1"))
	add(known("acme", "carol", "completed", "A", d1, `{"completion":true,"duration":"PT20M"}`, "lms-1"))
	add(known("acme", "carol", "experienced", "B", d1, "", "lms-1"))
	add(known("acme", "bob", "passed", "A", d2, `{"success":true,"score":{"scaled":0.92},"duration":"PT15M"}`, "lms-2"))
	add(known("acme", "dave", "answered", "A", d2, `{"success":true}`, "lms-2"))
	erin, erinID := known("acme", "erin", "passed", "A", d2, `{"success":true,"score":{"scaled":1.0},"duration":"PT1H"}`, "lms-2")
	stmts = append(stmts, erin, voidingStatement("acme", erinID, d2))
	add(known("other", "zed", "passed", "A", d1, `{"success":true,"score":{"scaled":0.5},"duration":"PT1M"}`, "lms-9"))
	return stmts
}

func TestRollupsKnownDataset(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		stmts := knownDataset()
		// Sent twice, as after a replay.
		mustInsert(t, c, stmts)
		mustInsert(t, c, stmts)

		tests := []struct {
			view, where string
			want        []string
		}{
			{"learners_daily", "tenant = 'acme'", []string{
				"tenant=acme day=2024-02-01 00:00:00 +0000 UTC learners=3 statements=6 ",
				"tenant=acme day=2024-02-02 00:00:00 +0000 UTC learners=2 statements=2 ",
			}},
			{"activity_daily", "tenant = 'acme'", []string{
				"tenant=acme day=2024-02-01 00:00:00 +0000 UTC activity_id=https://lms.example/A activity_name=Activity A learners=3 statements=5 attempts=2 completions=1 passed=1 failed=1 pass_rate=0.5 ",
				"tenant=acme day=2024-02-01 00:00:00 +0000 UTC activity_id=https://lms.example/B activity_name=Activity B learners=1 statements=1 attempts=0 completions=0 passed=0 failed=0 pass_rate=<nil> ",
				"tenant=acme day=2024-02-02 00:00:00 +0000 UTC activity_id=https://lms.example/A activity_name=Activity A learners=2 statements=2 attempts=0 completions=0 passed=2 failed=0 pass_rate=1 ",
			}},
			{"score_distribution_daily", "tenant = 'acme'", []string{
				"tenant=acme day=2024-02-01 00:00:00 +0000 UTC activity_id=https://lms.example/A score_bucket=0.4 statements=1 learners=1 ",
				"tenant=acme day=2024-02-01 00:00:00 +0000 UTC activity_id=https://lms.example/A score_bucket=0.8 statements=1 learners=1 ",
				"tenant=acme day=2024-02-02 00:00:00 +0000 UTC activity_id=https://lms.example/A score_bucket=0.9 statements=1 learners=1 ",
			}},
			{"time_spent_daily", "tenant = 'acme'", []string{
				"tenant=acme day=2024-02-01 00:00:00 +0000 UTC activity_id=https://lms.example/A actor_ifi=mailto:alice@example.org seconds=600 statements=1 ",
				"tenant=acme day=2024-02-01 00:00:00 +0000 UTC activity_id=https://lms.example/A actor_ifi=mailto:bob@example.org seconds=300 statements=1 ",
				"tenant=acme day=2024-02-01 00:00:00 +0000 UTC activity_id=https://lms.example/A actor_ifi=mailto:carol@example.org seconds=1200 statements=1 ",
				"tenant=acme day=2024-02-02 00:00:00 +0000 UTC activity_id=https://lms.example/A actor_ifi=mailto:bob@example.org seconds=900 statements=1 ",
			}},
			{"ingest_hourly", "tenant = 'acme'", []string{
				"tenant=acme hour=2024-02-01 10:00:00 +0000 UTC authority=https://lrs.example|lms-1 statements=6 voided_statements=0 ",
				"tenant=acme hour=2024-02-02 09:00:00 +0000 UTC authority=https://lrs.example|lms-2 statements=4 voided_statements=1 ",
			}},
			{"learners_daily", "tenant = 'other'", []string{
				"tenant=other day=2024-02-01 00:00:00 +0000 UTC learners=1 statements=1 ",
			}},
		}
		for _, tt := range tests {
			t.Run(tt.view+" "+tt.where, func(t *testing.T) {
				got := snapshot(t, c, "(SELECT * FROM "+tt.view+" WHERE "+tt.where+")")
				if !slices.Equal(got, tt.want) {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
			})
		}
	})
}
