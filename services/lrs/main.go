// Command lrs is the whole LRS in one process: an embedded broker, the xAPI
// API, the store-writer on SQLite (or PostgreSQL) and, when ClickHouse is
// configured, the analytics-writer. `lrs migrate` applies the migrations.
package main

import (
	"context"
	"os"

	"github.com/streamlrs/streamlrs/pkg/service"
)

func main() {
	service.Main(func(ctx context.Context, args []string) error {
		if len(args) > 0 && args[0] == "migrate" {
			return service.RunMigrate(ctx, args[1:], os.Stdout)
		}
		return service.RunLRS(ctx, args, os.Stdout)
	})
}
