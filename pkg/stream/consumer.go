package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Handler writes a batch of records to a sink. It returns nil only when
// every record is durably written or dead-lettered; an error means nothing
// may be considered done, and the same records come back after a backoff.
// Handlers must therefore be idempotent.
type Handler interface {
	Handle(ctx context.Context, recs []*kgo.Record) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, recs []*kgo.Record) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, recs []*kgo.Record) error { return f(ctx, recs) }

// OffsetSource is a sink that records the offsets it applied together with
// its writes (the store-writer). When given, consumption resumes from the
// sink's offsets rather than the group's committed ones, which makes a crash
// between the write and the Kafka commit harmless.
type OffsetSource interface {
	AppliedOffsets(ctx context.Context, topic string) (map[int32]int64, error)
}

// ConsumerConfig configures one consumer group on one topic.
type ConsumerConfig struct {
	Brokers []string
	Topic   string
	Group   string
	// MaxBatchRecords bounds the records handed to the handler at once; with
	// the fetch limits it bounds memory.
	MaxBatchRecords int
	// MaxBatchBytes bounds the record bytes handed over at once (records
	// vary from one statement to a thousand), so memory stays bounded.
	MaxBatchBytes int
	// MaxBatchWait lets a batch fill for up to this long once its first
	// record arrived (0: hand over whatever is buffered at once).
	MaxBatchWait time.Duration
	// FetchMaxBytes bounds one fetch response.
	FetchMaxBytes int32
	// RetryMin and RetryMax bound the exponential backoff while the sink fails.
	RetryMin, RetryMax time.Duration
	// AttemptTimeout bounds one Handle call.
	AttemptTimeout time.Duration
	// SessionTimeout is how long the group waits for a silent member
	// before giving its partitions away (0: franz-go's 45s).
	SessionTimeout time.Duration
	// LagInterval is how often the group's lag is sampled (0: 5s).
	LagInterval time.Duration
	// StallTimeout is how long lag may stand without progress before the
	// consumer reports itself not ready (0: 60s).
	StallTimeout time.Duration
	// InstanceID makes the member static (KIP-345): a restarted process
	// with the same id takes its partitions back at once, without waiting
	// for the old member's session to time out (e.g. one id per pod of a
	// StatefulSet).
	InstanceID string
	// ClientOpts are added to the consumer's client: the connection's
	// security (Security.Opts).
	ClientOpts []kgo.Opt
}

func (c *ConsumerConfig) defaults() {
	if c.MaxBatchRecords == 0 {
		c.MaxBatchRecords = 1000
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = 32 << 20
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = 32 << 20
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = time.Minute
	}
	if c.LagInterval == 0 {
		c.LagInterval = 5 * time.Second
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = time.Minute
	}
}

func (c ConsumerConfig) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no Kafka brokers"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("no topic"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("no consumer group"))
	}
	if c.MaxBatchRecords < 1 || c.MaxBatchBytes < 1 || c.RetryMin <= 0 || c.RetryMax < c.RetryMin || c.AttemptTimeout <= 0 || c.MaxBatchWait < 0 || c.SessionTimeout < 0 || c.LagInterval < 0 || c.StallTimeout < 0 {
		errs = append(errs, errors.New("batch and retry settings must be positive (retry max >= retry min)"))
	}
	return errors.Join(errs...)
}

// Consumer runs a consumer group loop: poll a batch, hand it to the handler
// (retrying with backoff while the sink is down), commit, repeat. Rebalances
// are blocked while a batch is in flight (BlockRebalanceOnPoll), so a revoked
// partition never has uncommitted work and nothing is buffered across one;
// they are allowed whenever no records are held, which is what lets the
// group rejoin after a broker outage, an eviction or a network cut.
type Consumer struct {
	cfg     ConsumerConfig
	cl      *kgo.Client
	h       Handler
	log     *zap.Logger
	metrics consumerMetrics
	lag     *lagTracker
}

