package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/analyticswriter"
	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/forwarding"
	"github.com/streamlrs/streamlrs/pkg/lifecycle"
	"github.com/streamlrs/streamlrs/pkg/observability"
	"github.com/streamlrs/streamlrs/pkg/pulls"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/storewriter"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

func parse(name string, args []string, register func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	register(fs)
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	// Flag parsing stops at the first argument that is not a flag: what
	// follows would be silently ignored (lrs tenant list would start the LRS).
	if fs.NArg() > 0 {
		return unexpectedArgError{cmd: name, arg: fs.Arg(0)}
	}
	return nil
}

// RunIngest runs the xAPI API until ctx is cancelled.
func RunIngest(ctx context.Context, args []string, out io.Writer) error {
	var svc IngestServiceConfig
	if err := parse("lrs-ingest", args, svc.register); err != nil {
		return err
	}
	if err := svc.validate(); err != nil {
		return err
	}
	cfg := svc.Ingest
	// The conflict tail runs until ctx ends: it ends with RunIngest, also
	// when its start fails.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e, err := newEnv(cfg.Common)
	if err != nil {
		return err
	}
	defer e.log.Sync()
	defer e.stop()
	var cl closers
	defer cl.run()
	st, err := openStore(ctx, svc.Store.DSN, svc.Store.Migrate, e)
	if err != nil {
		return err
	}
	cl.add(func() { st.Close() })
	var ch lifecycle.Analytics
	if svc.ClickHouseDSN != "" {
		// Only dry runs use it: an outage costs them their ClickHouse counts,
		// never a write.
		c, err := analytics.OpenLazy(analytics.Config{DSN: svc.ClickHouseDSN})
		if err != nil {
			return fmt.Errorf("open ClickHouse: %w", err)
		}
		cl.add(func() { c.Close() })
		ch = c
	}
	srv, err := buildIngest(ctx, cfg, st, ch, e, out, &cl)
	if err != nil {
		return err
	}
	base, err := listenAPI(srv, cfg, e.log)
	if err != nil {
		return err
	}
	e.log.Info("ingest listening", zap.String("url", base+cfg.Prefix))
	<-ctx.Done()
	e.log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// RunStoreWriter runs the store-writer consumer until ctx is cancelled.
func RunStoreWriter(ctx context.Context, args []string) error {
	var cfg StoreWriterConfig
	return runWriter(ctx, "lrs-store-writer", args, &cfg, func(ctx context.Context, e env, cl *closers) (runnable, error) {
		st, err := openStore(ctx, cfg.Store.DSN, cfg.Store.Migrate, e)
		if err != nil {
			return nil, err
		}
		cl.add(func() { st.Close() })
		return buildStoreWriter(ctx, cfg.Common, cfg.Consumer, cfg.Writer, st, e, cl)
	})
}

// RunAnalyticsWriter runs the ClickHouse consumer until ctx is cancelled.
func RunAnalyticsWriter(ctx context.Context, args []string) error {
	var cfg AnalyticsWriterConfig
	return runWriter(ctx, "lrs-analytics-writer", args, &cfg, func(ctx context.Context, e env, cl *closers) (runnable, error) {
		c, _, err := buildAnalyticsWriter(ctx, cfg.Common, cfg.Consumer, cfg.Writer, e, cl)
		return c, err
	})
}

// writerServiceConfig is what runWriter needs of a consumer service's
// settings (StoreWriterConfig, AnalyticsWriterConfig).
type writerServiceConfig interface {
	register(fs *flag.FlagSet)
	validate() error
	service() writerService
}

func (c writerService) service() writerService { return c }

// runnable is a consumer service's component: a writer's consumer, the forwarder.
type runnable interface {
	Run(ctx context.Context) error
}

// runWriter parses a consumer service's settings into cfg, builds the
// consumer with build (which reads cfg), and runs it.
func runWriter(ctx context.Context, name string, args []string, cfg writerServiceConfig,
	build func(context.Context, env, *closers) (runnable, error)) error {
	if err := parse(name, args, cfg.register); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	svc := cfg.service()
	e, err := newEnv(svc.Common)
	if err != nil {
		return err
	}
	defer e.log.Sync()
	defer e.stop()
	// The admin endpoints come first, so that /readyz tells why the writer
	// is not running yet while it waits for its database or broker.
	if svc.HTTPAddr != "" {
		srv, err := observability.Listen(svc.HTTPAddr, observability.Handler(e.reg, e.health))
		if err != nil {
			return err
		}
		go func() {
			if err := srv.Serve(); err != nil {
				e.log.Error("admin server stopped", zap.Error(err))
			}
		}()
		defer srv.Shutdown(context.Background())
		e.log.Info("admin endpoints listening", zap.String("addr", srv.Addr()))
	}
	var cl closers
	defer cl.run()
	c, err := build(ctx, e, &cl)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped while waiting for a dependency: a clean exit.
			e.log.Info("stopped before the writer started", zap.Error(err))
			return nil
		}
		return err
	}
	// The consumer finishes its batch in flight, commits, and leaves.
	return c.Run(ctx)
}

