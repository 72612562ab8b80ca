package importer

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// RunImport runs `lrs import [flags] FILE|FOLDER...`. Progress goes to
// stderr, rewritten in place on a terminal and as plain lines otherwise; the
// summary goes to out.
func RunImport(ctx context.Context, args []string, out, progress io.Writer) error {
	fs := flagSet("lrs import", progress, "usage: lrs import [flags] FILE|FOLDER...\n\nStatements from JSON arrays or NDJSON files (gzip or not) into the tenant of the credential, through the LRS's xAPI API.")
	var cfg Config
	var rejects string
	targetFlags(fs, &cfg, &rejects, "lrs-import")
	if err := config.ParsePrefixed(fs, args, "LRS_IMPORT_"); err != nil {
		return err
	}
	files, err := Files(fs.Args())
	if err != nil {
		return err
	}
	rf, im, err := open(cfg, rejects, progress)
	if err != nil {
		return err
	}
	defer rf.Close()
	p, err := im.Run(ctx, files)
	fmt.Fprintf(out, "%d files, %d statements read in %s (%.0f/s): %d accepted (stored, or stored before with the same content), %d rejected, %d conflicts",
		len(files), p.Read, p.Elapsed.Round(time.Millisecond), p.StatementsPerSecond, p.Accepted, p.Rejected, p.Conflicts)
	if p.Skipped > 0 {
		fmt.Fprintf(out, ", %d skipped (done by an earlier run)", p.Skipped)
	}
	fmt.Fprintln(out)
	if p.Rejected+p.Conflicts > 0 {
		fmt.Fprintf(out, "refused statements, with their reasons: %s\n", rejects)
	}
	if err != nil {
		if cfg.StatePath != "" && !errors.Is(err, ErrFatal) {
			fmt.Fprintf(out, "interrupted: run the same command again to resume (progress in %s)\n", cfg.StatePath)
		}
		return err
	}
	return nil
}

// flagSet is a command's flag set whose -h prints usage, then the flags.
func flagSet(name string, w io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintln(w, usage)
		fs.PrintDefaults()
	}
	return fs
}

// targetFlags registers the flags that say where statements go; name
// names the default state and rejects files.
func targetFlags(fs *flag.FlagSet, cfg *Config, rejects *string, name string) {
	fs.StringVar(&cfg.Endpoint, "endpoint", "http://127.0.0.1:8080/xapi", "the LRS's xAPI base URL")
	fs.StringVar(&cfg.Key, "key", "", "credential key (statements/write; its tenant receives the statements)")
	fs.StringVar(&cfg.Secret, "secret", "", "credential secret (prefer the variable: a flag shows in process lists)")
	fs.StringVar(&cfg.Version, "version", "1.0.3", "X-Experience-API-Version sent: 1.0.3 or 2.0.0")
	fs.IntVar(&cfg.Batch, "batch", 500, "statements per request")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "requests in flight")
	fs.StringVar(&cfg.StatePath, "state", name+".state", "progress kept here, so that running the same command again resumes (empty: none)")
	fs.StringVar(rejects, "rejects", name+"-rejects.ndjson", "refused statements, one JSON line each with where it came from, status and reason (appended)")
	fs.DurationVar(&cfg.ProgressEvery, "progress-every", 2*time.Second, "how often progress is shown")
	fs.DurationVar(&cfg.RetryFor, "retry-for", 15*time.Minute, "how long a request that keeps failing (LRS down, 5xx, 429) is retried before the run stops; run it again to resume")
	fs.BoolVar(&cfg.Provenance, "provenance", true, "send where the statements come from (X-LRS-Source), so that the LRS keeps it and their original stored times; the credential needs the import scope")
}

// open makes the importer of cfg, its rejects file and its progress display.
func open(cfg Config, rejects string, progress io.Writer) (*os.File, *Importer, error) {
	rf, err := os.OpenFile(rejects, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("rejects file: %w", err)
	}
	cfg.Rejects = rf
	terminal := isTerminal(progress)
	cfg.Progress = func(p Progress) {
		switch {
		case terminal && !p.Done:
			fmt.Fprintf(progress, "\r\033[K%s", p)
		case terminal:
			fmt.Fprint(progress, "\r\033[K")
		case !p.Done:
			fmt.Fprintln(progress, p)
		}
	}
	im, err := New(cfg)
	if err != nil {
		rf.Close()
		return nil, nil, err
	}
	return rf, im, nil
}

