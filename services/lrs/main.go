// Command lrs is the whole LRS in one process: an embedded broker, the xAPI
// API, the store-writer on SQLite (or PostgreSQL) and, when ClickHouse is
// configured, the analytics-writer. `lrs migrate` applies the migrations;
// `lrs tenants ...` and `lrs credentials ...` manage tenants and credentials
// in the store; `lrs backfill` re-reads the topic into ClickHouse (-h on each
// for its flags).
package main

import (
	"context"
	"os"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/service"
)

func main() {
	service.Main(func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			switch args[0] {
			case "backfill":
				return service.RunBackfill(ctx, args[1:], os.Stdout)
			case "migrate":
				return service.RunMigrate(ctx, args[1:], os.Stdout)
			case "tenants":
				return admin.RunTenants(ctx, args[1:], os.Stdout)
			case "credentials":
				return admin.RunCredentials(ctx, args[1:], os.Stdout)
			}
		}
		return service.RunLRS(ctx, args, os.Stdout)
	})
}
