package storewriter

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Config is the store-writer's settings: its consumer group, how much it
// writes at once, and how it retries while the store is down. The statement
// store's DSN is not here: the API opens the same store.
type Config struct {
	// Group is the consumer group; the store keeps its applied offsets
	// under this name, and the API's read-your-writes follows them.
	Group           string
	MaxBatchRecords int
	// MaxBatchBytes bounds the record bytes of one batch, so the writer's
	// memory stays bounded whatever the records hold.
	MaxBatchBytes int
	MaxBatchWait  time.Duration
	Lanes         int
	TxStatements  int
	// RetryMax is the longest backoff between write attempts.
	RetryMax time.Duration
}

// RegisterGroupFlag adds the store-writer's consumer group to fs: the API
// registers it alone, since it follows the group without being part of it.
func RegisterGroupFlag(fs *flag.FlagSet, group *string) {
	fs.StringVar(group, "store-group", "lrs-store-writer", "consumer group of the store-writer (the API's read-your-writes follows its offsets)")
}

// RegisterFlags adds the settings to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	RegisterGroupFlag(fs, &c.Group)
	fs.IntVar(&c.MaxBatchRecords, "store-batch-records", 2000, "most records written in one store transaction")
	fs.IntVar(&c.MaxBatchBytes, "store-batch-bytes", 16<<20, "most record bytes written in one store transaction (bounds the writer's memory)")
	fs.DurationVar(&c.MaxBatchWait, "store-batch-wait", 20*time.Millisecond, "how long a batch may fill before it is written (0: write what is there)")
	fs.IntVar(&c.Lanes, "store-lanes", 2, "concurrent store transactions per batch (records split by partition)")
	fs.IntVar(&c.TxStatements, "store-tx-statements", 0, "split a batch into store transactions of about this many statements, each with its offsets (0: one per batch and lane; SQLite, whose single writer the API's attachment and document writes wait for, wants a few hundred)")
	fs.DurationVar(&c.RetryMax, "store-retry-max", 10*time.Second, "longest backoff between write attempts while the store is down")
}

// Validate reports settings that cannot work, by their flag names.
func (c Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("store-group is empty"))
	}
	if c.MaxBatchRecords < 1 {
		errs = append(errs, fmt.Errorf("store-batch-records %d: want at least 1", c.MaxBatchRecords))
	}
	if c.MaxBatchBytes < 1 {
		errs = append(errs, fmt.Errorf("store-batch-bytes %d: want at least 1", c.MaxBatchBytes))
	}
	if c.MaxBatchWait < 0 {
		errs = append(errs, fmt.Errorf("store-batch-wait %v: want >= 0", c.MaxBatchWait))
	}
	if c.Lanes < 1 {
		errs = append(errs, fmt.Errorf("store-lanes %d: want at least 1", c.Lanes))
	}
	if c.TxStatements < 0 {
		errs = append(errs, fmt.Errorf("store-tx-statements %d: want 0 (no bound) or more", c.TxStatements))
	}
	if c.RetryMax <= 0 {
		errs = append(errs, fmt.Errorf("store-retry-max %v: want > 0", c.RetryMax))
	}
	return errors.Join(errs...)
}
