// Command lrs-loadgen drives any xAPI LRS over HTTP with realistic
// statements and prints what it measured (see pkg/loadgen and
// docs/performance.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/streamlrs/streamlrs/pkg/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := loadgen.Command(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "lrs-loadgen: %v\n", err)
		os.Exit(1)
	}
}
