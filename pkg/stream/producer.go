package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	// ErrTooLarge means the broker refused a record for its size.
	ErrTooLarge = errors.New("record larger than the topic accepts")
	// ErrNotAcknowledged means the broker did not acknowledge in time.
	ErrNotAcknowledged = errors.New("broker did not acknowledge in time")
)

// ProducerOpts are the client options ingest needs: acks from all in-sync
// replicas and the idempotent producer (franz-go's defaults, stated here so a
// later change of defaults cannot weaken them), a bounded delivery time so a
// broker outage becomes an error instead of a hung request, and records as
// large as the topic allows.
func ProducerOpts(t TopicConfig, deliveryTimeout, linger time.Duration) []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.ProducerBatchMaxBytes(t.MaxRecordBytes),
		kgo.ProducerLinger(linger),
		kgo.DefaultProduceTopic(t.Name),
		// Nothing needs a request's records on a given partition (voiding is
		// order-independent), so fill one partition's batch at a time
		// instead of scattering small requests over all of them by key.
		kgo.RecordPartitioner(kgo.UniformBytesPartitioner(256<<10, true, false, nil)),
	}
}

// Producer publishes accepted requests to the statements topic.
type Producer struct {
	cl      *kgo.Client
	topic   string
	admit   func() error
	latency prometheus.Histogram
	results *prometheus.CounterVec
}

// NewProducer returns a producer for topic on cl (made with ProducerOpts).
func NewProducer(cl *kgo.Client, topic string, reg prometheus.Registerer) (*Producer, error) {
	if cl == nil || topic == "" {
		return nil, errors.New("producer needs a client and a topic")
	}
	p := &Producer{
		cl:    cl,
		topic: topic,
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lrs_produce_duration_seconds",
			Help:    "Time from publishing a request's statements until the broker acknowledged them.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lrs_produce_records_total",
			Help: "Records published to the statements topic, by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		if err := registerAll(reg, p.latency, p.results); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Gate makes every Publish ask admit first and fail with its error: an
// ingest publishes only as a member of the producer group. Call it before
// the first Publish.
func (p *Producer) Gate(admit func() error) { p.admit = admit }

// Publish returns once the broker acknowledged b (acks=all), or with the
// reason it did not: only then may the statements be reported as stored.
// When ctx ends first the record may still be delivered later (the
// idempotent producer cannot drop a request it already sent without
// breaking its sequence numbers), so the error says "not acknowledged",
// never "not stored"; consumers deduplicate by statement id, so a client
// that retries with the same statement ids creates no duplicate.
func (p *Producer) Publish(ctx context.Context, b Batch) (partition int32, offset int64, err error) {
	if p.admit != nil {
		if err := p.admit(); err != nil {
			p.results.WithLabelValues("error").Inc()
			return 0, 0, fmt.Errorf("publish to %s: %w", p.topic, err)
		}
	}
	rec, err := b.Record(p.topic)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	done := make(chan error, 1)
	p.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("%w: %w", ErrNotAcknowledged, ctx.Err())
	}
	p.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		p.results.WithLabelValues("error").Inc()
		if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
			return 0, 0, fmt.Errorf("publish to %s: %w", p.topic, ErrTooLarge)
		}
		return 0, 0, fmt.Errorf("publish to %s: %w", p.topic, err)
	}
	p.results.WithLabelValues("ok").Inc()
	return rec.Partition, rec.Offset, nil
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metric: %w", err)
		}
	}
	return nil
}
