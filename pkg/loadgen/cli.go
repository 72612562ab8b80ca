package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// listFlag collects a repeatable flag; commas also separate values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// Command is the lrs-loadgen command line:
//
//	lrs-loadgen [flags]          run load, print the table, optionally write JSON
//	lrs-loadgen report FILE...   print saved results side by side
//	lrs-loadgen ndjson [flags]   write generated statements as NDJSON (for lrs import)
//
// Settings are flags only: the loadgen targets any LRS, and reading our
// services' LRS_* variables would silently point it at whatever they name.
func Command(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "report" {
		return report(args[1:], out)
	}
	if len(args) > 0 && args[0] == "ndjson" {
		return writeNDJSON(ctx, args[1:], out)
	}
	var (
		cfg            Config
		auths, procs   listFlag
		mode, epoch    string
		outPath, table string
		quiet          bool
	)
	fs := flag.NewFlagSet("lrs-loadgen", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.Label, "label", "", "name of the run in the table (default: the load description)")
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080/xapi", "base URL of the xAPI resources")
	fs.Var(&auths, "auth", "KEY:SECRET of a Basic credential; repeat for several tenants (LMS instances are spread over them)")
	fs.StringVar(&cfg.Version, "xapi-version", "1.0.3", "X-Experience-API-Version header")
	fs.StringVar(&mode, "mode", "post", "post (one statement per POST), put (one per PUT with its id) or batch (POST arrays)")
	fs.IntVar(&cfg.BatchSize, "batch", 100, "statements per request in batch mode")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: statements per second on a fixed schedule (0: closed loop)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "closed loop: clients; open loop: most requests in flight")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "measured time")
	fs.DurationVar(&cfg.Warmup, "warmup", 5*time.Second, "load before the measured time, not counted")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "longest wait for one HTTP answer")
	fs.Uint64Var(&cfg.Gen.Seed, "seed", 1, "seed of the statement sequence; the same seed sends the same statements")
	fs.IntVar(&cfg.Gen.Instances, "instances", 8, "LMS instances")
	fs.IntVar(&cfg.Gen.Learners, "learners", 5000, "learners per LMS instance")
	fs.IntVar(&cfg.Gen.Courses, "courses", 40, "courses per LMS instance")
	fs.IntVar(&cfg.Gen.Sessions, "sessions", 32, "learners active at once per LMS instance")
	fs.BoolVar(&cfg.Gen.IDs, "ids", false, "POST statements with their own ids (put mode always has them)")
	fs.IntVar(&cfg.Gen.AttachmentEvery, "attachment-every", 1000, "one statement in this many carries a certificate attachment (multipart/mixed); 0: none")
	fs.StringVar(&epoch, "epoch", "2026-01-05T08:00:00Z", "simulated time of the first statement (RFC 3339)")
	fs.Float64Var(&cfg.FreshnessRate, "freshness-rate", 20, "acknowledged statements per second followed until GET (and ClickHouse) return them")
	fs.DurationVar(&cfg.FreshnessTimeout, "freshness-timeout", 30*time.Second, "give up following a statement after this long")
	fs.StringVar(&cfg.ClickHouseDSN, "clickhouse-dsn", "", "ClickHouse native DSN: also follow statements into ClickHouse")
	fs.StringVar(&table, "clickhouse-table", "statements", "ClickHouse table with a statement_id column")
	fs.DurationVar(&cfg.ClickHousePoll, "clickhouse-poll", 50*time.Millisecond, "how often ClickHouse is asked for the pending statements")
	fs.Float64Var(&cfg.QueryRate, "query-rate", 20, "GET statement queries per second while the load runs, cycling through the filter kinds")
	fs.DurationVar(&cfg.Settle, "settle", 0, "first wait, at most this long, until the LRS shows statements sent just before the run (the backlog of an earlier run); 0: do not")
	fs.Var(&procs, "proc", "NAME=PID (or NAME=PID+ with its descendants) whose CPU and memory are reported; repeatable")
	fs.StringVar(&outPath, "out", "", "also write the result as JSON to this file")
	fs.BoolVar(&quiet, "quiet", false, "do not print the table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v (did you mean: lrs-loadgen report FILE...)", fs.Args())
	}
	var errs []error
	m, err := ParseMode(mode)
	errs = append(errs, err)
	cfg.Mode = m
	if m != ModeBatch {
		cfg.BatchSize = 1
	}
	cfg.ClickHouseTable = table
	for _, a := range auths {
		c, err := ParseCredential(a)
		errs = append(errs, err)
		cfg.Credentials = append(cfg.Credentials, c)
	}
	for _, p := range procs {
		pr, err := ParseProcess(p)
		errs = append(errs, err)
		cfg.Processes = append(cfg.Processes, pr)
	}
	if cfg.Gen.Epoch, err = time.Parse(time.RFC3339, epoch); err != nil {
		errs = append(errs, fmt.Errorf("epoch: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	if res.Label == "" {
		res.Label = res.Describe()
	}
	if outPath != "" {
		if err := WriteResult(outPath, res); err != nil {
			return err
		}
	}
	if quiet {
		return nil
	}
	return WriteTable(out, []Result{res})
}

func report(files []string, out io.Writer) error {
	if len(files) == 0 {
		return errors.New("report: name at least one result file")
	}
	rs := make([]Result, 0, len(files))
	for _, f := range files {
		r, err := ReadResult(f)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	return WriteTable(out, rs)
}
