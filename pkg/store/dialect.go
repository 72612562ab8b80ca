package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between the backends' SQL, in one place: the SQL
// written once (listings, migrations, tenants, credentials, conflicts) asks
// it for placeholders, values and the few clauses that are not standard.
type dialect struct {
	// name is the backend's folder of migrations.
	name string
	// param renders the n-th (1-based) placeholder; kind is "id", "time" or "".
	param func(n int, kind string) string
	// timeArg converts unix microseconds into the driver's stored value
	// (SQLite keeps times as microseconds, PostgreSQL as timestamptz).
	timeArg func(us int64) any
	// digestArg converts a key digest into the driver's value.
	digestArg func(d [16]byte) any
	// idCol renders a statement id column for scanning into a string.
	idCol func(col string) string
	// isTrue renders the test of a boolean column.
	isTrue func(col string) string
	// scopesCol renders a credential's scopes as a JSON array, and
	// scopesArg is the value that stores them.
	scopesCol string
	scopesArg func(scopes []string) (any, error)
	// migrationsTable creates the table of applied migrations, and
	// migrationLock (when not "") serializes Migrate across processes.
	migrationsTable, migrationLock string
	// foreignKeyViolation reports whether err is a missing referenced row.
	foreignKeyViolation func(err error) bool
	// greatest names the function of the larger of two values.
	greatest string
	// bodyContains tests whether a statement's body holds the text of
	// its one placeholder.
	bodyContains string
}

// bind renders a query written with '?' placeholders in the dialect;
// "?id" is a statement id placeholder (PostgreSQL keeps ids as uuid).
func (d dialect) bind(q string) string {
	var b strings.Builder
	n := 0
	for {
		i := strings.IndexByte(q, '?')
		if i < 0 {
			b.WriteString(q)
			return b.String()
		}
		n++
		b.WriteString(q[:i])
		q = q[i+1:]
		kind := ""
		if strings.HasPrefix(q, "id") {
			kind, q = "id", q[2:]
		}
		b.WriteString(d.param(n, kind))
	}
}

// migrationLockID serializes Migrate across PostgreSQL clients (an arbitrary constant).
const migrationLockID = 7_305_514_221

var pgDialect = dialect{
	name: "postgres",
	param: func(n int, kind string) string {
		if kind == "id" {
			return "$" + strconv.Itoa(n) + "::text::uuid"
		}
		return "$" + strconv.Itoa(n)
	},
	timeArg:   func(us int64) any { return fromMicros(us) },
	digestArg: func(d [16]byte) any { return pgUUID(d) },
	idCol:     func(col string) string { return col + "::text" },
	isTrue:    func(col string) string { return col },
	scopesCol: "array_to_json(scopes)::text",
	// pgx encodes a []string as text[] itself.
	scopesArg: func(scopes []string) (any, error) { return scopes, nil },
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
	migrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(migrationLockID)),
	foreignKeyViolation: func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "23503"
	},
	greatest:     "GREATEST",
	bodyContains: "position(convert_to(?, 'UTF8') IN body) > 0",
}

var sqliteDialect = dialect{
	name:      "sqlite",
	param:     func(int, string) string { return "?" },
	timeArg:   func(us int64) any { return us },
	digestArg: func(d [16]byte) any { return d[:] },
	idCol:     func(col string) string { return col },
	isTrue:    func(col string) string { return col },
	scopesCol: "scopes",
	scopesArg: func(scopes []string) (any, error) {
		b, err := json.Marshal(scopes)
		return string(b), err
	},
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
	foreignKeyViolation: func(err error) bool {
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
	greatest:     "max",
	bodyContains: "instr(CAST(body AS TEXT), ?) > 0",
}
