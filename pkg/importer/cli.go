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
	fs := flag.NewFlagSet("lrs import", flag.ContinueOnError)
	fs.SetOutput(progress)
	fs.Usage = func() {
		fmt.Fprintln(progress, "usage: lrs import [flags] FILE|FOLDER...\n\nStatements from JSON arrays or NDJSON files (gzip or not) into the tenant of the credential, through the LRS's xAPI API.")
		fs.PrintDefaults()
	}
	var cfg Config
	var rejects string
	fs.StringVar(&cfg.Endpoint, "endpoint", "http://127.0.0.1:8080/xapi", "the LRS's xAPI base URL")
	fs.StringVar(&cfg.Key, "key", "", "credential key (statements/write; its tenant receives the statements)")
	fs.StringVar(&cfg.Secret, "secret", "", "credential secret (prefer the variable: a flag shows in process lists)")
	fs.StringVar(&cfg.Version, "version", "1.0.3", "X-Experience-API-Version sent: 1.0.3 or 2.0.0")
	fs.IntVar(&cfg.Batch, "batch", 500, "statements per request")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "requests in flight")
	fs.StringVar(&cfg.StatePath, "state", "lrs-import.state", "progress kept here, so that running the same command again resumes (empty: none)")
	fs.StringVar(&rejects, "rejects", "lrs-import-rejects.ndjson", "refused statements, one JSON line each with file, position, status and reason (appended)")
	fs.DurationVar(&cfg.ProgressEvery, "progress-every", 2*time.Second, "how often progress is shown")
	if err := config.ParsePrefixed(fs, args, "LRS_IMPORT_"); err != nil {
		return err
	}
	files, err := Files(fs.Args())
	if err != nil {
		return err
	}
	rf, err := os.OpenFile(rejects, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("import: rejects file: %w", err)
	}
	defer rf.Close()
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
		return err
	}
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
