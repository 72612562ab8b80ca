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
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/observability"
	"github.com/streamlrs/streamlrs/pkg/store"
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
	var cfg IngestConfig
	if err := parse("lrs-ingest", args, func(fs *flag.FlagSet) { cfg.register(fs, true) }); err != nil {
		return err
	}
	if err := errors.Join(cfg.Common.validate(), cfg.validate()); err != nil {
		return err
	}
	e, err := newEnv(cfg.Common)
	if err != nil {
		return err
	}
	defer e.log.Sync()
	defer e.stop()
	var cl closers
	defer cl.run()
	st, err := openStore(ctx, cfg.StoreDSN, cfg.Migrate, e)
	if err != nil {
		return err
	}
	cl.add(func() { st.Close() })
	srv, err := buildIngest(ctx, cfg, st, e, out, &cl)
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
	return runWriter(ctx, "lrs-store-writer", "store", args, func(ctx context.Context, cfg WriterConfig, e env, cl *closers) (*stream.Consumer, error) {
		st, err := openStore(ctx, cfg.DSN, cfg.Migrate, e)
		if err != nil {
			return nil, err
		}
		cl.add(func() { st.Close() })
		return buildStoreWriter(ctx, cfg, st, e, cl)
	})
}

// RunAnalyticsWriter runs the ClickHouse consumer until ctx is cancelled.
func RunAnalyticsWriter(ctx context.Context, args []string) error {
	return runWriter(ctx, "lrs-analytics-writer", "analytics", args, buildAnalyticsWriter)
}

// runWriter parses a consumer service's settings, builds it, and runs it.
func runWriter(ctx context.Context, name, kind string, args []string,
	build func(context.Context, WriterConfig, env, *closers) (*stream.Consumer, error)) error {
	var cfg WriterConfig
	if err := parse(name, args, func(fs *flag.FlagSet) { cfg.register(fs, kind, true) }); err != nil {
		return err
	}
	if err := errors.Join(cfg.Common.validate(), cfg.validate(kind)); err != nil {
		return err
	}
	e, err := newEnv(cfg.Common)
	if err != nil {
		return err
	}
	defer e.log.Sync()
	defer e.stop()
	// The admin endpoints come first, so that /readyz tells why the writer
	// is not running yet while it waits for its database or broker.
	if cfg.HTTPAddr != "" {
		srv, err := observability.Listen(cfg.HTTPAddr, observability.Handler(e.reg, e.health))
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
	c, err := build(ctx, cfg, e, &cl)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped while waiting for a dependency: a clean exit.
			e.log.Info("stopped before the writer started", zap.Error(err))
			return nil
		}
		return err
	}
	return runConsumers(ctx, e, c)
}

// runConsumers runs the consumers until ctx is cancelled; each finishes its
// batch in flight, commits, and leaves.
func runConsumers(ctx context.Context, e env, cs ...*stream.Consumer) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// LRSConfig configures the all-in-one binary.
type LRSConfig struct {
	Ingest     IngestConfig
	Store      WriterConfig
	Analytics  WriterConfig
	BrokerDir  string
	BrokerPort int
	SyncWrites bool
	// RetentionBytes bounds the embedded broker's log (and so its memory).
	RetentionBytes int64
	External       bool
}

