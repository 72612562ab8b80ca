#!/usr/bin/env bash
# rss.sh BIN_DIR runs the embedded lrs (throwaway data folder) under an
# open-loop load with client-chosen ids and prints its memory split every
# RSS_EVERY seconds as a table: RSS, anonymous and file-backed pages, Go
# heap in use, database and broker log sizes. Not part of `make test`.
#   RSS_DURATION (45m), RSS_RATE (500 statements/s), RSS_EVERY (30),
#   RSS_LRS_FLAGS (-broker-retention-bytes 268435456: reach the bound early)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

bin="$(cd "${1:?usage: $0 BIN_DIR}" && pwd)"
# shellcheck disable=SC2086 # the flags are words
start_embedded "$bin" rss ${RSS_LRS_FLAGS:--broker-retention-bytes 268435456}
base="http://127.0.0.1:$BENCH_EMBEDDED_PORT"
"$bin/lrs-loadgen" -url "$base/xapi" -auth "$BENCH_KEY:$BENCH_SECRET" -duration "${RSS_DURATION:-45m}" -warmup 0s \
	-mode post -ids -rate "${RSS_RATE:-500}" -concurrency 64 -freshness-rate 1 -query-rate 1 -quiet \
	-out "$data/run.json" >/dev/null &
lg=$!
mb() { awk -v f="$1" '$1 == f":" {print int($2 / 1024)}' "/proc/$pid/status"; }
echo "t_s rss_mb anon_mb file_mb go_heap_mb db_mb broker_mb"
t0=$SECONDS
while kill -0 "$lg" 2>/dev/null; do
	heap="$(curl -s "$base/metrics" | awk '/^go_memstats_heap_inuse_bytes/ {print int($2 / 1048576)}')"
	db="$(du -sm "$data"/lrs.db* | awk '{s += $1} END {print s}')"
	echo "$((SECONDS - t0)) $(mb VmRSS) $(mb RssAnon) $(mb RssFile) $heap $db $(du -sm "$data/broker" | awk '{print $1}')"
	sleep "${RSS_EVERY:-30}"
done
wait "$lg"
"$bin/lrs-loadgen" report "$data/run.json"
