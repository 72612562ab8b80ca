// Command lrs-ingest is the xAPI HTTP API: it validates statements and
// publishes them to Kafka, and serves reads from the statement store.
package main

import (
	"context"
	"os"

	"github.com/streamlrs/streamlrs/pkg/service"
)

func main() {
	service.Main(func(ctx context.Context, args []string) error { return service.RunIngest(ctx, args, os.Stdout) })
}
