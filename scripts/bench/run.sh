#!/usr/bin/env bash
# run.sh BIN_DIR is `make bench`: the fixed scenario (see lib.sh) against
# the embedded lrs, then against the separate services on real Kafka,
# PostgreSQL and ClickHouse started by scripts/testenv in their own folder
# and on their own ports (so a `make test` running beside it is never
# disturbed), then both tables. BIN_DIR holds lrs, lrs-ingest,
# lrs-store-writer, lrs-analytics-writer and lrs-loadgen.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

bin="$(cd "${1:?usage: $0 BIN_DIR}" && pwd)"
for b in lrs lrs-ingest lrs-store-writer lrs-analytics-writer lrs-loadgen; do
	[[ -x "$bin/$b" ]] || die "$bin/$b is missing: run make build first"
done
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
rm -rf "$BENCH_OUT"
mkdir -p "$BENCH_OUT"
t0=$SECONDS
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

"$here/embedded.sh" "$bin"

export LRS_TESTENV_DIR="${BENCH_TESTENV_DIR:-/tmp/bench-testenv}"
export LRS_TESTENV_KAFKA_PORT="${BENCH_KAFKA_PORT:-26092}"
export LRS_TESTENV_KAFKA_CONTROLLER_PORT="${BENCH_KAFKA_CONTROLLER_PORT:-26093}"
export LRS_TESTENV_POSTGRES_PORT="${BENCH_POSTGRES_PORT:-26432}"
export LRS_TESTENV_CLICKHOUSE_PORT="${BENCH_CLICKHOUSE_PORT:-26900}"
export LRS_TESTENV_CLICKHOUSE_HTTP_PORT="${BENCH_CLICKHOUSE_HTTP_PORT:-26123}"
"$here/../testenv/run.sh" "$here/distributed.sh" "$bin"

echo
echo "== embedded: lrs (embedded broker, SQLite) =="
"$bin/lrs-loadgen" report "$BENCH_OUT"/embedded-*.json
echo
echo "== distributed: lrs-ingest, lrs-store-writer, lrs-analytics-writer on Kafka, PostgreSQL, ClickHouse =="
"$bin/lrs-loadgen" report "$BENCH_OUT"/distributed-*.json
echo
log "done in $((SECONDS - t0)) s; JSON results in $BENCH_OUT; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
