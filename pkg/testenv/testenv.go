// Package testenv gives integration tests the real Kafka, PostgreSQL and
// ClickHouse servers that `make test` starts (scripts/testenv). Each helper
// reads the server's address from the environment; when it is unset the test
// is skipped, unless LRS_TEST_REQUIRE_SERVERS=1 (set by `make test`), where a
// missing server fails the test instead of hiding it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
)

const (
	// EnvKafka holds a comma-separated list of broker addresses.
	EnvKafka = "LRS_TEST_KAFKA_BROKERS"
	// EnvPostgres holds a DSN of a superuser able to create databases.
	EnvPostgres = "LRS_TEST_POSTGRES_DSN"
	// EnvClickHouse holds a native-protocol DSN (clickhouse://host:port/db)
	// of the ClickHouse server (Debian's 18.16 under `make test`).
	EnvClickHouse = "LRS_TEST_CLICKHOUSE_DSN"
	// EnvClickHouseLTS and EnvClickHouseLatest hold HTTP DSNs
	// (http://host:port/db) of current ClickHouse releases: chDB (the engine
	// in-process) behind scripts/testenv/chdb_http.py, at the 25.8 LTS and
	// at the newest release.
	EnvClickHouseLTS    = "LRS_TEST_CLICKHOUSE_LTS_DSN"
	EnvClickHouseLatest = "LRS_TEST_CLICKHOUSE_LATEST_DSN"
	// EnvClickHouseChDB=off says the test env was started without the chDB
	// engines on purpose: their subtests skip, naming it, instead of failing.
	EnvClickHouseChDB = "LRS_TEST_CLICKHOUSE_CHDB"
	// EnvChDBFull=1 runs the ForEachClickHouseFull tests on the chDB
	// engines too (by hand: several minutes more).
	EnvChDBFull = "LRS_TEST_CHDB_FULL"
	// EnvKafkaSASL holds the brokers' SASL_SSL listener (PLAIN,
	// SCRAM-SHA-256 and SCRAM-SHA-512 for user "lrs").
	EnvKafkaSASL = "LRS_TEST_KAFKA_SASL_BROKERS"
	// EnvKafkaMTLS holds the brokers' SSL listener that requires a client
	// certificate.
	EnvKafkaMTLS = "LRS_TEST_KAFKA_MTLS_BROKERS"
	// EnvKafkaTLSDir holds ca.pem, client.pem, client.key and sasl-password.
	EnvKafkaTLSDir = "LRS_TEST_KAFKA_TLS_DIR"
	// EnvLearningLocker holds the xAPI base URL of Learning Locker's
	// statements service (in memory; any Basic credentials).
	EnvLearningLocker = "LRS_TEST_LEARNINGLOCKER_URL"
	// EnvChromium holds the path of the Chromium binary the console's
	// browser tests drive headless (Debian's chromium package).
	EnvChromium = "LRS_TEST_CHROMIUM"
	// EnvRequire turns a missing server into a test failure.
	EnvRequire = "LRS_TEST_REQUIRE_SERVERS"
)

func lookup(t testing.TB, env string) string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(env))
	if v != "" {
		return v
	}
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s is not set but %s=1: the server this test needs was not started", env, EnvRequire)
	}
	t.Skipf("%s not set; run under `make test` to exercise the real server", env)
	return ""
}

// Required reports whether missing servers must fail tests.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// UniqueName returns prefix plus a random suffix, usable as a topic, group or
// database name so that tests never see each other's data.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// KafkaBrokers returns the real broker addresses.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	return strings.Split(lookup(t, EnvKafka), ",")
}

// SecuredKafka is the real broker's TLS and SASL listeners, with the CA and
// the credentials that scripts/testenv/up.sh made for this run.
type SecuredKafka struct {
	SASLBrokers, MTLSBrokers     []string
	CAFile, CertFile, KeyFile    string
	User, Password, PasswordFile string
}

// KafkaSecured returns the secured listeners of the real broker.
func KafkaSecured(t testing.TB) SecuredKafka {
	t.Helper()
	dir := lookup(t, EnvKafkaTLSDir)
	pw, err := os.ReadFile(dir + "/sasl-password")
	if err != nil {
		t.Fatalf("SASL password of the test broker: %v", err)
	}
	return SecuredKafka{
		SASLBrokers: strings.Split(lookup(t, EnvKafkaSASL), ","), MTLSBrokers: strings.Split(lookup(t, EnvKafkaMTLS), ","),
		CAFile: dir + "/ca.pem", CertFile: dir + "/client.pem", KeyFile: dir + "/client.key",
		User: "lrs", Password: string(pw), PasswordFile: dir + "/sasl-password",
	}
}