// LRSConfig configures the all-in-one binary: the settings of the same
// components the separate services run, registered under the same names
// and with the same defaults, and the embedded broker's. The defaults that
// differ are set in register, and those that follow from the embedded
// broker in RunLRS, each with its reason.
type LRSConfig struct {
	Ingest      IngestConfig
	Store       StoreConfig
	Consumer    ConsumerConfig
	StoreWriter storewriter.Config
	Analytics   analyticswriter.Config
	Forwarding  forwarding.Config
	BrokerDir   string
	BrokerPort  int
	SyncWrites  bool
	// RetentionBytes bounds the embedded broker's log (and so its memory).
	RetentionBytes int64
	External       bool
	// Pulls runs the tenants' pull sources that have an interval in this
	// process; PullRecheck is how often their list is read again.
	Pulls       bool
	PullRecheck time.Duration
}

func (c *LRSConfig) register(fs *flag.FlagSet) {
	c.Ingest.register(fs)
	c.Store.register(fs)
	c.Consumer.register(fs)
	c.StoreWriter.RegisterFlags(fs)
	c.Analytics.RegisterFlags(fs)
	c.Forwarding.RegisterFlags(fs)
	fs.StringVar(&c.BrokerDir, "broker-dir", "./data/broker", "data directory of the embedded broker")
	fs.IntVar(&c.BrokerPort, "broker-port", 0, "port of the embedded broker on 127.0.0.1 (0: any free port); it demands a password only this process knows")
	fs.BoolVar(&c.SyncWrites, "broker-sync-writes", false, "fsync every batch in the embedded broker before acknowledging")
	fs.Int64Var(&c.RetentionBytes, "broker-retention-bytes", 1<<30, "most bytes the embedded broker keeps per partition; older records go first, read or not (0: unbounded)")
	fs.BoolVar(&c.External, "external-kafka", false, "use -kafka-brokers instead of the embedded broker")
	fs.BoolVar(&c.Pulls, "pulls", true, "pull the tenants' configured sources that have an interval (lrs pulls) in this process; run it on one lrs only")
	fs.DurationVar(&c.PullRecheck, "pull-recheck", time.Minute, "how often the pull sources are listed again (sources added or changed apply then)")
	// lrs runs on SQLite by default, whose single writer the API's
	// attachment and document writes wait for: a store transaction of a
	// whole batch would hold them up to half a second. Transactions of
	// imported statements keep the default, one per batch: an import is
	// a bulk load, where they wait longer and the store goes faster.
	setDefault(fs, "store-tx-statements", "1000")
}

// setDefault changes the default of the registered flag name, value and help.
func setDefault(fs *flag.FlagSet, name, value string) {
	f := fs.Lookup(name)
	if err := f.Value.Set(value); err != nil {
		panic(fmt.Sprintf("default %q of -%s: %v", value, name, err))
	}
	f.DefValue = value
}

