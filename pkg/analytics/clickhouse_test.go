package analytics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// codeTooManyParts is ClickHouse's TOO_MANY_PARTS, which also refuses an
// insert spanning more than max_partitions_per_insert_block partitions.
const codeTooManyParts = 252

// openTest connects to dsn (a fresh database, see testenv.ForEachClickHouse)
// and applies the migrations.
func openTest(t testing.TB, dsn string, cfg Config) *ClickHouse {
	t.Helper()
	cfg.DSN = dsn
	ctx := testenv.Context(t, 2*time.Minute)
	c, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return c
}

func mustInsert(t testing.TB, c *ClickHouse, stmts []Statement) {
	t.Helper()
	bad, err := c.Insert(testenv.Context(t, 2*time.Minute), stmts)
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	if len(bad) != 0 {
		t.Fatalf("insert reported bad rows: %+v", bad)
	}
}

func queryInt(t testing.TB, c *ClickHouse, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := c.conn.QueryRow(testenv.Context(t, time.Minute), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Config{}); err == nil {
		t.Error("Open accepted an empty DSN")
	}
	if _, err := Open(ctx, Config{DSN: "clickhouse://127.0.0.1:9/x", MaxPartitionsPerInsert: -1}); err == nil {
		t.Error("Open accepted a negative MaxPartitionsPerInsert")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := Open(ctx, Config{DSN: "clickhouse://127.0.0.1:9/x?dial_timeout=1s"}); err == nil {
		t.Error("Open succeeded with no server listening")
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		if err := c.Migrate(testenv.Context(t, time.Minute)); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		recorded := queryInt(t, c, "SELECT count() FROM schema_migrations")
		distinct := queryInt(t, c, "SELECT uniqExact(version) FROM schema_migrations")
		if recorded != distinct || recorded < 3 {
			t.Fatalf("schema_migrations holds %d rows for %d versions", recorded, distinct)
		}
		for _, table := range []string{"statements", "voided_statements", "statements_all", "statements_current"} {
			if n := queryInt(t, c, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table); n != 1 {
				t.Errorf("table %s missing after migrate", table)
			}
		}
	})
}

// readRow reads a statement's row back through the same columns Insert
// writes, as the row type holds them.
func readRow(t *testing.T, c *ClickHouse, id uuid.UUID) row {
	t.Helper()
	var (
		r           row
		ts, stored  time.Time
		response    *string
		doc         string
		queryCols   = "tenant, statement_id, timestamp, timestamp_ms, stored, stored_ms, actor_kind, actor_ifi_kind, actor_ifi, actor_name, actor_account_home_page, actor_account_name, verb_id, verb_display, object_kind, object_id, object_type, object_name, result_success, result_completion, result_score_scaled, result_score_raw, result_score_min, result_score_max, result_duration_s, result_response, context_registration, context_platform, context_language, context_instructor, context_team, context_parent_ids, context_grouping_ids, context_category_ids, context_other_ids, context_agents, context_groups, context_extension_keys, result_extension_keys, object_extension_keys, version, authority, voided_statement_id, statement_json, toYYYYMM(timestamp)"
		month       uint32
		registerRow = []any{&r.tenant, &r.statementID, &ts, &r.timestampMS, &stored, &r.storedMS,
			&r.actorKind, &r.actorIFIKind, &r.actorIFI, &r.actorName, &r.actorAccountHomePage, &r.actorAccountName,
			&r.verbID, &r.verbDisplay, &r.objectKind, &r.objectID, &r.objectType, &r.objectName,
			&r.resultSuccess, &r.resultCompletion, &r.scoreScaled, &r.scoreRaw, &r.scoreMin, &r.scoreMax, &r.durationS, &response,
			&r.registration, &r.platform, &r.language, &r.instructor, &r.team,
			&r.parentIDs, &r.groupingIDs, &r.categoryIDs, &r.otherIDs, &r.contextAgents, &r.contextGroups,
			&r.contextExtKeys, &r.resultExtKeys, &r.objectExtKeys, &r.version, &r.authority, &r.voidedStatementID, &doc, &month}
	)
	err := c.conn.QueryRow(testenv.Context(t, time.Minute), "SELECT "+queryCols+" FROM statements WHERE statement_id = ?", id.String()).Scan(registerRow...)
	if err != nil {
		t.Fatalf("read row %s: %v", id, err)
	}
	r.timestamp, r.stored, r.response, r.month, r.json = ts.Unix(), stored.Unix(), response, int(month), []byte(doc)
	return r
}

