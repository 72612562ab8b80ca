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
start_embedded "$bin" embedded

scenarios "http://127.0.0.1:$BENCH_EMBEDDED_PORT/xapi" embedded "$bin/lrs-loadgen" -proc "lrs=$pid"