// parseLRS reads lrs's settings and checks those that do not depend on the
// broker.
func parseLRS(args []string) (LRSConfig, error) {
	var (
		cfg   LRSConfig
		flags *flag.FlagSet
	)
	err := parse("lrs", args, func(fs *flag.FlagSet) {
		flags = fs
		cfg.register(fs)
	})
	if err != nil {
		return cfg, err
	}
	// Visit sees the flags set on the command line or in the environment.
	partitionsGiven := false
	flags.Visit(func(f *flag.Flag) {
		if f.Name == "kafka-partitions" {
			partitionsGiven = true
		}
	})
	var errs []error
	if !cfg.External && partitionsGiven && cfg.Ingest.Partitions != 1 {
		// The embedded broker is one node, where more partitions buy
		// nothing, and the topic it already holds has one.
		errs = append(errs, fmt.Errorf("kafka-partitions %d: the embedded broker's topic has one partition (drop the setting, or use -external-kafka)", cfg.Ingest.Partitions))
	}
	errs = append(errs, cfg.Ingest.validate(), cfg.Store.validate(), cfg.Consumer.validate(), cfg.StoreWriter.Validate(), cfg.Forwarding.Validate())
	if cfg.Analytics.DSN != "" {
		// Without a DSN the analytics-writer does not run.
		errs = append(errs, cfg.Analytics.Validate())
	}
	return cfg, errors.Join(errs...)
}