// normalize makes empty arrays comparable: ClickHouse returns [] where the
// flattened row may hold nil.
func normalize(r row) row {
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Slice && f.Len() == 0 {
			f = reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem()
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return r
}

func TestInsertRowsMatchStatements(t *testing.T) {
	testenv.ForEachClickHouseFull(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		stmts := append([]Statement{{Tenant: "acme", JSON: []byte(fullStatement)}}, newGenerator(genConfig{
			seed: 7, tenants: 2, learners: 50, activities: 20, start: time.Date(2023, 11, 20, 0, 0, 0, 0, time.UTC), days: 60,
		}).batch(200)...)
		mustInsert(t, c, stmts)
		for i, s := range stmts {
			want, err := flatten(s)
			if err != nil {
				t.Fatalf("statement %d: %v", i, err)
			}
			got := readRow(t, c, want.statementID)
			want, got = normalize(want), normalize(got)
			if reflect.DeepEqual(got, want) {
				continue
			}
			gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
			for f := range gv.NumField() {
				if !reflect.DeepEqual(gv.Field(f).Interface(), wv.Field(f).Interface()) {
					t.Errorf("statement %d column %s = %#v, want %#v", i, gv.Type().Field(f).Name, gv.Field(f).Interface(), wv.Field(f).Interface())
				}
			}
			t.FailNow()
		}
		if n := queryInt(t, c, "SELECT count() FROM statements_current"); n != uint64(len(stmts)) {
			t.Fatalf("statements_current has %d rows, want %d", n, len(stmts))
		}
	})
}

func TestInsertReportsBadRows(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		c := openTest(t, dsn, Config{})
		good := newGenerator(genConfig{seed: 3, tenants: 1, learners: 5, activities: 5, start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), days: 3}).batch(3)
		stmts := []Statement{good[0], {Tenant: "t", JSON: []byte(`{"id":`)}, good[1], {Tenant: "", JSON: good[2].JSON}, good[2]}
		bad, err := c.Insert(testenv.Context(t, time.Minute), stmts)
		if err != nil {
			t.Fatalf("insert: %v", err)
		}
		if len(bad) != 2 || bad[0].Index != 1 || bad[1].Index != 3 || bad[0].Reason == "" {
			t.Fatalf("bad rows = %+v, want indexes 1 and 3 with reasons", bad)
		}
		if n := queryInt(t, c, "SELECT count() FROM statements"); n != 3 {
			t.Fatalf("%d rows written, want the 3 good ones", n)
		}
	})
}

