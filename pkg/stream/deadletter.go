package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers a dead-lettered record carries besides the source record's own.
const (
	DeadLetterReasonHeader    = "lrs-dlq-reason"
	DeadLetterGroupHeader     = "lrs-dlq-group"
	DeadLetterSourceHeader    = "lrs-dlq-source"
	DeadLetterPartitionHeader = "lrs-dlq-partition"
	DeadLetterOffsetHeader    = "lrs-dlq-offset"
)

// DeadLetter sends what a consumer can never write to the dead-letter topic,
// with the reason, so that nothing is silently dropped.
type DeadLetter struct {
	cl    *kgo.Client
	topic string
	group string
	count *prometheus.CounterVec
}

// NewDeadLetter returns a dead-letter sender for a consumer group.
func NewDeadLetter(cl *kgo.Client, topic, group string, reg prometheus.Registerer) (*DeadLetter, error) {
	if cl == nil || topic == "" || group == "" {
		return nil, errors.New("dead letter needs a client, a topic and a group")
	}
	d := &DeadLetter{cl: cl, topic: topic, group: group, count: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lrs_dead_letters_total",
		Help: "Records or statements sent to the dead-letter topic, by consumer group and kind of reason.",
	}, []string{"group", "kind"})}
	if reg != nil {
		// Every consumer group of a process shares the one counter, labelled
		// by group (the all-in-one binary runs two).
		if err := reg.Register(d.count); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("register metric: %w", err)
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, fmt.Errorf("register metric: %w", err)
			}
			d.count = existing
		}
	}
	return d, nil
}

// Send publishes value (the source record's value, or the part of it that
// failed) with the reason and the source position, and returns once the
// broker has it: only then may the source offset be committed.
func (d *DeadLetter) Send(ctx context.Context, src *kgo.Record, value []byte, kind, reason string) error {
	headers := make([]kgo.RecordHeader, 0, len(src.Headers)+5)
	for _, h := range src.Headers {
		// The ids header describes the whole source record, not value.
		if h.Key != IDsHeader {
			headers = append(headers, h)
		}
	}
	headers = append(headers,
		kgo.RecordHeader{Key: DeadLetterReasonHeader, Value: []byte(reason)},
		kgo.RecordHeader{Key: DeadLetterGroupHeader, Value: []byte(d.group)},
		kgo.RecordHeader{Key: DeadLetterSourceHeader, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: DeadLetterPartitionHeader, Value: []byte(strconv.Itoa(int(src.Partition)))},
		kgo.RecordHeader{Key: DeadLetterOffsetHeader, Value: []byte(strconv.FormatInt(src.Offset, 10))},
	)
	rec := &kgo.Record{Topic: d.topic, Key: src.Key, Value: value, Headers: headers}
	if err := d.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("dead-letter to %s: %w", d.topic, err)
	}
	d.count.WithLabelValues(d.group, kind).Inc()
	return nil
}
