#!/usr/bin/env bash
# Stops the servers that up.sh started in $LRS_TESTENV_DIR (politely first,
# then by force) and removes that folder. Safe to run when nothing is up, when
# up.sh failed halfway, and twice in a row.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

check_testenv_dir
dir="$LRS_TESTENV_DIR"
# Seconds a server gets to stop after SIGTERM before it is killed.
grace="${LRS_TESTENV_STOP_TIMEOUT:-15}"

if [[ ! -d "$dir" ]]; then
	log "nothing to stop in $dir"
	exit 0
fi

# ours PID succeeds when PID is alive and was started with a path inside
# $dir: a pid file left by a dead server must not make us signal whatever
# process reused its number.
ours() {
	[[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$dir/"
}

pids=()
names=()
for name in kafka clickhouse chdb-lts chdb-latest learninglocker; do
	f="$dir/$name/pid"
	[[ -f "$f" ]] || continue
	pid="$(cat "$f")"
	if ours "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		pids+=("$pid")
		names+=("$name")
	fi
done

pgbin="$(pg_bindir || true)"
pgdata="$dir/postgres/data"
if [[ -f "$pgdata/postmaster.pid" ]]; then
	pgpid="$(head -n 1 "$pgdata/postmaster.pid")"
	# pg_ctl runs as the owner of the data folder; fast mode disconnects clients.
	pg_stop=("$pgbin/pg_ctl" -D "$pgdata" -m fast -w -t "$grace" stop)
	if [[ "$(id -u)" == 0 ]]; then
		runuser -u postgres -- "${pg_stop[@]}" >/dev/null 2>&1 || true
	else
		"${pg_stop[@]}" >/dev/null 2>&1 || true
	fi
	if ours "$pgpid"; then
		log "PostgreSQL did not stop in ${grace}s: killing $pgpid"
		kill -KILL "$pgpid" 2>/dev/null || true
	fi
	names+=(postgres)
fi

deadline=$((SECONDS + grace))
for i in "${!pids[@]}"; do
	while ours "${pids[$i]}" && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if ours "${pids[$i]}"; then
		log "${names[$i]} did not stop in ${grace}s: killing ${pids[$i]}"
		kill -KILL "${pids[$i]}" 2>/dev/null || true
	fi
done
# A killed process releases its files only once it is gone.
for pid in "${pids[@]}"; do
	while [[ -e "/proc/$pid" ]] && ours "$pid"; do sleep 0.1; done
done

rm -rf "$dir"
log "stopped ${names[*]:-nothing} and removed $dir"
