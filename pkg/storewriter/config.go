package storewriter

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Config is the store-writer's settings: its consumer group, how much it
// writes at once, and how it retries while the store is down. The statement
// store's DSN is not here: the API opens the same store.
type Config struct {
	// Batching's Group is the consumer group; the store keeps its applied
	// offsets under this name, and the API's read-your-writes follows them.
	stream.Batching
	Lanes              int
	TxStatements       int
	TxImportStatements int
}

// RegisterGroupFlag adds the store-writer's consumer group to fs: the API
// registers it alone, since it follows the group without being part of it.
func RegisterGroupFlag(fs *flag.FlagSet, group *string) {
	fs.StringVar(group, "store-group", "lrs-store-writer", "consumer group of the store-writer (the API's read-your-writes follows its offsets)")
}

// RegisterFlags adds the settings to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	RegisterGroupFlag(fs, &c.Group)
	c.Batching.RegisterFlags(fs, "store", "store transaction",
		stream.Batching{MaxBatchRecords: 2000, MaxBatchBytes: 16 << 20, MaxBatchWait: 20 * time.Millisecond, RetryMax: 10 * time.Second})
	fs.IntVar(&c.Lanes, "store-lanes", 2, "concurrent store transactions per batch (records split by partition)")
	fs.IntVar(&c.TxStatements, "store-tx-statements", 0, "split a batch into store transactions of about this many statements, each with its offsets (0: one per batch and lane; SQLite, whose single writer the API's attachment and document writes wait for, wants a few hundred)")
	fs.IntVar(&c.TxImportStatements, "store-tx-import-statements", 0, "the same bound for transactions holding only imported statements (lrs import, lrs pull), where the rate matters more than how long API writes wait (0: one per batch and lane)")
}

// Validate reports settings that cannot work, by their flag names.
func (c Config) Validate() error {
	errs := []error{c.Batching.Validate("store")}
	if c.Lanes < 1 {
		errs = append(errs, fmt.Errorf("store-lanes %d: want at least 1", c.Lanes))
	}
	if c.TxStatements < 0 {
		errs = append(errs, fmt.Errorf("store-tx-statements %d: want 0 (no bound) or more", c.TxStatements))
	}
	if c.TxImportStatements < 0 {
		errs = append(errs, fmt.Errorf("store-tx-import-statements %d: want 0 (no bound) or more", c.TxImportStatements))
	}
	return errors.Join(errs...)
}
