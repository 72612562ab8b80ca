package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/analyticswriter"
	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/conflict"
	"github.com/streamlrs/streamlrs/pkg/ingest"
	"github.com/streamlrs/streamlrs/pkg/lifecycle"
	"github.com/streamlrs/streamlrs/pkg/observability"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/storewriter"
	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// env is what every component is built with.
type env struct {
	log *zap.Logger
	// stop ends what newEnv started (the profiles listener).
	stop    func()
	reg     *prometheus.Registry
	health  *observability.Health
	brokers []string
	// kafka secures every Kafka client of the process (Common.Kafka).
	kafka []kgo.Opt
}

// closers runs cleanups in reverse order of registration.
type closers []func()

func (c *closers) add(f func()) { *c = append(*c, f) }

// run has a pointer receiver so that "defer cl.run()", written before the
// cleanups are added, runs the ones added by the time it is called: with a
// value receiver the defer would copy the still empty slice.
func (c *closers) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

// waitFor runs attempt until it succeeds or ctx ends, so that a service
// started while a dependency is down (a database restarting, compose
// starting everything at once) waits for it instead of exiting into a crash
// loop. Meanwhile each failure is logged and /readyz reports it under name;
// the caller registers the real check once attempt succeeded. An attempt
// that fails with a permanent error is not retried.
func waitFor(ctx context.Context, e env, name, what string, attempt func(context.Context) error) error {
	var (
		mu   sync.Mutex
		last = errors.New("starting")
	)
	e.health.Add(name, func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("waiting for %s: %w", what, last)
	})
	backoff := time.Second
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := attempt(actx)
		cancel()
		if err == nil {
			if n > 1 {
				e.log.Info(what+" is available", zap.Int("attempts", n))
			}
			return nil
		}
		var p permanent
		if ctx.Err() != nil || errors.As(err, &p) {
			return fmt.Errorf("%s: %w", what, err)
		}
		mu.Lock()
		last = err
		mu.Unlock()
		e.log.Warn("waiting for "+what, zap.Int("attempt", n), zap.Duration("retry_in", backoff), zap.Error(err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 15*time.Second)
	}
}

