# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared settings and helpers for the scripts/testenv scripts. Sourced, not run.
# Every value can be overridden from the environment so that two checkouts (or
# a developer's servers and a CI run) can live side by side on one machine.

# CI may run without HOME; Maven needs it too (for ~/.m2).
if [[ -z "${HOME:-}" ]]; then
	HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"
	export HOME
fi
LRS_CACHE_DIR="${LRS_CACHE_DIR:-$HOME/.cache/streamlrs}"
LRS_TESTENV_DIR="${LRS_TESTENV_DIR:-/tmp/streamlrs-testenv}"
# 4.3.1 is the newest 4.x patch release; its bytecode targets Java 17, which
# is what Debian 12 ships.
LRS_KAFKA_VERSION="${LRS_KAFKA_VERSION:-4.3.1}"

LRS_TESTENV_KAFKA_PORT="${LRS_TESTENV_KAFKA_PORT:-19092}"
LRS_TESTENV_KAFKA_CONTROLLER_PORT="${LRS_TESTENV_KAFKA_CONTROLLER_PORT:-19093}"
# The broker's SASL_SSL listener and its SSL listener that requires client
# certificates (transport-security tests); next to the plaintext port unless set.
LRS_TESTENV_KAFKA_SASL_PORT="${LRS_TESTENV_KAFKA_SASL_PORT:-$((LRS_TESTENV_KAFKA_PORT + 2))}"
LRS_TESTENV_KAFKA_MTLS_PORT="${LRS_TESTENV_KAFKA_MTLS_PORT:-$((LRS_TESTENV_KAFKA_PORT + 3))}"
LRS_TESTENV_POSTGRES_PORT="${LRS_TESTENV_POSTGRES_PORT:-15432}"
LRS_TESTENV_CLICKHOUSE_PORT="${LRS_TESTENV_CLICKHOUSE_PORT:-19000}"
LRS_TESTENV_CLICKHOUSE_HTTP_PORT="${LRS_TESTENV_CLICKHOUSE_HTTP_PORT:-18123}"
# Current ClickHouse releases run in-process through chDB (PyPI), one venv
# per version, behind scripts/testenv/chdb_http.py: 3.7.2 is ClickHouse 25.8
# (the LTS docker-compose.yml names), 4.4.0 the newest release (26.9).
# On by default: `make test` fails if they do not start. LRS_TESTENV_CHDB=0
# leaves them out by hand (their subtests then skip and say so).
LRS_TESTENV_CHDB="${LRS_TESTENV_CHDB:-1}"
LRS_CHDB_LTS_VERSION="${LRS_CHDB_LTS_VERSION:-3.7.2}"
LRS_CHDB_LATEST_VERSION="${LRS_CHDB_LATEST_VERSION:-4.4.0}"
# Next to the ClickHouse HTTP port unless set, so one override moves them all.
LRS_TESTENV_CHDB_LTS_PORT="${LRS_TESTENV_CHDB_LTS_PORT:-$((LRS_TESTENV_CLICKHOUSE_HTTP_PORT + 1))}"
LRS_TESTENV_CHDB_LATEST_PORT="${LRS_TESTENV_CHDB_LATEST_PORT:-$((LRS_TESTENV_CLICKHOUSE_HTTP_PORT + 2))}"
# Seconds each server gets to answer before up.sh gives up.
LRS_TESTENV_START_TIMEOUT="${LRS_TESTENV_START_TIMEOUT:-90}"

KAFKA_LIBS="$LRS_CACHE_DIR/kafka/$LRS_KAFKA_VERSION/libs"
# Written last by install.sh: its presence means the libs folder is complete.
KAFKA_LIBS_DONE="$LRS_CACHE_DIR/kafka/$LRS_KAFKA_VERSION/complete"

# Learning Locker's xAPI statements service (npm xapi-statements) with its
# in-memory repositories and test auth: the other LRS that `lrs pull` is
# tested against. Its port stays clear of the chDB ports and of 18126, where
# docs/analytics.md starts a chDB 2.1.1 by hand.
LRS_LEARNINGLOCKER_VERSION="${LRS_LEARNINGLOCKER_VERSION:-5.0.1}"
LRS_TESTENV_LEARNINGLOCKER_PORT="${LRS_TESTENV_LEARNINGLOCKER_PORT:-$((LRS_TESTENV_CLICKHOUSE_HTTP_PORT + 4))}"
learninglocker_dir() { printf '%s\n' "$LRS_CACHE_DIR/learninglocker/$LRS_LEARNINGLOCKER_VERSION"; }

# chdb_venv VERSION prints the venv folder of that chDB version.
chdb_venv() { printf '%s\n' "$LRS_CACHE_DIR/chdb/$1/venv"; }

log() { printf '[testenv %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now_ms prints a monotonic-enough wall clock in milliseconds for phase timing.
now_ms() { date +%s%3N; }

# elapsed START_MS prints seconds since START_MS with one decimal.
elapsed() {
	local d=$(($(now_ms) - $1))
	printf '%d.%01ds' $((d / 1000)) $((d % 1000 / 100))
}

# pg_bindir prints the bin folder of the newest installed PostgreSQL server.
pg_bindir() {
	local d
	d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
	[[ -n "$d" && -x "$d/initdb" ]] || return 1
	printf '%s\n' "$d"
}

# port_open HOST PORT succeeds when something accepts TCP connections there.
port_open() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# check_testenv_dir refuses paths that an `rm -rf` must never see.
check_testenv_dir() {
	case "$LRS_TESTENV_DIR" in
	"" | / | /tmp | /tmp/ | "$HOME" | "$HOME/") die "refusing to use LRS_TESTENV_DIR='$LRS_TESTENV_DIR'" ;;
	/*) ;;
	*) die "LRS_TESTENV_DIR must be an absolute path, got '$LRS_TESTENV_DIR'" ;;
	esac
}
