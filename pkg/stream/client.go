package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	return NewTopicEnds(cl, topic).Get(ctx)
}

// TopicEnds reads a topic's end offsets in one ListOffsets request, with
// the partitions from metadata it re-reads every topicEndsMetadataAge:
// kadm's ListEndOffsets asks for metadata first each time, which doubles
// the round trips of a read-your-writes GET and of a conflict check. A
// partition added to the topic is seen within that age.
type TopicEnds struct {
	cl    *kgo.Client
	topic string

	mu    sync.Mutex
	parts []int32
	read  time.Time
}

const topicEndsMetadataAge = 10 * time.Second

// NewTopicEnds reads topic's end offsets with cl.
func NewTopicEnds(cl *kgo.Client, topic string) *TopicEnds {
	return &TopicEnds{cl: cl, topic: topic}
}

// Get returns the end offset of every partition (see EndOffsets).
func (t *TopicEnds) Get(ctx context.Context) (map[int32]int64, error) {
	parts, err := t.partitions(ctx)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = t.topic
	for _, p := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1 // -1: the end
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	// The client splits the request by partition leader.
	resp, err := req.RequestWith(ctx, t.cl)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", t.topic, err)
	}
	out := make(map[int32]int64, len(parts))
	var errs []error
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				errs = append(errs, fmt.Errorf("partition %d: %w", rp.Partition, err))
				continue
			}
			out[rp.Partition] = rp.Offset
		}
	}
	if len(errs) > 0 || len(out) != len(parts) {
		t.forget()
		return nil, fmt.Errorf("list end offsets of %s: %d of %d partitions answered: %w", t.topic, len(out), len(parts), errors.Join(errs...))
	}
	return out, nil
}

func (t *TopicEnds) forget() {
	t.mu.Lock()
	t.read = time.Time{}
	t.mu.Unlock()
}

func (t *TopicEnds) partitions(ctx context.Context) ([]int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.parts != nil && time.Since(t.read) < topicEndsMetadataAge {
		return t.parts, nil
	}
	md, err := kadm.NewClient(t.cl).Metadata(ctx, t.topic)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", t.topic, err)
	}
	td, ok := md.Topics[t.topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions (does it exist?): %v", t.topic, td.Err)
	}
	parts := make([]int32, 0, len(td.Partitions))
	for _, p := range td.Partitions {
		parts = append(parts, p.Partition)
	}
	slices.Sort(parts)
	t.parts, t.read = parts, time.Now()
	return parts, nil
}
