// Package analytics writes xAPI statements into ClickHouse as typed rows
// that data engineers and BI tools query over SQL, and owns the schema
// (migrations, deduplicated views, rollups) they query.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Statement is one accepted xAPI statement as it travels on the topic: the
// tenant and the full statement JSON as the LRS prepared it (id, stored,
// authority, version and timestamp present).
type Statement struct {
	Tenant string
	JSON   []byte
	// Source and OriginalStored are the provenance of an imported
	// statement (the topic's source and originalStored); empty and zero
	// for any other.
	Source         string
	OriginalStored time.Time
}

// RowError reports a statement that can never be written.
type RowError struct {
	Index  int    // index into the slice given to Insert
	Reason string // why it cannot be flattened
}

// Config configures the ClickHouse connection and how inserts are split.
type Config struct {
	// DSN is a native-protocol address: clickhouse://user:pass@host:9000/db?dial_timeout=5s
	DSN string
	// MaxPartitionsPerInsert caps how many monthly partitions one INSERT
	// touches. Servers refuse an insert block spanning more than
	// max_partitions_per_insert_block (100 by default) partitions, which a
	// back-fill of old timestamps easily reaches. Default 50.
	MaxPartitionsPerInsert int
	// FlattenWorkers is how many goroutines parse statements in one Insert.
	// Default GOMAXPROCS.
	FlattenWorkers int
	// InsertConcurrency is how many INSERTs one Insert call runs at once; a
	// batch of at least 20000 rows is cut into that many pieces so that
	// the client converts one while the server writes another. Default 2.
	InsertConcurrency int
}

const defaultMaxPartitionsPerInsert = 50

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.DSN == "" {
		return out, errors.New("analytics: DSN is empty")
	}
	if out.MaxPartitionsPerInsert < 0 || out.FlattenWorkers < 0 || out.InsertConcurrency < 0 {
		return out, errors.New("analytics: MaxPartitionsPerInsert, FlattenWorkers and InsertConcurrency must not be negative")
	}
	if out.InsertConcurrency == 0 {
		out.InsertConcurrency = 2
	}
	if out.MaxPartitionsPerInsert == 0 {
		out.MaxPartitionsPerInsert = defaultMaxPartitionsPerInsert
	}
	if out.FlattenWorkers == 0 {
		out.FlattenWorkers = runtime.GOMAXPROCS(0)
	}
	return out, nil
}

// ClickHouse is a connection pool to the analytics database.
type ClickHouse struct {
	conn        driver.Conn
	cfg         Config
	dirtyMargin time.Duration
}

// Open connects to ClickHouse and checks that the server answers.
func Open(ctx context.Context, cfg Config) (*ClickHouse, error) {
	c, err := OpenLazy(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		_ = c.conn.Close()
		return nil, err
	}
	return c, nil
}

// OpenLazy is Open without the check: the connections are made at the
// first query, so a process that only reads now and then (the ingest's
// erasure dry runs) starts while ClickHouse is down.
func OpenLazy(cfg Config) (*ClickHouse, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	opts, err := clickhouse.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("analytics: parse DSN: %w", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("analytics: open: %w", err)
	}
	return &ClickHouse{conn: conn, cfg: cfg, dirtyMargin: defaultDirtyMargin}, nil
}

// Ping checks that the server answers.
func (c *ClickHouse) Ping(ctx context.Context) error {
	if err := c.conn.Ping(ctx); err != nil {
		return fmt.Errorf("analytics: ping: %w", err)
	}
	return nil
}

// Close releases the connections.
func (c *ClickHouse) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("analytics: close: %w", err)
	}
	return nil
}
