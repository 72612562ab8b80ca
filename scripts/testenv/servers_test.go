// Package testenv_test checks that the servers scripts/testenv starts are the
// ones the project relies on and behave as the other packages' tests expect:
// a Kafka broker with working consumer groups and idempotent producers, a
// PostgreSQL superuser able to create databases, and a ClickHouse server that
// takes batch inserts over the native protocol.
package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

func TestKafka(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, time.Minute)

	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("new admin client: %v", err)
	}
	// A cleanup, not a defer: the topic's cleanup below still needs the client.
	t.Cleanup(admin.Close)
	adm := kadm.NewClient(admin)

	topic := testenv.UniqueName("testenv")
	created, err := adm.CreateTopic(ctx, 3, 1, nil, topic)
	if err != nil || created.Err != nil {
		t.Fatalf("create topic %s: %v / %v", topic, err, created.Err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})

	// The producer is configured as ingest's will be: all replicas acknowledge
	// and the producer is idempotent (the franz-go default).
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	defer prod.Close()
	const n = 30
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
	}

	group := testenv.UniqueName("testenv")
	cons, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumerGroup(group),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		t.Fatalf("new consumer: %v", err)
	}
	defer cons.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		fetches := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records before timeout: %v", len(seen), n, err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit offsets of group %s: %v", group, err)
	}
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of group %s: %v", group, err)
	}
	var committed int64
	offsets.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != n {
		t.Fatalf("group %s committed offsets summing to %d, want %d", group, committed, n)
	}
}

func TestPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := testenv.Context(t, time.Minute)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)

	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatalf("server version: %v", err)
	}
	if version < 150000 {
		t.Fatalf("PostgreSQL server_version_num %d, want 15 or newer", version)
	}

	if _, err := conn.Exec(ctx, `CREATE TABLE statements (id uuid PRIMARY KEY, body jsonb NOT NULL)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	const upsert = `INSERT INTO statements (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`
	id := "6fbd600f-d17c-4c74-801a-2ec2e53231c7"
	for range 2 {
		if _, err := conn.Exec(ctx, upsert, id, `{"verb":"completed"}`); err != nil {
			t.Fatalf("upsert: %v", err)
		}
	}
	var count int
	var verb string
	if err := conn.QueryRow(ctx, `SELECT count(*), max(body->>'verb') FROM statements`).Scan(&count, &verb); err != nil {
		t.Fatalf("select: %v", err)
	}
	if count != 1 || verb != "completed" {
		t.Fatalf("got %d rows with verb %q, want 1 row with verb completed", count, verb)
	}
}

// TestClickHouse runs on every engine: Debian's 18.16 over the native
// protocol and the chDB engines over HTTP through scripts/testenv/chdb_http.py,
// whose handshake, batch inserts, settings, parameters and errors must look
// to clickhouse-go as a server's do.
func TestClickHouse(t *testing.T) {
	testenv.ForEachClickHouse(t, func(t *testing.T, dsn string) {
		ctx := testenv.Context(t, time.Minute)
		opts, err := clickhouse.ParseDSN(dsn)
		if err != nil {
			t.Fatalf("parse %s: %v", dsn, err)
		}
		conn, err := clickhouse.Open(opts)
		if err != nil {
			t.Fatalf("open %s: %v", dsn, err)
		}
		defer conn.Close()

		var version string
		if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
			t.Fatalf("server version: %v", err)
		}
		t.Logf("ClickHouse %s", version)

		err = conn.Exec(ctx, `CREATE TABLE statements (id String, verb String, stored DateTime)
			ENGINE = ReplacingMergeTree ORDER BY id`)
		if err != nil {
			t.Fatalf("create table: %v", err)
		}
		// 18.16 needs the explicit column list; current servers accept it too.
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO statements (id, verb, stored)")
		if err != nil {
			t.Fatalf("prepare batch: %v", err)
		}
		stored := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		const n = 1000
		for i := range n {
			if err := batch.Append(fmt.Sprintf("id-%04d", i), "completed", stored); err != nil {
				t.Fatalf("append row %d: %v", i, err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("send batch: %v", err)
		}

		var count uint64
		var first time.Time
		if err := conn.QueryRow(ctx, "SELECT count(), min(stored) FROM statements").Scan(&count, &first); err != nil {
			t.Fatalf("select: %v", err)
		}
		if count != n || !first.Equal(stored) {
			t.Fatalf("got %d rows stored at %s, want %d at %s", count, first, n, stored)
		}

		// A setting of one query must not stay for the next.
		limited := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_result_rows": 10}))
		if err := conn.QueryRow(limited, "SELECT count() FROM (SELECT id FROM statements)").Scan(&count); err != nil {
			t.Fatalf("select under max_result_rows: %v", err)
		}
		rows, err := conn.Query(ctx, "SELECT id FROM statements")
		if err != nil {
			t.Fatalf("select after a limited query: %v", err)
		}
		got := 0
		for rows.Next() {
			got++
		}
		if err := rows.Err(); err != nil || got != n {
			t.Fatalf("after a limited query: %d rows, err %v; want %d", got, err, n)
		}
		rows.Close()

		// Server errors arrive as exceptions with their code.
		err = conn.Exec(ctx, "SELECT * FROM no_such_table")
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 60 {
			t.Fatalf("select from a missing table: %v, want exception code 60 (UNKNOWN_TABLE)", err)
		}
	})
}
