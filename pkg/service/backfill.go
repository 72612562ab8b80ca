package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/analyticswriter"
	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/observability"
)

// RunBackfill re-reads the statements topic into ClickHouse for a tenant and
// a time range, printing progress. Statements already in ClickHouse are not
// counted twice, so it can be run again after an interruption.
func RunBackfill(ctx context.Context, args []string, out io.Writer) error {
	var (
		brokers, topic, dsn, tenant, from, to string
		batch                                 int
		kafka                                 KafkaSecurity
	)
	err := parse("lrs backfill", args, func(fs *flag.FlagSet) {
		fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
		fs.StringVar(&topic, "kafka-topic", "xapi.statements", "statements topic")
		fs.StringVar(&dsn, "clickhouse-dsn", "", "ClickHouse native DSN")
		fs.StringVar(&tenant, "tenant", "", "only this tenant (default: all)")
		fs.StringVar(&from, "from", "", "only statements with timestamp >= this RFC 3339 instant")
		fs.StringVar(&to, "to", "", "only statements with timestamp < this RFC 3339 instant")
		fs.IntVar(&batch, "batch", 10000, "statements per insert")
		kafka.register(fs)
	})
	if err != nil {
		return err
	}
	if dsn == "" {
		return errors.New("backfill needs -clickhouse-dsn")
	}
	sec, err := kafka.resolve()
	if err != nil {
		return err
	}
	opts := analytics.BackfillOptions{Tenant: tenant, BatchSize: batch}
	for _, t := range []struct {
		v   string
		dst *time.Time
	}{{from, &opts.From}, {to, &opts.To}} {
		if t.v == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339Nano, t.v); err != nil {
			return fmt.Errorf("time %q: want RFC 3339: %w", t.v, err)
		}
	}
	log, err := observability.NewLogger("console", "warn")
	if err != nil {
		return err
	}
	ch, err := analytics.Open(ctx, analytics.Config{DSN: dsn})
	if err != nil {
		return fmt.Errorf("open ClickHouse: %w", err)
	}
	defer ch.Close()
	if err := ch.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate ClickHouse: %w", err)
	}
	kopts, err := sec.Opts(log)
	if err != nil {
		return err
	}
	src, err := analyticswriter.NewTopicSource(ctx, config.SplitList(brokers), topic, log, kopts...)
	if err != nil {
		return err
	}
	defer src.Close()
	start := time.Now()
	opts.Progress = func(p analytics.BackfillProgress) {
		fmt.Fprintf(out, "read %d, written %d, filtered out %d, unwritable %d (%.0f statements/s)\n",
			p.Read, p.Written, p.Filtered, p.Bad, float64(p.Read)/time.Since(start).Seconds())
	}
	p, err := ch.Backfill(ctx, src, opts)
	if err != nil {
		return fmt.Errorf("backfill after %d statements: %w", p.Read, err)
	}
	erased, err := src.ApplyErasures(ctx, ch)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	fmt.Fprintf(out, "done in %v: read %d, written %d, filtered out %d, unwritable %d, undecodable records %d; %d erasures applied again (%d statements)\n",
		time.Since(start).Round(time.Millisecond), p.Read, p.Written, p.Filtered, p.Bad, src.Skipped, len(src.Erasures), erased)
	return nil
}
