package analyticswriter

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Config is the analytics-writer's settings: where ClickHouse is, its
// consumer group, how much goes into one insert, how it retries while
// ClickHouse is down, and how often the rollups are recomputed.
type Config struct {
	// DSN is ClickHouse's native DSN.
	DSN   string
	Group string
	// Migrate applies the ClickHouse migrations at start.
	Migrate         bool
	MaxBatchRecords int
	// MaxBatchBytes bounds the record bytes of one insert, so the writer's
	// memory stays bounded whatever the records hold.
	MaxBatchBytes int
	MaxBatchWait  time.Duration
	// RetryMax is the longest backoff between insert attempts.
	RetryMax time.Duration
	// RollupInterval is how often the rollup tables are recomputed for the
	// months that changed (0 or less: never).
	RollupInterval time.Duration
}

// RegisterFlags adds the settings to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "clickhouse-dsn", "", "ClickHouse native DSN, e.g. clickhouse://127.0.0.1:9000/default (lrs runs the analytics-writer only when it is set)")
	fs.StringVar(&c.Group, "analytics-group", "lrs-analytics-writer", "consumer group of the analytics-writer")
	fs.BoolVar(&c.Migrate, "analytics-migrate", true, "apply the ClickHouse migrations at start")
	fs.IntVar(&c.MaxBatchRecords, "analytics-batch-records", 5000, "most records (requests) in one ClickHouse insert")
	fs.IntVar(&c.MaxBatchBytes, "analytics-batch-bytes", 16<<20, "most record bytes in one ClickHouse insert (bounds the writer's memory)")
	// ClickHouse wants few large inserts (each makes a part that its merges
	// must fold in): a batch fills for up to a second, which delays the
	// analytics by no more than that. lrs has the same default: its
	// ClickHouse wants the same inserts, and the 0 it once had made one
	// insert of every poll.
	fs.DurationVar(&c.MaxBatchWait, "analytics-batch-wait", time.Second, "how long an insert batch may fill (0: insert what is there)")
	fs.DurationVar(&c.RetryMax, "analytics-retry-max", 10*time.Second, "longest backoff between insert attempts while ClickHouse is down")
	fs.DurationVar(&c.RollupInterval, "analytics-rollup-interval", 2*time.Minute, "how often the rollup tables are recomputed for the months that changed (0: never)")
}

// Validate reports settings that cannot work, by their flag names.
func (c Config) Validate() error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, errors.New("clickhouse-dsn is empty"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("analytics-group is empty"))
	}
	if c.MaxBatchRecords < 1 {
		errs = append(errs, fmt.Errorf("analytics-batch-records %d: want at least 1", c.MaxBatchRecords))
	}
	if c.MaxBatchBytes < 1 {
		errs = append(errs, fmt.Errorf("analytics-batch-bytes %d: want at least 1", c.MaxBatchBytes))
	}
	if c.MaxBatchWait < 0 {
		errs = append(errs, fmt.Errorf("analytics-batch-wait %v: want >= 0", c.MaxBatchWait))
	}
	if c.RetryMax <= 0 {
		errs = append(errs, fmt.Errorf("analytics-retry-max %v: want > 0", c.RetryMax))
	}
	return errors.Join(errs...)
}