// permanent marks an error that waiting will not cure.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func openStore(ctx context.Context, dsn string, migrate bool, e env) (store.Store, error) {
	if strings.HasPrefix(dsn, "postgres") {
		mode, host := postgresTransport(dsn)
		logTransport(e.log, "PostgreSQL", mode, host)
	}
	var st store.Store
	err := waitFor(ctx, e, "store", "the statement store", func(ctx context.Context) error {
		s, err := store.Open(ctx, dsn)
		if err != nil {
			return err
		}
		if err := s.Ping(ctx); err != nil {
			s.Close()
			return err
		}
		if migrate {
			if err := s.Migrate(ctx); err != nil {
				s.Close()
				return fmt.Errorf("migrate store: %w", err)
			}
		}
		st = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.health.Add("store", st.Ping)
	return st, nil
}

// kafkaMetrics is the option that has kprom count a Kafka client's
// connections, bytes, errors and buffered records on the service's registry,
// as lrs_kafka_*, labelled client=name: a process runs several clients (the
// producer, the conflict tail, each consumer group and its dead-letter
// producer), and two live clients of one name would clash (kprom panics).
func (e env) kafkaMetrics(name string) kgo.Opt {
	return kgo.WithHooks(kprom.NewMetrics("lrs_kafka", kprom.Registry(e.reg), kprom.WithStaticLabel(prometheus.Labels{"client": name})))
}

// connectKafka returns a client once the cluster answers, creating the topics
// if asked. It waits as long as it takes: a service may start before its
// broker. Meanwhile /readyz reports the wait under check, which the caller
// then takes over. A broker that refuses this client's credentials or
// certificate is not waited for: that needs an operator.
func connectKafka(ctx context.Context, check string, c Common, e env, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := stream.NewClient(e.brokers, e.log, append(opts, e.kafka...)...)
	if err != nil {
		return nil, err
	}
	err = waitFor(ctx, e, check, fmt.Sprintf("Kafka at %v", e.brokers), func(ctx context.Context) error {
		if err := stream.Ping(ctx, cl); err != nil {
			if reason, refused := stream.Refused(err); refused {
				return permanent{fmt.Errorf("refused this client: %s: %w", reason, err)}
			}
			return err
		}
		if c.CreateTopics {
			return stream.EnsureTopics(ctx, cl, c.topic())
		}
		return nil
	})
	if err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// buildIngest builds the xAPI API with its admin API and console, and
// starts this instance's conflict tail and retention job. ch, nil without
// ClickHouse in this process, lets erasure dry runs count there too.
func buildIngest(ctx context.Context, cfg IngestConfig, st store.Store, ch lifecycle.Analytics, e env, out io.Writer, cl *closers) (*ingest.Server, error) {
	// Joined before the producer connects, so that it is left after the
	// producer's last record was answered (closers run in reverse).
	lease, group, err := buildProducerGroup(cfg, e, cl)
	if err != nil {
		return nil, err
	}
	kcl, err := connectKafka(ctx, "kafka", cfg.Common, e, append(stream.ProducerOpts(cfg.topic(), cfg.PublishTimeout, cfg.Linger), e.kafkaMetrics("producer"))...)
	if err != nil {
		return nil, err
	}
	cl.add(func() {
		fctx, cancel := context.WithTimeout(context.Background(), cfg.PublishTimeout)
		defer cancel()
		_ = kcl.Flush(fctx) // what is in flight lands before the group is left
		kcl.Close()
	})
	e.health.Add("kafka", func(ctx context.Context) error { return stream.Ping(ctx, kcl) })
	producer, err := stream.NewProducer(kcl, cfg.Topic, e.reg)
	if err != nil {
		return nil, err
	}
	if group != nil {
		producer.Gate(group.Admit)
	}
	ends, err := buildEndOffsets(ctx, cfg, e, cl)
	if err != nil {
		return nil, err
	}
	applied := func(ctx context.Context) (map[int32]int64, error) {
		return st.AppliedOffsets(ctx, cfg.StoreGroup, cfg.Topic)
	}
	wm, err := ingest.NewWatermark(ends, applied, cfg.ReadWait)
	if err != nil {
		return nil, err
	}
	conflicts, err := buildConflictChecker(ctx, cfg, kcl, ends, lease, applied, st, e)
	if err != nil {
		return nil, err
	}
	authn, err := auth.NewAuthenticator(st, cfg.AuthCacheTTL)
	if err != nil {
		return nil, err
	}
	cred, created, err := auth.Bootstrap(ctx, st, cfg.BootstrapKey, cfg.BootstrapSecret)
	if err != nil {
		return nil, fmt.Errorf("bootstrap credential: %w", err)
	}
	if created && cfg.BootstrapSecret == "" {
		fmt.Fprintf(out, "\nCreated tenant %q and its first credential. The secret is shown only this once:\n\n  key:    %s\n  secret: %s\n\n", cred.Tenant, cred.Key, cred.Secret)
	}
	answers := consoleAnswers(cfg)
	srv, err := ingest.New(ingest.Config{
		Prefix: cfg.Prefix, DefaultVersion: xapi.Version(cfg.DefaultVersion), BodyLimit: cfg.BodyLimit, MaxBatchStatements: cfg.MaxBatchStatements, PublishTimeout: cfg.PublishTimeout,
		CORSOrigins: cfg.CORSOrigins, SeparateOps: cfg.OpsAddr != "", VoidingPolicy: auth.VoidingPolicy(cfg.VoidingPolicy), MaxBacklogBytes: cfg.MaxBacklogBytes,
	}, ingest.Deps{Auth: authn, Publisher: producer, Store: st, Attachments: st, Conflicts: conflicts, Backlog: conflicts, Watermark: wm, Health: e.health, Registry: e.reg, Log: e.log.Named("ingest"), Answered: answered(answers)})
	if err != nil {
		return nil, err
	}
	lc, err := buildLifecycle(ctx, cfg, st, ch, wm, e, cl)
	if err != nil {
		return nil, err
	}
	// Admin changes apply on this instance at once (others within the ttl).
	svc, err := mountAdmin(srv, st, cfg, e, authn.Forget)
	if err != nil {
		return nil, err
	}
	if svc != nil {
		svc.Lifecycle = lc
	}
	if err := mountConsole(ctx, srv, svc, st, kcl, answers, cfg, e); err != nil {
		return nil, err
	}
	if cfg.OpsAddr != "" {
		addr, err := srv.ListenOps(cfg.OpsAddr)
		if err != nil {
			return nil, err
		}
		e.log.Info("metrics and admin API listening apart from the xAPI", zap.String("addr", addr.String()))
	}
	return srv, nil
}

// buildProducerGroup is what tells the conflict check that this instance is
// the topic's only producer: by construction in the single binary, else by
// the producer group every ingest joins (without it, -producer-group=false,
// never). group is nil when there is none to gate the publishes on.
func buildProducerGroup(cfg IngestConfig, e env, cl *closers) (conflict.Lease, *stream.ProducerGroup, error) {
	switch {
	case cfg.soleProducer:
		return conflict.SoleProducer, nil, nil
	case !cfg.ProducerGroup:
		return nil, nil, nil
	}
	log := e.log.Named("producer-group")
	group, err := stream.JoinProducerGroup(cfg.Topic, func(opts ...kgo.Opt) (*kgo.Client, error) {
		return stream.NewClient(e.brokers, log, append(append(opts, e.kafka...), e.kafkaMetrics("producer-group"))...)
	}, e.reg, log)
	if err != nil {
		return nil, nil, err
	}
	cl.add(group.Close)
	e.health.Add("kafka-producer-group", group.Ready)
	return group, group, nil
}

// buildEndOffsets connects the clients that ask for the topic's end
// offsets, apart from the producer's, whose connection queues them behind
// its produce requests.
func buildEndOffsets(ctx context.Context, cfg IngestConfig, e env, cl *closers) (*stream.SharedEndOffsets, error) {
	fetchers := make([]stream.EndOffsetsFetch, cfg.EndOffsetClients)
	for i := range fetchers {
		name := fmt.Sprintf("kafka-offsets-%d", i+1)
		kcl, err := connectKafka(ctx, name, cfg.Common, e, e.kafkaMetrics(fmt.Sprintf("offsets-%d", i+1)))
		if err != nil {
			return nil, err
		}
		cl.add(kcl.Close)
		e.health.Add(name, func(ctx context.Context) error { return stream.Ping(ctx, kcl) })
		fetchers[i] = func(ctx context.Context) (map[int32]int64, error) { return stream.EndOffsets(ctx, kcl, cfg.Topic) }
	}
	return stream.NewSharedEndOffsets(fetchers...)
}

// buildLifecycle connects the erasure publisher (a client of its own: its
// records carry their partitions) and starts the retention job.
func buildLifecycle(ctx context.Context, cfg IngestConfig, st store.Store, ch lifecycle.Analytics, wm lifecycle.Syncer, e env, cl *closers) (*lifecycle.Service, error) {
	kcl, err := connectKafka(ctx, "kafka-lifecycle", cfg.Common, e, append(stream.LifecycleProducerOpts(cfg.Topic, cfg.PublishTimeout), e.kafkaMetrics("lifecycle"))...)
	if err != nil {
		return nil, err
	}
	cl.add(kcl.Close)
	e.health.Add("kafka-lifecycle", func(ctx context.Context) error { return stream.Ping(ctx, kcl) })
	pub, err := stream.NewErasurePublisher(kcl, cfg.Topic)
	if err != nil {
		return nil, err
	}
	lc, err := lifecycle.New(st, pub, ch, wm, e.log.Named("lifecycle"))
	if err != nil {
		return nil, err
	}
	go lc.RunRetention(ctx, cfg.Lifecycle.RetentionInterval)
	return lc, nil
}

// conflictStore is what the conflict check reads of the store: fingerprints
// of the ids it asks about, and every key once for its filter.
type conflictStore interface {
	conflict.Store
	ScanStatementKeys(ctx context.Context, fn func(store.StatementKey) error) error
}

// buildConflictChecker starts this instance's tail of the topic (it runs
// until ctx ends) and returns the checker reading it.
func buildConflictChecker(ctx context.Context, cfg IngestConfig, admin *kgo.Client, ends *stream.SharedEndOffsets, lease conflict.Lease,
	applied func(context.Context) (map[int32]int64, error), st conflictStore, e env) (*conflict.Checker, error) {
	var seen *conflict.Filter
	var scan conflict.Scan
	if cfg.Conflict.FilterMaxMB > 0 {
		seen, scan = conflict.NewFilter(cfg.Conflict.FilterMaxMB<<20), st.ScanStatementKeys
	}
	idx := conflict.NewIndex(cfg.Conflict.MaxEntries, seen)
	log := e.log.Named("conflict-tail")
	tail, err := conflict.OpenTail(ctx, cfg.Conflict, cfg.Topic, idx, admin,
		func(opts ...kgo.Opt) (*kgo.Client, error) {
			return stream.NewClient(e.brokers, log, append(append(opts, e.kafka...), e.kafkaMetrics("conflict-tail"))...)
		}, applied, scan, log)
	if err != nil {
		return nil, err
	}
	go tail.Run(ctx)
	return conflict.NewChecker(cfg.Conflict, idx, tail, ends, lease, st, e.reg)
}

// buildConsumer wires a consumer group with its dead-letter producer: sc
// holds the writer's own settings (group, batches, retry), common and cc the
// process's.
func buildConsumer(ctx context.Context, common Common, cc ConsumerConfig, sc stream.ConsumerConfig, e env, cl *closers, handler func(*stream.DeadLetter) (stream.Handler, stream.OffsetSource, error)) (*stream.Consumer, error) {
	dcl, err := connectKafka(ctx, "kafka-"+sc.Group, common, e, append(stream.ProducerOpts(common.topic(), 30*time.Second, 0), e.kafkaMetrics("dead-letter-"+sc.Group))...)
	if err != nil {
		return nil, err
	}
	cl.add(dcl.Close)
	dlq, err := stream.NewDeadLetter(dcl, common.topic().DeadLetterTopic(), sc.Group, e.reg)
	if err != nil {
		return nil, err
	}
	h, offsets, err := handler(dlq)
	if err != nil {
		return nil, err
	}
	sc.Brokers, sc.Topic = e.brokers, common.Topic
	sc.FetchMaxBytes = int32(max(common.MaxRecordBytes, 32<<20))
	sc.InstanceID, sc.SessionTimeout, sc.StallTimeout = cc.InstanceID, cc.SessionTimeout, cc.StallTimeout
	sc.ClientOpts = append(slices.Clip(e.kafka), e.kafkaMetrics("consumer-"+sc.Group))
	c, err := stream.NewConsumer(sc, h, offsets, e.log.Named(sc.Group), e.reg)
	if err != nil {
		return nil, err
	}
	e.health.Add("kafka-"+sc.Group, func(ctx context.Context) error { return stream.Ping(ctx, c.Client()) })
	e.health.Add("consumer-"+sc.Group, c.Ready)
	return c, nil
}

func buildStoreWriter(ctx context.Context, common Common, cc ConsumerConfig, cfg storewriter.Config, st storewriter.Store, e env, cl *closers) (*stream.Consumer, error) {
	sc := cfg.Batching.ConsumerConfig()
	return buildConsumer(ctx, common, cc, sc, e, cl, func(dlq *stream.DeadLetter) (stream.Handler, stream.OffsetSource, error) {
		w, err := storewriter.New(st, cfg.Group, cfg.Lanes, cfg.TxStatements, cfg.TxImportStatements, dlq, e.log.Named("store-writer"))
		return w, w, err
	})
}

// buildAnalyticsWriter returns the consumer and the ClickHouse it writes.
func buildAnalyticsWriter(ctx context.Context, common Common, cc ConsumerConfig, cfg analyticswriter.Config, e env, cl *closers) (*stream.Consumer, *analytics.ClickHouse, error) {
	mode, host := clickhouseTransport(cfg.DSN)
	logTransport(e.log, "ClickHouse", mode, host)
	var ch *analytics.ClickHouse
	err := waitFor(ctx, e, "clickhouse", "ClickHouse", func(ctx context.Context) error {
		c, err := analytics.Open(ctx, analytics.Config{DSN: cfg.DSN})
		if err != nil {
			return fmt.Errorf("open ClickHouse: %w", err)
		}
		if cfg.Migrate {
			if err := c.Migrate(ctx); err != nil {
				c.Close()
				return fmt.Errorf("migrate ClickHouse: %w", err)
			}
		} else if err := c.Ping(ctx); err != nil {
			c.Close()
			return err
		}
		ch = c
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	cl.add(func() { ch.Close() })
	e.health.Add("clickhouse", ch.Ping)
	if cfg.RollupInterval > 0 {
		// Stopped before ch is closed (closers run in reverse), and also when
		// the build fails later with ctx still alive.
		cl.add(startRollups(ctx, ch, cfg.RollupInterval, e.log.Named("rollups")))
	}
	sc := cfg.Batching.ConsumerConfig()
	c, err := buildConsumer(ctx, common, cc, sc, e, cl, func(dlq *stream.DeadLetter) (stream.Handler, stream.OffsetSource, error) {
		w, err := analyticswriter.New(ch, dlq)
		return w, nil, err
	})
	return c, ch, err
}

func newEnv(c Common) (env, error) {
	log, err := observability.NewLogger(c.LogFormat, c.LogLevel)
	if err != nil {
		return env{}, err
	}
	stop := func() {}
	if c.PprofAddr != "" {
		// Profiles get their own listener, so they are never exposed where
		// the xAPI or the metrics are.
		srv, err := observability.Listen(c.PprofAddr, observability.Profiles())
		if err != nil {
			return env{}, err
		}
		served := make(chan struct{})
		go func() {
			defer close(served)
			if err := srv.Serve(); err != nil {
				log.Error("profiles server stopped", zap.Error(err))
			}
		}()
		stop = func() {
			// A profile being taken (it may last 30 s) may finish within
			// the shutdown bound; past it its connection is closed.
			ctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
			<-served
		}
		log.Info("profiles served", zap.String("addr", srv.Addr()))
	}
	sec, err := c.Kafka.resolve()
	if err != nil {
		stop()
		return env{}, err
	}
	kopts, err := sec.Opts(log.Named("kafka-tls"))
	if err != nil {
		stop()
		return env{}, err
	}
	log.Info("kafka", append(sec.LogFields(), zap.String("brokers", c.Brokers))...)
	return env{log: log, stop: stop, reg: observability.NewRegistry(), health: observability.NewHealth(), brokers: config.SplitList(c.Brokers), kafka: kopts}, nil
}

// rollupRefresher is what refreshRollups needs of ClickHouse.
type rollupRefresher interface {
	RefreshRollups(ctx context.Context) (months []int, err error)
}

// startRollups runs refreshRollups until ctx ends or the returned stop is
// called; stop returns once the goroutine has, so that ClickHouse can be
// closed after it and a stopped service leaves no refresh behind.
func startRollups(ctx context.Context, ch rollupRefresher, interval time.Duration, log *zap.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		refreshRollups(ctx, ch, interval, log)
	}()
	return func() {
		cancel()
		<-done
	}
}

// refreshRollups recomputes the ClickHouse rollup months that received
// statements, every interval, until ctx ends. A failed refresh is retried at
// the next tick: the months stay marked until they are done.
func refreshRollups(ctx context.Context, ch rollupRefresher, interval time.Duration, log *zap.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		months, err := ch.RefreshRollups(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("rollup refresh failed; retrying at the next tick", zap.Error(err))
			}
			continue
		}
		if len(months) > 0 {
			log.Info("rollups refreshed", zap.Ints("months", months), zap.Duration("took", time.Since(start)))
		}
	}
}