type consumerMetrics struct {
	records  prometheus.Counter
	batches  prometheus.Counter
	failures prometheus.Counter
	duration prometheus.Histogram
	lastDone prometheus.Gauge
}

// NewConsumer joins cfg.Group when Run starts. offsets may be nil.
func NewConsumer(cfg ConsumerConfig, h Handler, offsets OffsetSource, log *zap.Logger, reg prometheus.Registerer) (*Consumer, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("consumer config: %w", err)
	}
	if h == nil || log == nil {
		return nil, errors.New("consumer needs a handler and a logger")
	}
	c := &Consumer{cfg: cfg, h: h, log: log.With(zap.String("group", cfg.Group), zap.String("topic", cfg.Topic))}
	labels := prometheus.Labels{"group": cfg.Group}
	c.metrics = consumerMetrics{
		records:  prometheus.NewCounter(prometheus.CounterOpts{Name: "lrs_consumer_records_total", Help: "Records written by the consumer.", ConstLabels: labels}),
		batches:  prometheus.NewCounter(prometheus.CounterOpts{Name: "lrs_consumer_batches_total", Help: "Batches written by the consumer.", ConstLabels: labels}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "lrs_consumer_write_failures_total", Help: "Failed write attempts (each is retried).", ConstLabels: labels}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lrs_consumer_batch_duration_seconds", Help: "Time to write one batch, retries included.", ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		lastDone: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lrs_consumer_last_batch_timestamp_seconds", Help: "When the consumer last finished a batch.", ConstLabels: labels}),
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kgo.FetchMaxWait(500 * time.Millisecond),
		// A batch may wait for its sink for a while; the group must not
		// evict the member for that.
		kgo.RebalanceTimeout(cfg.AttemptTimeout + cfg.RetryMax + 30*time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			c.log.Info("partitions assigned", zap.Any("partitions", assigned))
			c.lag.assign(assigned[cfg.Topic], true)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
			c.log.Info("partitions revoked", zap.Any("partitions", revoked))
			c.lag.assign(revoked[cfg.Topic], false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			c.log.Warn("partitions lost", zap.Any("partitions", lost))
			c.lag.assign(lost[cfg.Topic], false)
		}),
	}
	if cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(cfg.SessionTimeout), kgo.HeartbeatInterval(max(cfg.SessionTimeout/10, 100*time.Millisecond)))
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	if offsets != nil {
		opts = append(opts, kgo.AdjustFetchOffsetsFn(func(ctx context.Context, in map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			applied, err := offsets.AppliedOffsets(ctx, cfg.Topic)
			if err != nil {
				return nil, fmt.Errorf("read applied offsets: %w", err)
			}
			for p := range in[cfg.Topic] {
				if next, ok := applied[p]; ok {
					in[cfg.Topic][p] = kgo.NewOffset().At(next)
				}
			}
			return in, nil
		}))
	}
	cl, err := NewClient(cfg.Brokers, log, append(opts, cfg.ClientOpts...)...)
	if err != nil {
		return nil, err
	}
	c.cl = cl
	positions := committedPositions(cl, cfg.Group, cfg.Topic)
	if offsets != nil {
		positions = func(ctx context.Context) (map[int32]int64, error) { return offsets.AppliedOffsets(ctx, cfg.Topic) }
	}
	c.lag = newLagTracker(cl, cfg.Topic, cfg.StallTimeout, positions, labels)
	if reg != nil {
		m := c.metrics
		if err := registerAll(reg, m.records, m.batches, m.failures, m.duration, m.lastDone, c.lag.lag, c.lag.stalled); err != nil {
			cl.Close()
			return nil, err
		}
	}
	return c, nil
}

// Client is the consumer's Kafka client (for readiness checks).
func (c *Consumer) Client() *kgo.Client { return c.cl }

// Ready reports an error while the consumer is stalled: lag stands and its
// partitions have not moved within the stall timeout.
func (c *Consumer) Ready(ctx context.Context) error { return c.lag.check(ctx) }