// LearningLockerURL returns the xAPI base URL of the Learning Locker
// started for the tests. It keeps every statement it is sent, for every
// test: a test must tell its own statements from others'.
func LearningLockerURL(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvLearningLocker)
}

// Chromium returns the path of the headless browser the console's tests
// drive (scripts/testenv installs Debian's chromium).
func Chromium(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvChromium)
}

// PostgresDSN creates a fresh database on the real PostgreSQL server, drops it
// when the test ends, and returns a DSN pointing at it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := lookup(t, EnvPostgres)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to PostgreSQL %s: %v", base, err)
	}
	defer conn.Close(ctx)
	name := UniqueName("lrs_test")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}

// ClickHouseDSN creates a fresh database on the real ClickHouse server, drops
// it when the test ends, and returns a DSN pointing at it.
func ClickHouseDSN(t testing.TB) string {
	t.Helper()
	return freshClickHouseDatabase(t, EnvClickHouse, lookup(t, EnvClickHouse))
}

// clickHouseEngines are the ClickHouse releases every ClickHouse test runs
// on, oldest first.
var clickHouseEngines = []string{EnvClickHouse, EnvClickHouseLTS, EnvClickHouseLatest}

// ForEachClickHouse runs test once per ClickHouse engine, as a subtest named
// by the engine's version ("ch18.16", "ch25.8", ...), each with a fresh
// database (see ClickHouseDSN). An engine whose variable is unset is skipped,
// or fails under LRS_TEST_REQUIRE_SERVERS=1. It is for the tests of what
// differs between releases (migrations, view results, rollups, settings).
func ForEachClickHouse(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	forEachClickHouse(t, false, test)
}

// ForEachClickHouseFull is ForEachClickHouse for tests of volume and
// pipeline behaviour rather than of SQL a release may treat differently:
// they run on the chDB engines only with LRS_TEST_CHDB_FULL=1, which keeps
// `make test` short (each chDB query costs tens of milliseconds), and
// their chDB subtests skip otherwise, naming the variable.
func ForEachClickHouseFull(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	forEachClickHouse(t, os.Getenv(EnvChDBFull) != "1", test)
}

func forEachClickHouse(t *testing.T, onlyServer bool, test func(t *testing.T, dsn string)) {
	t.Helper()
	for _, env := range clickHouseEngines {
		base := strings.TrimSpace(os.Getenv(env))
		name := env
		if base != "" {
			name = "ch" + clickHouseVersion(t, env, base)
		}
		t.Run(name, func(t *testing.T) {
			if env != EnvClickHouse && os.Getenv(EnvClickHouseChDB) == "off" {
				t.Skipf("chDB engines turned off (LRS_TESTENV_CHDB=0): %s not tested", env)
			}
			if env != EnvClickHouse && onlyServer {
				t.Skipf("not a release-specific test: on chDB only with %s=1", EnvChDBFull)
			}
			base := lookup(t, env)
			test(t, freshClickHouseDatabase(t, env, base))
		})
	}
}

// AnotherClickHouseDatabase creates one more fresh database on the server of
// dsn (one from ForEachClickHouse), for subtests that each need their own.
func AnotherClickHouseDatabase(t testing.TB, dsn string) string {
	t.Helper()
	return freshClickHouseDatabase(t, "the engine's DSN", dsn)
}

var versions sync.Map // DSN → "major.minor"

// clickHouseVersion names an engine by its major.minor version.
func clickHouseVersion(t *testing.T, env, dsn string) string {
	t.Helper()
	if v, ok := versions.Load(dsn); ok {
		return v.(string)
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", env, err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("open ClickHouse %s: %v", dsn, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		t.Fatalf("ClickHouse %s (%s): version: %v", dsn, env, err)
	}
	if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 {
		v = parts[0] + "." + parts[1]
	}
	versions.Store(dsn, v)
	return v
}

func freshClickHouseDatabase(t testing.TB, env, base string) string {
	t.Helper()
	opts, err := clickhouse.ParseDSN(base)
	if err != nil {
		t.Fatalf("parse %s: %v", env, err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("open ClickHouse %s: %v", base, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := UniqueName("lrs_test")
	if err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create ClickHouse database %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := clickhouse.Open(opts)
		if err != nil {
			t.Logf("drop ClickHouse database %s: %v", name, err)
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Logf("drop ClickHouse database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", env, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Context returns a context bounded by d and cancelled at the end of the test.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ClickHouseConn opens a connection to dsn, closed when the test ends.
func ClickHouseConn(t testing.TB, dsn string) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse ClickHouse DSN: %v", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("open ClickHouse: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
