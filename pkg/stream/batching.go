package stream

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Batching is how a writer's consumer group hands records to its sink: the
// group, how many records and bytes at once, how long a batch may fill,
// and the longest backoff while the sink fails. The store-writer and the
// analytics-writer each register it under their own flag prefix.
type Batching struct {
	Group           string
	MaxBatchRecords int
	// MaxBatchBytes bounds the record bytes of one batch, so the writer's
	// memory stays bounded whatever the records hold.
	MaxBatchBytes int
	MaxBatchWait  time.Duration
	// RetryMax is the longest backoff between write attempts.
	RetryMax time.Duration
}

// RegisterFlags adds <prefix>-batch-records, -batch-bytes, -batch-wait and
// -retry-max to fs with the defaults in d (the group flag is the writer's
// own: the API registers the store-writer's too). sink names one write in
// the help texts, e.g. "store transaction".
func (b *Batching) RegisterFlags(fs *flag.FlagSet, prefix, sink string, d Batching) {
	fs.IntVar(&b.MaxBatchRecords, prefix+"-batch-records", d.MaxBatchRecords, "most records (requests) in one "+sink)
	fs.IntVar(&b.MaxBatchBytes, prefix+"-batch-bytes", d.MaxBatchBytes, "most record bytes in one "+sink+" (bounds the writer's memory)")
	fs.DurationVar(&b.MaxBatchWait, prefix+"-batch-wait", d.MaxBatchWait, "how long a batch may fill before its "+sink+" (0: write what is there)")
	fs.DurationVar(&b.RetryMax, prefix+"-retry-max", d.RetryMax, "longest backoff between write attempts while the "+sink+" fails")
}

// Validate reports settings that cannot work, by their flag names.
func (b Batching) Validate(prefix string) error {
	var errs []error
	if b.Group == "" {
		errs = append(errs, fmt.Errorf("%s-group is empty", prefix))
	}
	if b.MaxBatchRecords < 1 {
		errs = append(errs, fmt.Errorf("%s-batch-records %d: want at least 1", prefix, b.MaxBatchRecords))
	}
	if b.MaxBatchBytes < 1 {
		errs = append(errs, fmt.Errorf("%s-batch-bytes %d: want at least 1", prefix, b.MaxBatchBytes))
	}
	if b.MaxBatchWait < 0 {
		errs = append(errs, fmt.Errorf("%s-batch-wait %v: want >= 0", prefix, b.MaxBatchWait))
	}
	if b.RetryMax <= 0 {
		errs = append(errs, fmt.Errorf("%s-retry-max %v: want > 0", prefix, b.RetryMax))
	}
	return errors.Join(errs...)
}

// ConsumerConfig is the part of a consumer's settings that b sets.
func (b Batching) ConsumerConfig() ConsumerConfig {
	return ConsumerConfig{Group: b.Group, MaxBatchRecords: b.MaxBatchRecords, MaxBatchBytes: b.MaxBatchBytes,
		MaxBatchWait: b.MaxBatchWait, RetryMax: b.RetryMax}
}
