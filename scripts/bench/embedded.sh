#!/usr/bin/env bash
# embedded.sh BIN_DIR runs the scenario against the all-in-one lrs binary
# (embedded broker and SQLite, as `make run` starts it) with a throwaway
# data folder, and stops it again whatever happens.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

bin="$(cd "${1:?usage: $0 BIN_DIR}" && pwd)"
mkdir -p "$BENCH_OUT"
data="$(mktemp -d /tmp/streamlrs-bench-embedded.XXXXXX)"
pid=""
cleanup() {
	[[ -z "$pid" ]] || stop_pids "$pid"
	rm -rf "$data"
}
trap cleanup EXIT

LRS_BOOTSTRAP_KEY="$BENCH_KEY" LRS_BOOTSTRAP_SECRET="$BENCH_SECRET" \
	"$bin/lrs" -http-addr "127.0.0.1:$BENCH_EMBEDDED_PORT" -store-dsn "sqlite:$data/lrs.db" \
	-broker-dir "$data/broker" -log-level warn >"$data/lrs.log" 2>&1 &
pid=$!
wait_ready lrs "$pid" "http://127.0.0.1:$BENCH_EMBEDDED_PORT/readyz"

scenarios "http://127.0.0.1:$BENCH_EMBEDDED_PORT/xapi" embedded "$bin/lrs-loadgen" -proc "lrs=$pid"
