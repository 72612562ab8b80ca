#!/usr/bin/env bash
# distributed.sh BIN_DIR runs the scenario against lrs-ingest,
# lrs-store-writer and lrs-analytics-writer as separate processes on the
# real Kafka, PostgreSQL and ClickHouse whose addresses scripts/testenv put
# in the LRS_TEST_* variables (run it through scripts/testenv/run.sh). It
# stops the three services again whatever happens.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

bin="$(cd "${1:?usage: $0 BIN_DIR}" && pwd)"
: "${LRS_TEST_KAFKA_BROKERS:?run through scripts/testenv/run.sh}" "${LRS_TEST_POSTGRES_DSN:?}" "${LRS_TEST_CLICKHOUSE_DSN:?}" "${LRS_TESTENV_DIR:?}"
mkdir -p "$BENCH_OUT"
logs="$(mktemp -d /tmp/streamlrs-bench-services.XXXXXX)"
pids=()
cleanup() {
	((${#pids[@]} == 0)) || stop_pids "${pids[@]}"
	rm -rf "$logs"
}
trap cleanup EXIT

export LRS_KAFKA_BROKERS="$LRS_TEST_KAFKA_BROKERS" LRS_LOG_LEVEL=warn
export LRS_BOOTSTRAP_KEY="$BENCH_KEY" LRS_BOOTSTRAP_SECRET="$BENCH_SECRET"

# The store-writer first: it applies the store's migrations, which ingest
# needs for its credentials.
LRS_STORE_DSN="$LRS_TEST_POSTGRES_DSN" "$bin/lrs-store-writer" -http-addr "127.0.0.1:$BENCH_STORE_WRITER_PORT" >"$logs/store-writer.log" 2>&1 &
sw=$!
pids+=("$sw")
wait_ready lrs-store-writer "$sw" "http://127.0.0.1:$BENCH_STORE_WRITER_PORT/readyz"
LRS_CLICKHOUSE_DSN="$LRS_TEST_CLICKHOUSE_DSN" "$bin/lrs-analytics-writer" -http-addr "127.0.0.1:$BENCH_ANALYTICS_WRITER_PORT" >"$logs/analytics-writer.log" 2>&1 &
aw=$!
pids+=("$aw")
LRS_STORE_DSN="$LRS_TEST_POSTGRES_DSN" "$bin/lrs-ingest" -http-addr "127.0.0.1:$BENCH_INGEST_PORT" >"$logs/ingest.log" 2>&1 &
in=$!
pids+=("$in")
wait_ready lrs-analytics-writer "$aw" "http://127.0.0.1:$BENCH_ANALYTICS_WRITER_PORT/readyz"
wait_ready lrs-ingest "$in" "http://127.0.0.1:$BENCH_INGEST_PORT/readyz"

pg="$(head -n 1 "$LRS_TESTENV_DIR/postgres/data/postmaster.pid")"
scenarios "http://127.0.0.1:$BENCH_INGEST_PORT/xapi" distributed "$bin/lrs-loadgen" \
	-clickhouse-dsn "$LRS_TEST_CLICKHOUSE_DSN" \
	-proc "lrs-ingest=$in" -proc "lrs-store-writer=$sw" -proc "lrs-analytics-writer=$aw" \
	-proc "kafka=$(cat "$LRS_TESTENV_DIR/kafka/pid")" -proc "postgres=$pg+" \
	-proc "clickhouse=$(cat "$LRS_TESTENV_DIR/clickhouse/pid")"