// RunLRS runs everything in one process: an embedded broker (unless
// -kafka-brokers points at a real one with -external-kafka), the API, the
// store-writer on the same store, the analytics-writer when a ClickHouse
// DSN is set, and the forwarder.
func RunLRS(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseLRS(args)
	if err != nil {
		return err
	}
	// What runs until ctx ends (the conflict tail, the rollups) ends with
	// RunLRS too, also when its start fails.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := &cfg.Ingest
	in.StoreGroup = cfg.StoreWriter.Group
	if !cfg.External {
		in.Partitions = 1 // another value given was refused by parseLRS
		if in.Retention == 0 {
			// The store holds every statement anyway; the log is only the
			// writers' queue.
			in.Retention = 72 * time.Hour
		}
	}
	if strings.HasPrefix(cfg.Store.DSN, "sqlite:") {
		if err := os.MkdirAll(filepath.Dir(strings.TrimPrefix(cfg.Store.DSN, "sqlite:")), 0o755); err != nil {
			return fmt.Errorf("store directory: %w", err)
		}
	}
	if !cfg.External {
		b, err := stream.StartEmbeddedBroker(cfg.BrokerDir, cfg.BrokerPort, int32(in.MaxRecordBytes), cfg.SyncWrites, cfg.RetentionBytes)
		if err != nil {
			return err
		}
		defer b.Close()
		in.Brokers = strings.Join(b.Addrs(), ",")
		// Only this process knows the embedded broker's password, so it
		// publishes every record: the conflict check needs no tail wait.
		in.Kafka = KafkaSecurity{Security: b.Security()}
		in.soleProducer = true
		if in.MaxBacklogBytes == 0 {
			// Past its retention the embedded broker deletes records
			// whether the store-writer read them or not.
			in.MaxBacklogBytes = cfg.RetentionBytes / 2
		}
	}
	if err := in.Common.validate(); err != nil {
		return err
	}
	e, err := newEnv(in.Common)
	if err != nil {
		return err
	}
	defer e.log.Sync()
	defer e.stop()
	if !cfg.External {
		e.log.Info("embedded broker started", zap.Strings("addrs", e.brokers), zap.String("dir", cfg.BrokerDir))
	}
	var cl closers
	defer cl.run()
	st, err := openStore(ctx, cfg.Store.DSN, cfg.Store.Migrate, e)
	if err != nil {
		return err
	}
	cl.add(func() { st.Close() })

	type writer struct {
		name string
		c    runnable
	}
	sw, err := buildStoreWriter(ctx, in.Common, cfg.Consumer, cfg.StoreWriter, st, e, &cl)
	if err != nil {
		return err
	}
	writers := []writer{{"store-writer", sw}}
	running := false
	defer func() {
		if running {
			return
		}
		// A start that failed after the writers were built (the API
		// address taken, say): their Kafka clients already joined groups
		// and would go on dialing. Run on a done context only closes them.
		done, cancel := context.WithCancel(context.Background())
		cancel()
		for _, w := range writers {
			_ = w.c.Run(done)
		}
	}()
	var ch lifecycle.Analytics
	if cfg.Analytics.DSN != "" {
		aw, c, err := buildAnalyticsWriter(ctx, in.Common, cfg.Consumer, cfg.Analytics, e, &cl)
		if err != nil {
			return err
		}
		writers = append(writers, writer{"analytics-writer", aw})
		ch = c
	}
	fw, err := buildForwarder(ctx, in.Common, cfg.Consumer, cfg.Forwarding, st, e, &cl)
	if err != nil {
		return err
	}
	writers = append(writers, writer{"forwarder", fw})
	srv, err := buildIngest(ctx, *in, st, ch, e, out, &cl)
	if err != nil {
		return err
	}
	var puller *pulls.Runner
	if cfg.Pulls {
		puller, err = pulls.New(pulls.Config{Recheck: cfg.PullRecheck, Batch: 500, RetryFor: 15 * time.Minute},
			st, srv.Statements(), e.log.Named("pulls"), e.reg)
		if err != nil {
			return err
		}
	}
	base, err := listenAPI(srv, *in, e.log)
	if err != nil {
		return err
	}
	e.log.Info("LRS ready", zap.String("xapi", base+in.Prefix), zap.String("store", config.RedactDSN(cfg.Store.DSN)), zap.Bool("analytics", cfg.Analytics.DSN != ""))

	// One run group: when ctx ends or a writer fails, the API stops taking
	// requests and finishes those in flight, then the writers finish their
	// batches; RunLRS returns the first failure. The writers stop last so
	// that a GET in flight still sees its writes applied.
	g, gctx := newRunGroup(ctx)
	wctx, stopWriters := context.WithCancel(context.Background())
	defer stopWriters()
	running = true
	for _, w := range writers {
		g.Go(func() error {
			if err := w.c.Run(wctx); err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			return nil
		})
	}
	if puller != nil {
		// On the group's context: it stops with the API, before the
		// writers, as the requests in flight do.
		g.Go(func() error { return puller.Run(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		defer stopWriters()
		e.log.Info("shutting down: finishing requests in flight, then the writers")
		sctx, cancel := context.WithTimeout(context.Background(), in.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

// RunMigrate applies the statement store's and (when a DSN is given)
// ClickHouse's migrations, then exits: the one-shot job of a deployment that
// starts its services with -migrate=false.
func RunMigrate(ctx context.Context, args []string, out io.Writer) error {
	var storeDSN, chDSN string
	err := parse("lrs migrate", args, func(fs *flag.FlagSet) {
		fs.StringVar(&storeDSN, "store-dsn", "sqlite:./data/lrs.db", "statement store: postgres://... or sqlite:PATH")
		fs.StringVar(&chDSN, "clickhouse-dsn", "", "ClickHouse native DSN (optional)")
	})
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, storeDSN)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	fmt.Fprintf(out, "statement store %s: migrated\n", config.RedactDSN(storeDSN))
	if chDSN == "" {
		return nil
	}
	ch, err := analytics.Open(ctx, analytics.Config{DSN: chDSN})
	if err != nil {
		return fmt.Errorf("open ClickHouse: %w", err)
	}
	defer ch.Close()
	if err := ch.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate ClickHouse: %w", err)
	}
	fmt.Fprintf(out, "ClickHouse %s: migrated\n", config.RedactDSN(chDSN))
	return nil
}
