package forwarding

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Config is the forwarder's settings, the same in lrs-forwarder and lrs.
type Config struct {
	// Group is the consumer group that shares the topic's partitions
	// among the forwarder processes (each rule's positions are in the
	// store, not in the group's offsets).
	Group string
	// BatchStatements and BatchBytes bound one request to a target;
	// BatchWait is how long a batch may fill once its first record came.
	BatchStatements int
	BatchBytes      int
	BatchWait       time.Duration
	// RetryMin and RetryMax bound the backoff between attempts while a
	// target fails; a Retry-After longer than the backoff is waited for.
	RetryMin, RetryMax time.Duration
	// Timeout bounds one request to a target.
	Timeout time.Duration
	// RulesInterval is how often the rules are read again (new, paused,
	// rewound, deleted) and dead letters marked for resending are sent.
	RulesInterval time.Duration
	// InstanceID (static membership) and SessionTimeout (0: franz-go's)
	// are the process's group settings, set by the wiring.
	InstanceID     string
	SessionTimeout time.Duration
}

// RegisterFlags adds the settings to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "forward-group", "lrs-forwarder", "consumer group of the forwarders (it only shares the partitions out; each rule's positions are in the store)")
	fs.IntVar(&c.BatchStatements, "forward-batch-statements", 500, "most statements in one request to a target")
	fs.IntVar(&c.BatchBytes, "forward-batch-bytes", 4<<20, "most statement bytes in one request to a target")
	fs.DurationVar(&c.BatchWait, "forward-batch-wait", 100*time.Millisecond, "how long a batch may fill before it is sent (0: send what is there)")
	fs.DurationVar(&c.RetryMin, "forward-retry-min", 200*time.Millisecond, "first backoff after a failed request to a target")
	fs.DurationVar(&c.RetryMax, "forward-retry-max", time.Minute, "longest backoff between requests while a target fails")
	fs.DurationVar(&c.Timeout, "forward-timeout", 30*time.Second, "how long one request to a target may take")
	fs.DurationVar(&c.RulesInterval, "forward-rules-interval", 2*time.Second, "how often the forwarder reads the rules again and sends the dead letters marked for resending")
}

// Validate reports settings that cannot work, by their flag names.
func (c Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("forward-group is empty"))
	}
	if c.BatchStatements < 1 || c.BatchBytes < 1 {
		errs = append(errs, fmt.Errorf("forward-batch-statements %d and forward-batch-bytes %d: want at least 1", c.BatchStatements, c.BatchBytes))
	}
	if c.BatchWait < 0 {
		errs = append(errs, fmt.Errorf("forward-batch-wait %v: want >= 0", c.BatchWait))
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("forward-retry-min %v, forward-retry-max %v: want 0 < min <= max", c.RetryMin, c.RetryMax))
	}
	if c.Timeout <= 0 || c.RulesInterval <= 0 {
		errs = append(errs, fmt.Errorf("forward-timeout %v and forward-rules-interval %v: want > 0", c.Timeout, c.RulesInterval))
	}
	return errors.Join(errs...)
}