// RunPull runs `lrs pull [flags]`: the statements of another LRS into this
// one, once, or every -every until stopped; with -store-dsn and no -source,
// those of every source configured for the credential's tenant, each on
// its interval.
func RunPull(ctx context.Context, args []string, out, progress io.Writer) error {
	fs := flagSet("lrs pull", progress, "usage: lrs pull -source URL -source-key KEY [flags]\n       lrs pull -store-dsn DSN [flags]    (the sources of `lrs pulls`)\n\nStatements another LRS stored (voided ones and attachments included) into the tenant of the credential, through both LRSs' xAPI APIs, oldest first, resuming where the last pull stopped.")
	var cfg Config
	var rejects, since, dsn string
	var src Source
	var every time.Duration
	targetFlags(fs, &cfg, &rejects, "lrs-pull")
	fs.StringVar(&src.Endpoint, "source", "", "the source LRS's xAPI base URL")
	fs.StringVar(&src.Key, "source-key", "", "a source credential that reads all statements of its tenant")
	fs.StringVar(&src.Secret, "source-secret", "", "its secret (prefer the variable)")
	fs.StringVar(&src.Version, "source-version", "1.0.3", "X-Experience-API-Version sent to the source")
	fs.StringVar(&since, "since", "", "RFC 3339 time: the first pull starts after it (default: everything)")
	fs.DurationVar(&every, "every", 0, "keep pulling at this interval until stopped (0: once)")
	fs.StringVar(&dsn, "store-dsn", "", "the LRS's statement store (postgres://... or sqlite:PATH): the pull's position is kept there, per tenant and source, instead of in -state; without -source, the sources configured for the credential's tenant (lrs pulls) are pulled")
	if err := config.ParsePrefixed(fs, args, "LRS_PULL_"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("lrs pull takes no arguments, got %q", fs.Args())
	}
	if since != "" {
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			return fmt.Errorf("-since %q: want an RFC 3339 time: %w", since, err)
		}
		src.Since = t
	}
	if src.Endpoint == "" && dsn == "" {
		return errors.New("lrs pull: give -source (and its credential), or -store-dsn to pull the sources configured for the tenant")
	}
	var st store.Store
	if dsn != "" {
		var err error
		if st, err = openStore(ctx, dsn); err != nil {
			return err
		}
		defer st.Close()
		cred, err := st.GetCredential(ctx, cfg.Key)
		if err != nil {
			return fmt.Errorf("lrs pull: credential %q in the store: %w", cfg.Key, err)
		}
		cfg.Cursors, cfg.Tenant = st, cred.Tenant
	}
	rf, im, err := open(cfg, rejects, progress)
	if err != nil {
		return err
	}
	defer rf.Close()
	if src.Endpoint == "" {
		return pullConfigured(ctx, im, st, cfg.Tenant, out)
	}
	for {
		if err := pullOnce(ctx, im, src, out); err != nil && (every == 0 || errors.Is(err, ErrFatal) || ctx.Err() != nil) {
			return err
		}
		if every == 0 {
			return nil
		}
		select {
		case <-time.After(every):
		case <-ctx.Done():
			return nil
		}
	}
}

// pullOnce pulls src and prints a line about it, and the error, if any.
func pullOnce(ctx context.Context, im *Importer, src Source, out io.Writer) error {
	p, err := im.Pull(ctx, src)
	fmt.Fprintf(out, "%s: %s, %d statements read in %s: %d accepted, %d rejected, %d conflicts\n",
		time.Now().UTC().Format(time.RFC3339), src.Endpoint, p.Read, p.Elapsed.Round(time.Millisecond), p.Accepted, p.Rejected, p.Conflicts)
	if err != nil && !errors.Is(err, ErrFatal) && ctx.Err() == nil {
		fmt.Fprintf(out, "pull from %s failed: %v\n", src.Endpoint, err)
	}
	return err
}

// sourcesRecheck is how often a long-running pull of configured sources
// looks for sources added or changed meanwhile.
const sourcesRecheck = time.Minute

// pullConfigured pulls each of the tenant's configured sources: those
// with an interval again and again until ctx ends, the others once.
func pullConfigured(ctx context.Context, im *Importer, st store.Imports, tenant string, out io.Writer) error {
	sources, err := st.ListPullSources(ctx, tenant)
	if err != nil {
		return err
	}
	if len(sources) == 0 {
		return fmt.Errorf("lrs pull: tenant %s has no pull sources: add one with lrs pulls add", tenant)
	}
	list := func(ctx context.Context) ([]store.PullSource, error) { return st.ListPullSources(ctx, tenant) }
	return Schedule(ctx, list, func(ctx context.Context, ps store.PullSource) error {
		return pullOnce(ctx, im, SourceOf(ps), out)
	}, sourcesRecheck, false)
}

// SourceOf is the source a configured pull source names.
func SourceOf(ps store.PullSource) Source {
	return Source{Endpoint: ps.Endpoint, Key: ps.Key, Secret: ps.Secret, Version: ps.Version, Since: ps.Since}
}

// openStore opens the LRS's statement store and applies its migrations
// (the pull tables may be newer than the running LRS).
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate store: %w", err)
	}
	return st, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