func TestBackfillSpansManyPartitions(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		const months = 120 // 10 years of monthly partitions in one call
		c := openTest(t, dsn, Config{MaxPartitionsPerInsert: 25})
		var stmts []Statement
		for m := range months {
			g := newGenerator(genConfig{seed: uint64(m), tenants: 1, learners: 10, activities: 10,
				start: time.Date(1995, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC), days: 28})
			stmts = append(stmts, g.batch(3)...)
		}
		mustInsert(t, c, stmts)
		if n := queryInt(t, c, "SELECT count() FROM statements_current"); n != uint64(len(stmts)) {
			t.Fatalf("%d statements visible, want %d", n, len(stmts))
		}
		if n := queryInt(t, c, "SELECT uniqExact(partition) FROM system.parts WHERE database = currentDatabase() AND table = 'statements' AND active"); n != months {
			t.Fatalf("%d partitions, want %d", n, months)
		}
		// Where the server enforces the limit, prove it is real and that
		// splitting is what keeps a back-fill under it.
		if queryInt(t, c, "SELECT count() FROM system.settings WHERE name = 'max_partitions_per_insert_block'") == 1 {
			cfg, err := (&Config{DSN: dsn, MaxPartitionsPerInsert: months, FlattenWorkers: 1}).withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			limited := &ClickHouse{conn: c.conn, cfg: cfg}
			// Each insert gets its own bound, generous for chDB on a loaded
			// machine (one minute for both was exceeded under make test).
			limit := map[string]any{"max_partitions_per_insert_block": 50}
			_, err = limited.Insert(clickhouseSettings(testenv.Context(t, 3*time.Minute), limit), stmts)
			var ex *clickhouse.Exception
			if !errors.As(err, &ex) || ex.Code != codeTooManyParts {
				t.Fatalf("an insert spanning %d partitions under a limit of 50: %v, want the server's refusal (code %d)", months, err, codeTooManyParts)
			}
			c.cfg.MaxPartitionsPerInsert = 50
			if _, err := c.Insert(clickhouseSettings(testenv.Context(t, 3*time.Minute), limit), stmts); err != nil {
				t.Fatalf("split insert under a limit of 50: %v", err)
			}
		} else {
			t.Log("this server has no max_partitions_per_insert_block; checked the split insert only")
		}
	})
}

func TestVoidingLeavesTheCounts(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		for _, order := range []string{"target first", "voiding first"} {
			t.Run(order, func(t *testing.T) {
				c := openTest(t, testenv.AnotherClickHouseDatabase(t, dsn), Config{})
				g := newGenerator(genConfig{seed: 11, tenants: 1, learners: 10, activities: 3, start: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), days: 10})
				stmts := g.batch(20)
				target, err := flatten(stmts[4])
				if err != nil {
					t.Fatal(err)
				}
				voiding := Statement{Tenant: stmts[4].Tenant, JSON: []byte(fmt.Sprintf(`{"id":"%s","actor":{"mbox":"mailto:admin@lms"},
					"verb":{"id":"%s"},"object":{"objectType":"StatementRef","id":"%s"},
					"timestamp":"2024-06-01T00:00:00Z","stored":"2024-06-01T00:00:00Z","version":"1.0.3","authority":{"mbox":"mailto:lrs@x"}}`,
					uuid.New(), VerbVoided, target.statementID))}
				// The same target id in another tenant must stay visible.
				other := Statement{Tenant: "other", JSON: stmts[4].JSON}
				if order == "voiding first" {
					mustInsert(t, c, []Statement{voiding})
					mustInsert(t, c, append(stmts, other))
				} else {
					mustInsert(t, c, append(stmts, other))
					mustInsert(t, c, []Statement{voiding})
				}
				tenant := stmts[4].Tenant
				if n := queryInt(t, c, "SELECT count() FROM statements_current WHERE tenant = ? AND statement_id = ?", tenant, target.statementID.String()); n != 0 {
					t.Errorf("voided statement still in statements_current")
				}
				if n := queryInt(t, c, "SELECT count() FROM statements_current WHERE tenant = 'other'"); n != 1 {
					t.Errorf("voiding crossed tenants: other tenant has %d statements, want 1", n)
				}
				if n := queryInt(t, c, "SELECT count() FROM statements_current WHERE tenant = ?", tenant); n != 20 {
					t.Errorf("statements_current has %d statements, want 19 plus the voiding one", n)
				}
				if n := queryInt(t, c, "SELECT count() FROM voided_statements"); n != 1 {
					t.Errorf("voided_statements holds %d rows for one voiding statement", n)
				}
				if n := queryInt(t, c, "SELECT sum(voided) FROM statements_all WHERE tenant = ?", tenant); n != 1 {
					t.Errorf("statements_all flags %d voided, want 1", n)
				}
			})
		}
	})
}

func clickhouseSettings(ctx context.Context, s map[string]any) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings(s)))
}
