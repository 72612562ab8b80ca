package analytics

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

func TestOutageLosesAndDoublesNothing(t *testing.T) {
	testenv.ForEachClickHouseFull(t, func(t *testing.T, dsn string) {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		// The proxy stands in for the network: cutting it is what the writer
		// sees when the server dies mid-stream.
		p := testenv.NewProxy(t, u.Host)
		u.Host = p.Addr()
		q := u.Query()
		q.Set("dial_timeout", "1s")
		u.RawQuery = q.Encode()
		ctx := testenv.Context(t, 3*time.Minute)
		c, err := Open(ctx, Config{DSN: u.String()})
		if err != nil {
			t.Fatalf("open through proxy: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Migrate(ctx); err != nil {
			t.Fatal(err)
		}

		g := newGenerator(genConfig{seed: 33, tenants: 2, learners: 50, activities: 10,
			start: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), days: 20})
		first, second := g.batch(3000), g.batch(3000)
		mustInsert(t, c, first)

		// The server goes away: Insert must fail (nothing known written), and
		// keep failing while it is away.
		p.Down()
		for range 2 {
			callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := c.Insert(callCtx, second); err == nil {
				cancel()
				t.Fatal("Insert succeeded with ClickHouse unreachable")
			}
			cancel()
		}

		// It comes back: the writer retries the failed batch and, as after a
		// restart, the uncommitted records before it too.
		p.Up(t)
		deadline := time.Now().Add(time.Minute)
		for {
			_, err := c.Insert(ctx, append(append([]Statement{}, first[2000:]...), second...))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Insert still failing after the server came back: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}

		want := uint64(len(first) + len(second))
		if n := queryInt(t, c, "SELECT count() FROM statements_current"); n != want {
			t.Fatalf("statements_current has %d statements after the outage, want %d", n, want)
		}
		if n := queryInt(t, c, "SELECT sum(statements) FROM learners_daily"); n != want {
			t.Fatalf("learners_daily counts %d statements, want %d", n, want)
		}
	})
}
