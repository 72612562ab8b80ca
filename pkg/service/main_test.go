package service

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDispatch(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    int
		ran     string // "service", "migrate" or "" (nothing ran to its end)
		wantOut string // in stderr
	}{
		{name: "service", args: nil, want: 0, ran: "service"},
		{name: "service flags", args: []string{"-http-addr", "x"}, want: 0, ran: "service"},
		{name: "help", args: []string{"-h"}, want: 0},
		{name: "command", args: []string{"migrate", "-store-dsn", "x"}, want: 0, ran: "migrate"},
		{name: "unknown command", args: []string{"nosuch", "-h"}, want: 2, wantOut: `lrs: unknown command "nosuch"` + "\ncommands: healthcheck, migrate;"},
		{name: "typo", args: []string{"migrat"}, want: 2, wantOut: `unknown command "migrat"`},
		{name: "after flags", args: []string{"-http-addr", "x", "tenant", "list"}, want: 2, wantOut: `unknown command "tenant"`},
		{name: "extra argument of a command", args: []string{"migrate", "-store-dsn", "x", "now"}, want: 2, wantOut: `lrs: lrs migrate: unexpected argument "now"`},
		{name: "failure", args: []string{"-fail"}, want: 1, wantOut: "lrs: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran string
			service := func(_ context.Context, args []string) error {
				var fail bool
				err := parse("lrs", args, func(fs *flag.FlagSet) {
					fs.String("http-addr", "", "listen address")
					fs.BoolVar(&fail, "fail", false, "fail")
				})
				if err != nil {
					return err
				}
				if fail {
					return errors.New("boom")
				}
				ran = "service"
				return nil
			}
			migrate := Command{Name: "migrate", Run: func(_ context.Context, args []string) error {
				if err := parse("lrs migrate", args, func(fs *flag.FlagSet) { fs.String("store-dsn", "", "DSN") }); err != nil {
					return err
				}
				ran = "migrate"
				return nil
			}}
			var stderr bytes.Buffer
			code := dispatch(context.Background(), "lrs", tt.args, &stderr, service, []Command{migrate})
			if code != tt.want || ran != tt.ran {
				t.Errorf("dispatch(%q) = %d, ran %q; want %d, ran %q (stderr %q)", tt.args, code, ran, tt.want, tt.ran, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantOut) {
				t.Errorf("dispatch(%q) wrote %q, want %q in it", tt.args, stderr.String(), tt.wantOut)
			}
		})
	}
}

// The lrs binary refuses an unknown command at once instead of starting the
// LRS, whose broker and store would then be in the working directory.
func TestLRSUnknownCommand(t *testing.T) {
	bin := buildBinaries(t)
	for _, args := range [][]string{{"nosuch", "-h"}, {"tenant", "list"}} {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "lrs"), args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("lrs %q: %v, want exit status 2 (output %s)", args, err, out)
		}
		if want := `unknown command "` + args[0] + `"`; !strings.Contains(string(out), want) || !strings.Contains(string(out), "tenants") {
			t.Fatalf("lrs %q wrote %s, want %s and the commands", args, out, want)
		}
		if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) > 0 {
			t.Fatalf("lrs %q created %v", args, files)
		}
	}
}
