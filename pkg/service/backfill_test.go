package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestBackfillReplaysTheTopic re-reads a topic into the real ClickHouse for
// one tenant and a time range, twice: the second run changes no count.
func TestBackfillReplaysTheTopic(t *testing.T) {
	// Pipeline behaviour, not SQL a release treats differently: on chDB only
	// with LRS_TEST_CHDB_FULL=1 (minutes per engine there).
	testenv.ForEachClickHouseFull(t, func(t *testing.T, ch string) {
		brokers := testenv.KafkaBrokers(t)
		tc := stream.TopicConfig{Name: testenv.UniqueName("replay"), Partitions: 3, ReplicationFactor: 1, MaxRecordBytes: 1 << 20}
		prod := newProducer(t, brokers, tc)
		defer prod.close()
		ctx := testenv.Context(t, 5*time.Minute) // chDB under make test's load needed more than 2
		for i, ts := range []string{"2025-01-10T10:00:00Z", "2025-02-10T10:00:00Z", "2025-03-10T10:00:00Z"} {
			for _, tenant := range []string{"t1", "t2"} {
				b := stream.Batch{Tenant: tenant}
				for j := 0; j < 10; j++ {
					id := fmt.Sprintf("%08d-0000-4000-8000-%012d", i, j)
					if tenant == "t2" {
						id = fmt.Sprintf("%08d-1111-4000-8000-%012d", i, j)
					}
					stmt := strings.Replace(withID(id, statement("l", "completed", "c")), `{"id"`, `{"timestamp":"`+ts+`","stored":"`+ts+`","version":"1.0.0","authority":{"mbox":"mailto:lms@example.com"},"id"`, 1)
					b.Statements = append(b.Statements, stream.Statement{ID: id, Stored: time.Now(), Fingerprint: id, Statement: json.RawMessage(stmt)})
				}
				if _, _, err := prod.p.Publish(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		args := []string{"-kafka-brokers", strings.Join(brokers, ","), "-kafka-topic", tc.Name, "-clickhouse-dsn", ch,
			"-tenant", "t1", "-from", "2025-02-01T00:00:00Z", "-to", "2025-04-01T00:00:00Z", "-batch", "7"}
		count := func() (t1, t2 uint64) {
			if err := testenv.ClickHouseConn(t, ch).QueryRow(context.Background(), "SELECT countIf(tenant = 't1'), countIf(tenant = 't2') FROM statements_current").Scan(&t1, &t2); err != nil {
				t.Fatal(err)
			}
			return
		}
		for run := 1; run <= 2; run++ {
			var out bytes.Buffer
			if err := RunBackfill(ctx, args, &out); err != nil {
				t.Fatalf("run %d: %v\n%s", run, err, out.String())
			}
			if !strings.Contains(out.String(), "read 60") {
				t.Errorf("run %d: progress does not report the 60 statements read:\n%s", run, out.String())
			}
			if t1, t2 := count(); t1 != 20 || t2 != 0 {
				t.Fatalf("after run %d ClickHouse counts t1=%d t2=%d, want 20 and 0", run, t1, t2)
			}
		}
	})
}
