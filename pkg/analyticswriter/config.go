package analyticswriter

import (
	"errors"
	"flag"
	"time"

	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Config is the analytics-writer's settings: where ClickHouse is, its
// consumer group, how much goes into one insert, how it retries while
// ClickHouse is down, and how often the rollups are recomputed.
type Config struct {
	// DSN is ClickHouse's native DSN.
	DSN string
	stream.Batching
	// Migrate applies the ClickHouse migrations at start.
	Migrate bool
	// RollupInterval is how often the rollup tables are recomputed for the
	// months that changed (0 or less: never).
	RollupInterval time.Duration
}

// RegisterFlags adds the settings to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "clickhouse-dsn", "", "ClickHouse native DSN, e.g. clickhouse://127.0.0.1:9000/default (lrs runs the analytics-writer only when it is set)")
	fs.StringVar(&c.Group, "analytics-group", "lrs-analytics-writer", "consumer group of the analytics-writer")
	fs.BoolVar(&c.Migrate, "analytics-migrate", true, "apply the ClickHouse migrations at start")
	// ClickHouse wants few large inserts (each makes a part that its merges
	// must fold in): a batch fills for up to a second, which delays the
	// analytics by no more than that. lrs has the same default: its
	// ClickHouse wants the same inserts, and the 0 it once had made one
	// insert of every poll.
	c.Batching.RegisterFlags(fs, "analytics", "ClickHouse insert",
		stream.Batching{MaxBatchRecords: 5000, MaxBatchBytes: 16 << 20, MaxBatchWait: time.Second, RetryMax: 10 * time.Second})
	fs.DurationVar(&c.RollupInterval, "analytics-rollup-interval", 2*time.Minute, "how often the rollup tables are recomputed for the months that changed (0: never)")
}

// Validate reports settings that cannot work, by their flag names.
func (c Config) Validate() error {
	errs := []error{c.Batching.Validate("analytics")}
	if c.DSN == "" {
		errs = append(errs, errors.New("clickhouse-dsn is empty"))
	}
	return errors.Join(errs...)
}
