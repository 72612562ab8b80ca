package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// The test server runs with synchronous_commit = off, which loses commits
// in a crash that a store-writer having moved on never re-applies: the
// store must insist on durable commits in its own sessions.
func TestPostgresCommitsAreDurable(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	p, err := OpenPostgres(ctx, testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	conns := make([]interface{ Release() }, 0, 3)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range 3 { // several connections of the pool, not only the first
		c, err := p.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var got string
		if err := c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != "on" {
			t.Fatalf("synchronous_commit = %q in the store's session, want on", got)
		}
	}
}

func TestUnavailable(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	down, err := OpenPostgres(ctx, "postgres://lrs:lrs@127.0.0.1:1/lrs?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	refused := down.pool.Ping(ctx)
	// Tenants and credentials are read through database/sql.
	_, refusedSQL := down.GetCredential(ctx, "k")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("apply: %w", refused), true},
		{"connection refused to database/sql", refusedSQL, true},
		{"connection cut mid-request", fmt.Errorf("store attachments: %w", io.ErrUnexpectedEOF), true},
		{"no good connection left (database/sql)", fmt.Errorf("get credential k: %w", driver.ErrBadConn), true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"connection exception", fmt.Errorf("x: %w", &pgconn.PgError{Code: "08006"}), true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"not found", ErrNotFound, false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unavailable(tt.err); got != tt.want {
				t.Fatalf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
