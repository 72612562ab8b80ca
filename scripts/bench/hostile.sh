#!/usr/bin/env bash
# hostile.sh BIN_DIR measures what a hostile client costs the all-in-one
# lrs (throwaway data folder), the security issue's three figures:
#   - CPU of 64 wrong-secret requests/s for 20 s, against a generated
#     credential (fast hash) and against the bootstrap one (a chosen,
#     short secret under PBKDF2, throttled);
#   - the RSS peak above idle of a 10 MB body of 5M tiny values, one at a
#     time and three at once;
#   - the answer time of a forged 2 KB `more` cursor.
# Needs curl and python3 (for the bodies). Not part of `make test`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

bin="$(cd "${1:?usage: $0 BIN_DIR}" && pwd)"
admin="hostile-bench-admin-token"
LRS_ADMIN_TOKEN="$admin" start_embedded "$bin" hostile
base="http://127.0.0.1:$BENCH_EMBEDDED_PORT"
xapi=(-H 'X-Experience-API-Version: 1.0.3')

# cpu_ticks prints the user+system clock ticks the lrs process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss_kb() { awk -v f="$1" '$1 == f":" {print $2}' "/proc/$pid/status"; }

# wrong_secrets KEY LABEL sends 64 requests/s for 20 s with a wrong secret
# on one keep-alive connection and prints the CPU they cost.
wrong_secrets() {
	local key="$1" label="$2" n=1280 t0 c0 c1 t1 codes
	c0="$(cpu_ticks)"
	t0="$(date +%s.%N)"
	codes="$(curl -s "${xapi[@]}" -u "$key:not-the-secret-at-all" --rate 64/s \
		-o /dev/null -w '%{http_code}\n' "$base/xapi/statements?limit=1&n=[1-$n]" | sort | uniq -c | awk '{printf "%s: %s ", $2, $1}')"
	t1="$(date +%s.%N)"
	c1="$(cpu_ticks)"
	awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" -v n="$n" -v l="$label" -v codes="$codes" \
		'BEGIN {s = t1 - t0; printf "wrong secrets, %s: %d requests in %.1f s (%.0f/s; answers %s): %.1f %% of a core\n", l, n, s, n / s, codes, 100 * c / hz / s}'
}

cred="$(curl -fsS -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -X POST "$base/admin/credentials" \
	-d '{"tenant":"default","label":"hostile bench","scopes":["statements/write","statements/read"]}')"
gkey="$(jq -r .key <<<"$cred")"
gsecret="$(jq -r .secret <<<"$cred")"
# One right request first, so that idle costs (the first verification)
# are not counted.
curl -fsS "${xapi[@]}" -u "$gkey:$gsecret" -o /dev/null "$base/xapi/statements?limit=1"
sleep 2
wrong_secrets "$gkey" "generated credential (SHA-256)"
wrong_secrets "$BENCH_KEY" "bootstrap credential (PBKDF2, throttled)"

python3 -c 'import sys; sys.stdout.write("[" + ",".join(["0"] * 5_000_000) + "]")' >"$data/zeros.json"
sleep 1
idle="$(rss_kb VmRSS)"
echo 5 >"/proc/$pid/clear_refs" # resets VmHWM, the peak
code="$(curl -s "${xapi[@]}" -u "$gkey:$gsecret" -H 'Content-Type: application/json' --data-binary "@$data/zeros.json" \
	-o /dev/null -w '%{http_code} in %{time_total} s' "$base/xapi/statements")"
peak="$(rss_kb VmHWM)"
echo "10 MB body of 5M zeros: $code; RSS idle $((idle / 1024)) MB, peak $((peak / 1024)) MB: $(((peak - idle) / 1024)) MB above idle"
sleep 2
idle="$(rss_kb VmRSS)"
echo 5 >"/proc/$pid/clear_refs"
curls=()
for _ in 1 2 3; do
	curl -s "${xapi[@]}" -u "$gkey:$gsecret" -H 'Content-Type: application/json' --data-binary "@$data/zeros.json" \
		-o /dev/null -w '%{http_code} ' "$base/xapi/statements" &
	curls+=($!)
done
wait "${curls[@]}"
peak="$(rss_kb VmHWM)"
echo "three at once: RSS idle $((idle / 1024)) MB, peak $((peak / 1024)) MB: $(((peak - idle) / 1024)) MB above idle"

# A forged cursor as long as the LRS takes (2 KB), then one of 3.7 KB as
# the review sent: both must be refused before any SQL.
for len in 2000 3700; do
	cursor="$(head -c $((len * 3 / 4)) /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=' | head -c "$len")"
	cursor="${cursor:0:$((len - 23))}.AAAAAAAAAAAAAAAAAAAAAA"
	times="$(curl -s "${xapi[@]}" -u "$gkey:$gsecret" -o /dev/null -w '%{http_code} %{time_total}\n' \
		"$base/xapi/statements?more=$cursor&n=[1-200]" | sort -k2 -n)"
	awk -v len="$len" '{code[$1]++; t[NR] = $2} END {printf "forged %d-byte cursor, 200 requests: answers", len; for (c in code) printf " %s: %d", c, code[c]; printf "; p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", 1000 * t[int(NR * 0.5)], 1000 * t[int(NR * 0.99)], 1000 * t[NR]}' <<<"$times"
done