// RunLRS runs everything in one process: an embedded broker (unless
// -kafka-brokers points at a real one with -external-kafka), the API, the
// store-writer on the same store, and the analytics-writer when a ClickHouse
// DSN is set.
func RunLRS(ctx context.Context, args []string, out io.Writer) error {
	var cfg LRSConfig
	err := parse("lrs", args, func(fs *flag.FlagSet) {
		cfg.Ingest.register(fs, true)
		fs.IntVar(&cfg.Store.MaxBatchRecords, "store-batch-records", 2000, "most records written in one store transaction")
		fs.DurationVar(&cfg.Store.MaxBatchWait, "store-batch-wait", 20*time.Millisecond, "how long a store batch may fill before it is written (0: write what is there)")
		fs.IntVar(&cfg.Store.TxStatements, "store-tx-statements", 1000, "split a store batch into transactions of about this many statements: attachment and document writes wait for SQLite's single writer no longer than one of them (0: one transaction per batch)")
		fs.StringVar(&cfg.Analytics.DSN, "clickhouse-dsn", "", "ClickHouse native DSN; when set, the analytics-writer runs too")
		fs.StringVar(&cfg.Analytics.Group, "analytics-group", "lrs-analytics-writer", "consumer group of the analytics-writer")
		fs.IntVar(&cfg.Analytics.MaxBatchRecords, "analytics-batch-records", 5000, "most records (requests) in one ClickHouse insert")
		fs.IntVar(&cfg.Analytics.MaxBatchBytes, "analytics-batch-bytes", 16<<20, "most record bytes in one ClickHouse insert (bounds the writer's memory)")
		fs.DurationVar(&cfg.Analytics.MaxBatchWait, "analytics-batch-wait", 0, "how long an insert batch may fill")
		fs.DurationVar(&cfg.Analytics.RollupInterval, "analytics-rollup-interval", 2*time.Minute, "how often the rollup tables are recomputed for the months that changed (0: never)")
		fs.StringVar(&cfg.BrokerDir, "broker-dir", "./data/broker", "data directory of the embedded broker")
		fs.IntVar(&cfg.BrokerPort, "broker-port", 0, "port of the embedded broker on 127.0.0.1 (0: any free port); it demands a password only this process knows")
		fs.BoolVar(&cfg.SyncWrites, "broker-sync-writes", false, "fsync every batch in the embedded broker before acknowledging")
		fs.Int64Var(&cfg.RetentionBytes, "broker-retention-bytes", 1<<30, "most bytes the embedded broker keeps per partition; older records go first, read or not (0: unbounded)")
		fs.BoolVar(&cfg.External, "external-kafka", false, "use -kafka-brokers instead of the embedded broker")
	})
	if err != nil {
		return err
	}
	in := &cfg.Ingest
	if !cfg.External {
		in.Partitions = 1 // one node, no replication: more partitions buy nothing
		if in.Retention == 0 {
			// The store holds every statement anyway; the log is only the
			// writers' queue.
			in.Retention = 72 * time.Hour
		}
	}
	if strings.HasPrefix(in.StoreDSN, "sqlite:") {
		if err := os.MkdirAll(filepath.Dir(strings.TrimPrefix(in.StoreDSN, "sqlite:")), 0o755); err != nil {
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
		in.Conflict.SoleProducer = true
		if in.MaxBacklogBytes == 0 {
			// Past its retention the embedded broker deletes records
			// whether the store-writer read them or not.
			in.MaxBacklogBytes = cfg.RetentionBytes / 2
		}
	}
	if err := errors.Join(in.Common.validate(), in.validate()); err != nil {
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
	st, err := openStore(ctx, in.StoreDSN, in.Migrate, e)
	if err != nil {
		return err
	}
	cl.add(func() { st.Close() })

	storeCfg := WriterConfig{Common: in.Common, Group: in.StoreGroup, DSN: in.StoreDSN, MaxBatchRecords: cfg.Store.MaxBatchRecords, MaxBatchWait: cfg.Store.MaxBatchWait, MaxBatchBytes: 16 << 20, Lanes: 1, TxStatements: cfg.Store.TxStatements, RetryMax: 5 * time.Second}
	consumers := []*stream.Consumer{}
	sw, err := buildStoreWriter(ctx, storeCfg, st, e, &cl)
	if err != nil {
		return err
	}
	consumers = append(consumers, sw)
	if cfg.Analytics.DSN != "" {
		a := cfg.Analytics
		a.Common, a.Migrate, a.RetryMax = in.Common, true, 10*time.Second
		if err := a.validate("analytics"); err != nil {
			return err
		}
		aw, err := buildAnalyticsWriter(ctx, a, e, &cl)
		if err != nil {
			return err
		}
		consumers = append(consumers, aw)
	}
	srv, err := buildIngest(ctx, *in, st, e, out, &cl)
	if err != nil {
		return err
	}
	base, err := listenAPI(srv, *in, e.log)
	if err != nil {
		return err
	}
	e.log.Info("LRS ready", zap.String("xapi", base+in.Prefix), zap.String("store", config.RedactDSN(in.StoreDSN)), zap.Bool("analytics", cfg.Analytics.DSN != ""))

	cctx, stopConsumers := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runConsumers(cctx, e, consumers...) }()
	<-ctx.Done()
	e.log.Info("shutting down: finishing requests in flight, then the writers")
	sctx, cancel := context.WithTimeout(context.Background(), in.ShutdownTimeout)
	defer cancel()
	herr := srv.Shutdown(sctx)
	stopConsumers()
	return errors.Join(herr, <-done)
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
