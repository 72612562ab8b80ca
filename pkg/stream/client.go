package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"
)

// TopicConfig describes the statements topic and its dead-letter topic.
type TopicConfig struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	// MaxRecordBytes bounds one record (one request's statements); it must
	// cover the largest accepted request body plus the envelope.
	MaxRecordBytes int32
	Retention      time.Duration // 0 keeps the broker default
}

// DeadLetterTopic is where records that can never be written go.
func (t TopicConfig) DeadLetterTopic() string { return t.Name + ".dlq" }

// Validate reports a setting that cannot work.
func (t TopicConfig) Validate() error {
	var errs []error
	if t.Name == "" {
		errs = append(errs, errors.New("topic name is empty"))
	}
	if t.Partitions < 1 {
		errs = append(errs, fmt.Errorf("topic partitions %d: want at least 1", t.Partitions))
	}
	if t.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("replication factor %d: want at least 1", t.ReplicationFactor))
	}
	if t.MaxRecordBytes < 1024 {
		errs = append(errs, fmt.Errorf("max record bytes %d: want at least 1024", t.MaxRecordBytes))
	}
	return errors.Join(errs...)
}

// kafkaLogLevel tells franz-go what to log through log: franz-go is chatty
// at info, so its info shows only when log is at debug.
func kafkaLogLevel(log *zap.Logger) func() kgo.LogLevel {
	return func() kgo.LogLevel {
		switch core := log.Core(); {
		case core.Enabled(zap.DebugLevel):
			return kgo.LogLevelDebug
		case core.Enabled(zap.WarnLevel):
			return kgo.LogLevelWarn
		default:
			return kgo.LogLevelError
		}
	}
}

// NewClient returns a franz-go client for brokers, logging through log.
func NewClient(brokers []string, log *zap.Logger, opts ...kgo.Opt) (*kgo.Client, error) {
	if len(brokers) == 0 {
		return nil, errors.New("no Kafka brokers configured")
	}
	log = log.Named("kafka")
	base := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.WithLogger(kzap.New(log, kzap.LevelFn(kafkaLogLevel(log))))}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// EnsureTopics creates the statements topic and its dead-letter topic when
// they are missing; existing topics are left as they are.
func EnsureTopics(ctx context.Context, cl *kgo.Client, t TopicConfig) error {
	if err := t.Validate(); err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	maxBytes := fmt.Sprint(t.MaxRecordBytes)
	configs := map[string]*string{"max.message.bytes": &maxBytes}
	if t.Retention > 0 {
		ms := fmt.Sprint(t.Retention.Milliseconds())
		configs["retention.ms"] = &ms
	}
	for _, name := range []string{t.Name, t.DeadLetterTopic()} {
		resp, err := adm.CreateTopic(ctx, t.Partitions, t.ReplicationFactor, configs, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	// A broker answers a produce with UNKNOWN_TOPIC_OR_PARTITION until a new
	// topic's metadata has reached it: wait until every partition has a
	// leader, so that the first publish does not use up the client's retries.
	names := []string{t.Name, t.DeadLetterTopic()}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		md, err := adm.Metadata(wctx, names...)
		if err == nil && led(md, names) {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("topics %v: no leader for every partition yet: %w", names, wctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// led reports whether every partition of every named topic has a leader.
func led(md kadm.Metadata, names []string) bool {
	for _, n := range names {
		td, ok := md.Topics[n]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			return false
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
	}
	return true
}

// Ping asks the cluster for its metadata: the readiness check of every
// service that talks to Kafka.
func Ping(ctx context.Context, cl *kgo.Client) error {
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// EndOffsets returns partition -> end offset (the offset the next record
// will get) of topic: everything acknowledged so far lies below it.
func EndOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	offs, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var errs []error
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", o.Partition, o.Err))
			return
		}
		out[o.Partition] = o.Offset
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, errors.Join(errs...))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions (does it exist?)", topic)
	}
	return out, nil
}