// Run consumes until ctx is cancelled. The batch in flight at that moment is
// finished (or, if its sink is down, handed back uncommitted), then the
// consumer commits and leaves the group.
func (c *Consumer) Run(ctx context.Context) error {
	lctx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go c.lag.run(lctx, c.cfg.LagInterval)
	defer func() {
		// Leaving the group waits for a rebalance, which a polled but
		// unreleased batch would block forever.
		c.cl.AllowRebalance()
		c.cl.Close()
	}()
	for {
		recs, err := c.poll(ctx)
		if err != nil {
			return err
		}
		if ctx.Err() != nil && len(recs) == 0 {
			return nil
		}
		if len(recs) > 0 {
			if err := c.write(ctx, recs); err != nil {
				c.log.Warn("stopping with a batch unwritten; it will be consumed again", zap.Int("records", len(recs)), zap.Error(err))
				return nil
			}
			c.report(recs)
		}
		c.cl.AllowRebalance()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// poll gathers up to MaxBatchRecords, waiting up to MaxBatchWait after the
// first record.
func (c *Consumer) poll(ctx context.Context) ([]*kgo.Record, error) {
	var (
		recs     []*kgo.Record
		size     int
		deadline time.Time
	)
	for len(recs) < c.cfg.MaxBatchRecords && size < c.cfg.MaxBatchBytes {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if len(recs) > 0 {
			if c.cfg.MaxBatchWait == 0 || !time.Now().Before(deadline) {
				cancel()
				break
			}
			pctx, cancel = context.WithDeadline(ctx, deadline)
		}
		fetches := c.cl.PollRecords(pctx, c.cfg.MaxBatchRecords-len(recs))
		cancel()
		if fetches.IsClientClosed() {
			return nil, errors.New("kafka client closed")
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				c.log.Warn("fetch error", zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
			}
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			recs = append(recs, p.Records...)
			for _, r := range p.Records {
				size += len(r.Value)
			}
		})
		if len(recs) == 0 {
			// Every poll that returns, even with only an error (the group
			// lost its coordinator, a fetch failed), blocks rebalances
			// until allowed. Nothing is held now, so allow them: else the
			// group's rejoin after a broker outage waits for records that
			// only the rejoin can bring, forever.
			c.cl.AllowRebalance()
		} else if deadline.IsZero() {
			deadline = time.Now().Add(c.cfg.MaxBatchWait)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return recs, nil
}

// write hands recs to the handler until it succeeds, then commits. While the
// sink fails it backs off exponentially with jitter; the client keeps
// heartbeating meanwhile, so the group keeps the partitions.
func (c *Consumer) write(ctx context.Context, recs []*kgo.Record) error {
	start := time.Now()
	backoff := c.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		// A shutdown lets the current attempt finish: the write is not cut
		// in half, and its offsets get committed below.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.AttemptTimeout)
		err := c.h.Handle(actx, recs)
		cancel()
		if err == nil {
			break
		}
		c.metrics.failures.Inc()
		c.log.Warn("write failed; retrying", zap.Int("attempt", attempt), zap.Int("records", len(recs)), zap.Duration("backoff", backoff), zap.Error(err))
		sleep := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		select {
		case <-ctx.Done():
			return fmt.Errorf("shutdown while the sink fails: %w", err)
		case <-time.After(sleep):
		}
		backoff = min(backoff*2, c.cfg.RetryMax)
	}
	c.metrics.duration.Observe(time.Since(start).Seconds())
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := c.cl.CommitRecords(cctx, recs...); err != nil {
		// The write is done and idempotent; a lost commit only means the
		// batch may be read again.
		c.log.Warn("commit failed after a successful write", zap.Error(err))
	}
	return nil
}

func (c *Consumer) report(recs []*kgo.Record) {
	c.lag.progressed(recs)
	c.metrics.records.Add(float64(len(recs)))
	c.metrics.batches.Inc()
	c.metrics.lastDone.SetToCurrentTime()
	c.log.Debug("batch written", zap.Int("records", len(recs)))
}
