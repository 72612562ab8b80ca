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
// one, once, or every -every until stopped.
func RunPull(ctx context.Context, args []string, out, progress io.Writer) error {
	fs := flagSet("lrs pull", progress, "usage: lrs pull -source URL -source-key KEY [flags]\n\nStatements another LRS stored (voided ones included) into the tenant of the credential, through both LRSs' xAPI APIs, oldest first, resuming where the last pull stopped.")
	var cfg Config
	var rejects, since string
	var src Source
	var every time.Duration
	targetFlags(fs, &cfg, &rejects, "lrs-pull")
	fs.StringVar(&src.Endpoint, "source", "", "the source LRS's xAPI base URL")
	fs.StringVar(&src.Key, "source-key", "", "a source credential that reads all statements of its tenant")
	fs.StringVar(&src.Secret, "source-secret", "", "its secret (prefer the variable)")
	fs.StringVar(&src.Version, "source-version", "1.0.3", "X-Experience-API-Version sent to the source")
	fs.StringVar(&since, "since", "", "RFC 3339 time: the first pull starts after it (default: everything)")
	fs.DurationVar(&every, "every", 0, "keep pulling at this interval until stopped (0: once)")
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
	rf, im, err := open(cfg, rejects, progress)
	if err != nil {
		return err
	}
	defer rf.Close()
	for {
		p, err := im.Pull(ctx, src)
		fmt.Fprintf(out, "%s: %s, %d statements read in %s: %d accepted, %d rejected, %d conflicts\n",
			time.Now().UTC().Format(time.RFC3339), src.Endpoint, p.Read, p.Elapsed.Round(time.Millisecond), p.Accepted, p.Rejected, p.Conflicts)
		if err != nil {
			if every == 0 || errors.Is(err, ErrFatal) || ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(out, "pull failed, retrying at the next interval: %v\n", err)
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
