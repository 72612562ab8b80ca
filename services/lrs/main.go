// Command lrs is the whole LRS in one process: an embedded broker, the xAPI
// API, the store-writer on SQLite (or PostgreSQL) and, when ClickHouse is
// configured, the analytics-writer, and the forwarder. `lrs migrate` applies
// the migrations; `lrs tenants ...`, `lrs credentials ...` and `lrs
// forwarding ...` manage tenants, credentials and forwarding rules in the
// store; `lrs backfill` re-reads the topic into ClickHouse; `lrs
// import` sends statements from files to an LRS, `lrs pull` those of another
// LRS, `lrs pulls` configures a tenant's sources; `lrs erase` and `lrs
// retention` erase a learner and set a tenant's retention through a running
// LRS's admin API (-h on each for its flags).
package main

import (
	"context"
	"os"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/importer"
	"github.com/streamlrs/streamlrs/pkg/service"
)

func main() {
	service.Main(func(ctx context.Context, args []string) error { return service.RunLRS(ctx, args, os.Stdout) },
		service.Command{Name: "backfill", Run: func(ctx context.Context, args []string) error { return service.RunBackfill(ctx, args, os.Stdout) }},
		service.Command{Name: "migrate", Run: func(ctx context.Context, args []string) error { return service.RunMigrate(ctx, args, os.Stdout) }},
		service.Command{Name: "tenants", Run: func(ctx context.Context, args []string) error { return admin.RunTenants(ctx, args, os.Stdout) }},
		service.Command{Name: "credentials", Run: func(ctx context.Context, args []string) error { return admin.RunCredentials(ctx, args, os.Stdout) }},
		service.Command{Name: "forwarding", Run: func(ctx context.Context, args []string) error { return admin.RunForwarding(ctx, args, os.Stdout) }},
		service.Command{Name: "pulls", Run: func(ctx context.Context, args []string) error { return admin.RunPulls(ctx, args, os.Stdout) }},
		service.Command{Name: "erase", Run: func(ctx context.Context, args []string) error { return admin.RunErase(ctx, args, os.Stdout) }},
		service.Command{Name: "retention", Run: func(ctx context.Context, args []string) error { return admin.RunRetention(ctx, args, os.Stdout) }},
		service.Command{Name: "import", Run: func(ctx context.Context, args []string) error {
			return importer.RunImport(ctx, args, os.Stdout, os.Stderr)
		}},
		service.Command{Name: "pull", Run: func(ctx context.Context, args []string) error {
			return importer.RunPull(ctx, args, os.Stdout, os.Stderr)
		}},
	)
}
