#!/usr/bin/env bash
# run.sh CMD [ARGS...] runs CMD against freshly started real servers:
# install.sh, down.sh (leftovers of an earlier run), up.sh, then CMD with the
# variables of $LRS_TESTENV_DIR/env, and down.sh whatever happens. It exits
# with CMD's status and prints how long each phase took.
#
# Runs that share one LRS_TESTENV_DIR (and so the same ports) take turns: a
# second run waits for the first to finish instead of killing its servers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

(($# > 0)) || die "usage: $0 CMD [ARGS...]"
check_testenv_dir

lock="$LRS_TESTENV_DIR.lock"
exec 9>"$lock"
if ! flock -n 9; then
	log "another run holds $lock; waiting for it"
	flock -w "${LRS_TESTENV_LOCK_TIMEOUT:-3600}" 9 || die "gave up waiting for $lock"
fi

timings=()
# phase NAME CMD... runs CMD and records its duration. The lock descriptor is
# closed for the child so that servers left running can never hold the lock.
phase() {
	local name="$1" start rc=0
	shift
	start="$(now_ms)"
	"$@" 9>&- || rc=$?
	timings+=("$name $(elapsed "$start")")
	return "$rc"
}

t_all="$(now_ms)"
# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
	local rc=$?
	trap - EXIT INT TERM
	phase down "$here/down.sh" || log "down.sh failed"
	log "timings: ${timings[*]} total $(elapsed "$t_all")"
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phase install "$here/install.sh"
phase cleanup "$here/down.sh"
phase up "$here/up.sh"
# shellcheck source=/dev/null
. "$LRS_TESTENV_DIR/env"

status=0
phase cmd "$@" || status=$?
log "$* exited with status $status"
exit "$status"
