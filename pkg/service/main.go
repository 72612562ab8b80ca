package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main runs fn with a context cancelled by SIGINT or SIGTERM and exits with
// its outcome: the whole body of every service's main. Every binary also
// answers `healthcheck` (see RunHealthcheck).
func Main(fn func(ctx context.Context, args []string) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "healthcheck" {
		fn = func(ctx context.Context, args []string) error { return RunHealthcheck(ctx, args[1:], os.Stdout) }
	}
	err := fn(ctx, args)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[0], err)
		os.Exit(1)
	}
}
