# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared settings and helpers of the scripts/bench scripts. Sourced, not run.
# Every value can be overridden from the environment.

# Seconds measured per scenario, after a warmup that is not counted.
BENCH_DURATION="${BENCH_DURATION:-8s}"
BENCH_WARMUP="${BENCH_WARMUP:-2s}"
# Where the JSON results go (one file per scenario and target).
BENCH_OUT="${BENCH_OUT:-/tmp/streamlrs-bench}"
# The credential the LRS under test is started with.
BENCH_KEY="${BENCH_KEY:-bench}"
BENCH_SECRET="${BENCH_SECRET:-bench-secret}"
# Ports of the LRS processes: away from the defaults (8080-8082) and from
# `make test`, so a benchmark never collides with either.
BENCH_EMBEDDED_PORT="${BENCH_EMBEDDED_PORT:-26090}"
BENCH_INGEST_PORT="${BENCH_INGEST_PORT:-26080}"
BENCH_STORE_WRITER_PORT="${BENCH_STORE_WRITER_PORT:-26081}"
BENCH_ANALYTICS_WRITER_PORT="${BENCH_ANALYTICS_WRITER_PORT:-26082}"
# The issue's targets for the distributed topology, in statements/s: the
# open-loop scenarios run at half of them (or at half of what the
# closed-loop scenario reached, when that is less).
BENCH_TARGET_SINGLE="${BENCH_TARGET_SINGLE:-15000}"
BENCH_TARGET_BATCH="${BENCH_TARGET_BATCH:-50000}"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_ready NAME PID URL waits until URL answers 200, failing early if PID
# dies, and after 60 s at the latest.
wait_ready() {
	local name="$1" pid="$2" url="$3" deadline=$((SECONDS + 60))
	until curl -fsS -o /dev/null "$url" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) exited before it was ready"
		((SECONDS < deadline)) || die "$name not ready at $url after 60 s"
		sleep 0.2
	done
	log "$name ready (pid $pid)"
}

# stop_pids PID... sends SIGTERM to each process this script started and
# waits for it (they finish their work in flight and commit).
stop_pids() {
	local pid
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "$@"; do
		wait "$pid" 2>/dev/null || true
	done
}

# start_embedded BIN NAME [FLAG...] starts BIN/lrs, the all-in-one binary,
# on $BENCH_EMBEDDED_PORT with a throwaway data folder ($data, named after
# NAME) and the bench credential, waits until it is ready and sets $pid.
# The process and its folder go when the script exits, whatever happens.
start_embedded() {
	local bin="$1" name="$2"
	shift 2
	data="$(mktemp -d "/tmp/streamlrs-bench-$name.XXXXXX")"
	pid=""
	trap 'if [[ -n "$pid" ]]; then stop_pids "$pid"; fi; rm -rf "$data"' EXIT
	LRS_BOOTSTRAP_KEY="$BENCH_KEY" LRS_BOOTSTRAP_SECRET="$BENCH_SECRET" \
		"$bin/lrs" -http-addr "127.0.0.1:$BENCH_EMBEDDED_PORT" -store-dsn "sqlite:$data/lrs.db" \
		-broker-dir "$data/broker" -log-level warn "$@" >"$data/lrs.log" 2>&1 &
	pid=$!
	wait_ready lrs "$pid" "http://127.0.0.1:$BENCH_EMBEDDED_PORT/readyz"
}

# half_rate JSON TARGET prints the open-loop rate: half of TARGET, or half
# of the accepted rate the closed-loop run in JSON reached when that is less
# (running above what the LRS can take measures only a growing queue).
half_rate() {
	jq -r --argjson target "$2" '[($target / 2), (.accepted_per_s / 2)] | min | floor | [., 1] | max' "$1"
}

# scenarios URL NAME PREFIX [LOADGEN FLAGS...] runs the fixed scenario
# against the xAPI endpoint URL and writes $BENCH_OUT/NAME-*.json:
#   post-max    single-statement POSTs, closed loop, 64 clients
#   batch-max   POSTs of 100 statements, closed loop, 8 clients
#   post-half   single-statement POSTs, open loop at half the target rate
#   batch-half  batches of 100, open loop at half the target rate
#   post-ids    post-max with client-chosen statement ids (what most real
#               clients send: TinCanJS, xAPIWrapper, cmi5 content, LMS senders)
#   batch-ids   batch-max with client-chosen ids
# The client-id scenarios follow the LRS-assigned ones of the same shape in
# one run, so their ratio is meaningful on a machine whose absolute figures
# vary from day to day. An unmeasured warm-up run goes first: a freshly
# started JVM broker costs about twice the CPU for its first seconds.
# The extra flags (-proc, -clickhouse-dsn) go to every run. Each run first
# waits until the LRS has worked off the previous run's backlog (-settle),
# so that it measures its own load. A statement not visible 10 s after its
# acknowledgement counts as missing, which also bounds how long a run waits
# for an overloaded LRS to drain.
scenarios() {
	local url="$1" name="$2" loadgen="$3"
	shift 3
	local common=(-url "$url" -auth "$BENCH_KEY:$BENCH_SECRET" -duration "$BENCH_DURATION" -warmup "$BENCH_WARMUP"
		-freshness-rate 20 -freshness-timeout 10s -query-rate 20 -settle 60s -quiet "$@")
	local out="$BENCH_OUT/$name"
	log "$name: warm-up (not reported)"
	"$loadgen" "${common[@]}" -label "$name warm-up" -seed 9 -mode post -concurrency 64 -duration "$BENCH_WARMUP" -out "$BENCH_OUT/warmup-$name.json"
	log "$name: post-max"
	"$loadgen" "${common[@]}" -label "$name post-max" -seed 1 -mode post -concurrency 64 -out "$out-1-post-max.json"
	log "$name: batch-max"
	"$loadgen" "${common[@]}" -label "$name batch-max" -seed 2 -mode batch -batch 100 -concurrency 8 -out "$out-2-batch-max.json"
	log "$name: post-ids"
	"$loadgen" "${common[@]}" -label "$name post-ids" -seed 5 -mode post -ids -concurrency 64 -out "$out-5-post-ids.json"
	log "$name: batch-ids"
	"$loadgen" "${common[@]}" -label "$name batch-ids" -seed 6 -mode batch -batch 100 -ids -concurrency 8 -out "$out-6-batch-ids.json"
	local rate
	rate="$(half_rate "$out-1-post-max.json" "$BENCH_TARGET_SINGLE")"
	log "$name: post-half at $rate statements/s"
	"$loadgen" "${common[@]}" -label "$name post-half" -seed 3 -mode post -rate "$rate" -concurrency 256 -out "$out-3-post-half.json"
	rate="$(half_rate "$out-2-batch-max.json" "$BENCH_TARGET_BATCH")"
	log "$name: batch-half at $rate statements/s"
	"$loadgen" "${common[@]}" -label "$name batch-half" -seed 4 -mode batch -batch 100 -rate "$rate" -concurrency 64 -out "$out-4-batch-half.json"
}
