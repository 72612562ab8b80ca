package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// writeNDJSON is `lrs-loadgen ndjson`: generated statements, one per line,
// for `lrs import` (a file of any size in constant memory). Statements look
// like another LRS's export: they carry their ids and a stored time (a
// moment after their timestamp), which the import keeps as provenance.
// Attachments are left out, since a file holds statements only.
func writeNDJSON(ctx context.Context, args []string, out io.Writer) error {
	var (
		gen     GenConfig
		n       int
		outPath string
		epoch   string
	)
	fs := flag.NewFlagSet("lrs-loadgen ndjson", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&n, "n", 100000, "statements to write")
	fs.StringVar(&outPath, "out", "", "file to write (default: standard output)")
	fs.Uint64Var(&gen.Seed, "seed", 1, "seed of the statement sequence")
	fs.IntVar(&gen.Instances, "instances", 8, "LMS instances")
	fs.IntVar(&gen.Learners, "learners", 5000, "learners per LMS instance")
	fs.IntVar(&gen.Courses, "courses", 40, "courses per LMS instance")
	fs.IntVar(&gen.Sessions, "sessions", 32, "learners active at once per LMS instance")
	fs.StringVar(&epoch, "epoch", "2026-01-05T08:00:00Z", "simulated time of the first statement (RFC 3339)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || n < 0 {
		return fmt.Errorf("ndjson: unexpected arguments %v or negative -n", fs.Args())
	}
	var err error
	if gen.Epoch, err = time.Parse(time.RFC3339, epoch); err != nil {
		return fmt.Errorf("ndjson: epoch: %w", err)
	}
	gen.IDs = true
	g, err := NewGenerator(gen)
	if err != nil {
		return fmt.Errorf("ndjson: %w", err)
	}
	w := out
	var f *os.File
	if outPath != "" {
		if f, err = os.Create(outPath); err != nil {
			return fmt.Errorf("ndjson: %w", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for i := range n {
		if i%10000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := withStored(g.Next().JSON)
		if err != nil {
			return fmt.Errorf("ndjson: %w", err)
		}
		bw.Write(line)
		if err := bw.WriteByte('\n'); err != nil {
			return fmt.Errorf("ndjson: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("ndjson: %w", err)
	}
	if f != nil {
		return errors.Join(f.Sync(), f.Close())
	}
	return nil
}

// withStored adds a stored member to a generated statement: its
// timestamp plus the delay an LMS's queue adds.
func withStored(st []byte) ([]byte, error) {
	const member = `"timestamp":"`
	i := bytes.Index(st, []byte(member))
	if i < 0 || st[len(st)-1] != '}' {
		return nil, errors.New("generated statement without a timestamp")
	}
	v := st[i+len(member):]
	ts, err := time.Parse(time.RFC3339Nano, string(v[:bytes.IndexByte(v, '"')]))
	if err != nil {
		return nil, err
	}
	stored := ts.Add(150 * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000Z")
	return append(append(st[:len(st)-1:len(st)-1], `,"stored":"`+stored+`"`...), '}'), nil
}
