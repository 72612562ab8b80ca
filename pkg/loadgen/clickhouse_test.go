package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// The ClickHouse watcher against the real server: ids inserted after they
// were acknowledged are found with their delay, ids never inserted end as
// missing, and an id that is not a UUID never reaches the SQL.
func TestClickHouseWatcher(t *testing.T) {
	dsn := testenv.ClickHouseDSN(t)
	ctx := testenv.Context(t, time.Minute)
	conn := testenv.ClickHouseConn(t, dsn)
	if err := conn.Exec(ctx, "CREATE TABLE statements (statement_id UUID, n UInt32) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}

	if _, err := newCHWatcher(ctx, dsn, "no_such_table", 10*time.Millisecond, time.Second); err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("unknown table: %v", err)
	}
	w, err := newCHWatcher(ctx, dsn, "statements", 10*time.Millisecond, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	ack := time.Now()
	var ids []string
	for range 50 {
		id := uuid.NewString()
		ids = append(ids, id)
		w.add(strings.ToUpper(id), ack) // the LRS may answer in any case
	}
	w.add(uuid.NewString(), ack) // never inserted
	w.add("1' OR 1=1 --", ack)   // not a UUID

	const delay = 200 * time.Millisecond
	time.Sleep(delay)
	b, err := conn.PrepareBatch(context.Background(), "INSERT INTO statements (statement_id, n)")
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if err := b.Append(uuid.MustParse(id), uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	loadEnd := time.Now()
	s := w.finish(loadEnd)
	if s.Samples != 52 || s.Visible != 50 || s.Missing != 1 || s.Errors != 1 || !strings.Contains(s.Error, "not a UUID") {
		t.Fatalf("stats %+v", s)
	}
	if s.P50ms < float64(delay.Milliseconds()) || s.MaxMs < s.P50ms || s.DrainS < 0 {
		t.Fatalf("found before they were inserted? %+v", s)
	}
}
