package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Command is a subcommand of a binary, such as `lrs migrate`.
type Command struct {
	Name string
	Run  func(ctx context.Context, args []string) error
}

// Main runs fn with a context cancelled by SIGINT or SIGTERM and exits with
// its outcome: the whole body of every service's main. A first argument
// naming one of cmds, or `healthcheck` (every binary answers it, see
// RunHealthcheck), runs that command instead.
func Main(fn func(ctx context.Context, args []string) error, cmds ...Command) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[0], os.Args[1:], os.Stderr, fn, cmds)
	stop()
	os.Exit(code)
}

// dispatch runs the command args name, or fn, and returns the exit status.
// An argument that is neither a flag nor a command (a typo such as `lrs
// tenant list`) is refused with the list of commands and status 2, the
// status of a usage error, instead of starting the service: the services'
// flag parsing stops at the first such argument and reports it (see parse).
func dispatch(ctx context.Context, prog string, args []string, stderr io.Writer, fn func(context.Context, []string) error, cmds []Command) int {
	cmds = append(slices.Clip(cmds), Command{Name: "healthcheck", Run: func(ctx context.Context, args []string) error {
		return RunHealthcheck(ctx, args, os.Stdout)
	}})
	run, sub := fn, false
	if len(args) > 0 {
		if i := slices.IndexFunc(cmds, func(c Command) bool { return c.Name == args[0] }); i >= 0 {
			run, args, sub = cmds[i].Run, args[1:], true
		}
	}
	err := run(ctx, args)
	var extra unexpectedArgError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &extra) && !sub:
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name
		}
		slices.Sort(names)
		fmt.Fprintf(stderr, "%s: unknown command %q\ncommands: %s; without one it runs the service (-h lists its flags, <command> -h those of a command); a command comes before its flags\n",
			prog, extra.arg, strings.Join(names, ", "))
		return 2
	case errors.As(err, &extra):
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
}

// unexpectedArgError is an argument left after the flags, which no command
// takes.
type unexpectedArgError struct {
	cmd, arg string
}

func (e unexpectedArgError) Error() string {
	return fmt.Sprintf("%s: unexpected argument %q", e.cmd, e.arg)
}
