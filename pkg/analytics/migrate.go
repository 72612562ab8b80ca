package analytics

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	chschema "github.com/streamlrs/streamlrs/schemas/clickhouse"
)

// migration is one NNNN_name.sql file of schemas/clickhouse.
type migration struct {
	version    uint32
	name       string
	minServer  serverVersion // zero: every server
	statements []string
}

type serverVersion struct{ major, minor int }

func (v serverVersion) less(o serverVersion) bool {
	return v.major < o.major || (v.major == o.major && v.minor < o.minor)
}

func (v serverVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

var (
	fileName      = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)
	minServerLine = regexp.MustCompile(`(?m)^-- min_server_version: (\d+)\.(\d+)\s*$`)
)

// loadMigrations reads the migrations in version order. A file whose
// header says `-- min_server_version: X.Y` holds extras only newer servers
// accept; it is applied once the server is at least X.Y.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		mig := migration{version: uint32(v), name: m[2], statements: splitStatements(string(b))}
		if len(mig.statements) == 0 {
			return nil, fmt.Errorf("migration %s has no statements", e.Name())
		}
		if h := minServerLine.FindStringSubmatch(string(b)); h != nil {
			mig.minServer.major, _ = strconv.Atoi(h[1])
			mig.minServer.minor, _ = strconv.Atoi(h[2])
		}
		if len(out) > 0 && out[len(out)-1].version == mig.version {
			return nil, fmt.Errorf("two migrations numbered %04d", mig.version)
		}
		out = append(out, mig)
	}
	return out, nil
}

// splitStatements cuts a file at semicolons that end a line. Comment lines
// are dropped; the DDL never puts a semicolon at the end of a line inside
// a string.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(sql) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			if stmt != "" {
				out = append(out, stmt)
			}
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}

// Migrate applies the migrations not yet recorded in schema_migrations.
// Every statement is idempotent (IF NOT EXISTS), so a run interrupted
// between a statement and its record is safely repeated. Run it from one
// place (the migrate command or job): ClickHouse has no DDL locks.
func (c *ClickHouse) Migrate(ctx context.Context) error {
	migs, err := loadMigrations(chschema.Migrations)
	if err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	server, err := c.serverVersion(ctx)
	if err != nil {
		return err
	}
	return c.migrate(ctx, migs, server)
}

// migrate applies migs as on a server of the given version.
func (c *ClickHouse) migrate(ctx context.Context, migs []migration, server serverVersion) error {
	if err := c.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations
		(version UInt32, name String, applied_at DateTime('UTC'))
		ENGINE = MergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("analytics: create schema_migrations: %w", err)
	}
	applied, err := c.appliedMigrations(ctx)
	if err != nil {
		return err
	}
	for _, m := range migs {
		if slices.Contains(applied, m.version) || server.less(m.minServer) {
			continue
		}
		for i, stmt := range m.statements {
			if err := c.conn.Exec(ctx, stmt); err != nil && !addedBefore(stmt, err) {
				return fmt.Errorf("analytics: migration %04d_%s statement %d: %w", m.version, m.name, i+1, err)
			}
		}
		if err := c.recordMigration(ctx, m); err != nil {
			return fmt.Errorf("analytics: record migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// addColumn is a statement that adds one column and nothing else.
var addColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s+[^,]+$`)

// addedBefore reports an ADD COLUMN refused because the column exists: a
// run interrupted after it and before its migration was recorded. 18.16
// has no ADD COLUMN IF NOT EXISTS to say that in the SQL.
func addedBefore(stmt string, err error) bool {
	return addColumn.MatchString(stmt) && !strings.Contains(strings.ToUpper(stmt), "IF NOT EXISTS") &&
		strings.Contains(err.Error(), "already exists")
}

// recordMigration uses a batch: ClickHouse 18.16 does not answer an INSERT
// whose VALUES come inside the query text over the native protocol.
func (c *ClickHouse) recordMigration(ctx context.Context, m migration) error {
	batch, err := c.conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := batch.Append(m.version, m.name, time.Now()); err != nil {
		_ = batch.Abort()
		return err
	}
	return batch.Send()
}

func (c *ClickHouse) appliedMigrations(ctx context.Context) ([]uint32, error) {
	rows, err := c.conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("analytics: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("analytics: read schema_migrations: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: read schema_migrations: %w", err)
	}
	return out, nil
}

func (c *ClickHouse) serverVersion(ctx context.Context) (serverVersion, error) {
	var s string
	if err := c.conn.QueryRow(ctx, "SELECT version()").Scan(&s); err != nil {
		return serverVersion{}, fmt.Errorf("analytics: server version: %w", err)
	}
	return parseServerVersion(s)
}

func parseServerVersion(s string) (serverVersion, error) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return serverVersion{}, fmt.Errorf("analytics: server version %q", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return serverVersion{}, fmt.Errorf("analytics: server version %q", s)
	}
	return serverVersion{major, minor}, nil
}
