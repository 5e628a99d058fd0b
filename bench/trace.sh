#!/bin/bash
# Benchmark: ecntrace trace against Linux traceroute -T in the lab's seed
# scenario. Same flow (source port, port 80, TOS 0), three probes per hop,
# numeric, RUNS times each, alternating. For every run it prints the probes
# the tool sent and its wall time, then the medians and their ratios.
# Figures only: it asserts nothing and exits 0 unless it could not run.
#
#   sudo bench/trace.sh                      # 5 runs, IPv4
#   sudo BENCH_RUNS=10 BENCH_FAMILY=6 bench/trace.sh
#
# Probes sent: ecntrace's own count (--json stats.probes_sent), and for
# both tools the SYNs of that flow a tcpdump in the client namespace saw
# leave ("wire"), so the two counts are made the same way.
# TOS 0 on purpose: the client kernel's RST for traceroute's SYN-ACKs is
# Not-ECT, so with an ECT TOS it could reach the other anycast site and
# leave the one the probes reached holding a half-open connection, which
# changes what the next run sees (ecntrace sends its own RST with the
# probe's TOS; see tests/lab/test_trace.sh). Only SYNs count as probes.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
RUNS=${BENCH_RUNS:-5}
SPORT=${BENCH_SPORT:-40123}
FAM=${BENCH_FAMILY:-4}
ECNLAB=$ROOT/lab/ecnlab

die() { echo "bench/trace.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets)"
for t in traceroute tcpdump jq; do
	command -v "$t" >/dev/null 2>&1 || die "$t is not installed"
done
[ -x "$ECNLAB" ] || die "lab/ecnlab is missing"
case "$RUNS" in '' | *[!0-9]*) die "BENCH_RUNS must be a number" ;; esac
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 100 ] || die "BENCH_RUNS must be 1..100"
case "$FAM" in 4 | 6) ;; *) die "BENCH_FAMILY must be 4 or 6" ;; esac
[ -x ./ecntrace ] || make -s ecntrace >/dev/null || die "cannot build ecntrace"

LAB=bt$$
TMP=$(mktemp -d /tmp/bench_trace.XXXXXX)
CAP_PID=""
cleanup() {
	trap '' INT TERM
	[ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null && wait "$CAP_PID" 2>/dev/null
	ECNLAB_NAME=$LAB "$ECNLAB" down >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp ./ecntrace "$TMP/ecntrace" || die "cannot copy ecntrace"
ET=$TMP/ecntrace

ECNLAB_NAME=$LAB ECNLAB_SEED=1 "$ECNLAB" up seed >"$TMP/up.log" 2>&1 ||
	{ cat "$TMP/up.log" >&2; die "lab up seed failed"; }
eval "$(ECNLAB_NAME=$LAB "$ECNLAB" env)"
if [ "$FAM" = 6 ]; then
	DST=$TARGET6 SRC=$CLIENT6 FOPT=-6
	FILTER="ip6 and src host $SRC and dst host $DST and tcp src port $SPORT and tcp dst port 80 and ip6[53] & 2 != 0"
else
	DST=$TARGET4 SRC=$CLIENT4 FOPT=-4
	FILTER="src host $SRC and dst host $DST and tcp src port $SPORT and tcp dst port 80 and tcp[13] & 2 != 0"
fi

client() { timeout 300 ip netns exec "$CLIENT_NS" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The SYNs of the flow leaving the client, counted by tcpdump.
cap_start() {
	local i
	ip netns exec "$CLIENT_NS" tcpdump -l -n -i "$CLIENT_IF" "$FILTER" \
		>"$TMP/cap" 2>"$TMP/cap.err" &
	CAP_PID=$!
	for i in $(seq 50); do
		grep -q "listening on" "$TMP/cap.err" 2>/dev/null && return 0
		sleep 0.1
	done
	die "tcpdump did not start: $(cat "$TMP/cap.err")"
}
cap_stop() {
	sleep 0.3
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	CAP_PID=""
	grep -c . "$TMP/cap"
}

printf 'bench/trace.sh: lab seed (ECNLAB_SEED=1), IPv%s %s -> %s, tcp sport %s dport 80, tos 0, -q 3, %s runs each\n' \
	"$FAM" "$SRC" "$DST" "$SPORT" "$RUNS"
printf '%-4s %-11s %7s %6s %8s %5s\n' run tool probes wire wall_ms hops
: >"$TMP/rows"
for r in $(seq "$RUNS"); do
	cap_start
	t0=$(now_ms)
	client "$ET" trace $FOPT -n -q 3 --sport "$SPORT" -p 80 --json "$DST" \
		>"$TMP/et.json" 2>"$TMP/et.err"
	rc=$?
	t1=$(now_ms)
	wire=$(cap_stop)
	sent=$(jq -r '.stats.probes_sent' "$TMP/et.json" 2>/dev/null)
	hops=$(jq -r '.hops | length' "$TMP/et.json" 2>/dev/null)
	[ "$rc" = 0 ] || echo "# ecntrace exited $rc: $(cat "$TMP/et.err")"
	printf '%-4s %-11s %7s %6s %8s %5s\n' "$r" ecntrace "${sent:-?}" "$wire" $((t1 - t0)) "${hops:-?}"
	echo "ecntrace ${sent:-0} $wire $((t1 - t0))" >>"$TMP/rows"

	cap_start
	t0=$(now_ms)
	client traceroute $FOPT -T -n -q 3 -p 80 --sport="$SPORT" "$DST" \
		>"$TMP/tr.out" 2>"$TMP/tr.err"
	rc=$?
	t1=$(now_ms)
	wire=$(cap_stop)
	hops=$(($(wc -l <"$TMP/tr.out") - 1))
	[ "$rc" = 0 ] || echo "# traceroute exited $rc: $(cat "$TMP/tr.err")"
	printf '%-4s %-11s %7s %6s %8s %5s\n' "$r" traceroute - "$wire" $((t1 - t0)) "$hops"
	echo "traceroute $wire $wire $((t1 - t0))" >>"$TMP/rows"
done

# Medians per tool (probes: ecntrace's own count, traceroute's wire count),
# then ecntrace / traceroute.
awk '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ n[$1]++; p[$1, n[$1]] = $2; w[$1, n[$1]] = $3; t[$1, n[$1]] = $4 }
END {
	for (tool in n) {
		delete a; for (i = 1; i <= n[tool]; i++) a[i] = p[tool, i]; mp[tool] = median(a, n[tool])
		delete a; for (i = 1; i <= n[tool]; i++) a[i] = w[tool, i]; mw[tool] = median(a, n[tool])
		delete a; for (i = 1; i <= n[tool]; i++) a[i] = t[tool, i]; mt[tool] = median(a, n[tool])
		printf "median %-11s probes %5.1f  wire %5.1f  wall %7.1f ms\n", tool, mp[tool], mw[tool], mt[tool]
	}
	e = "ecntrace"; r = "traceroute"
	printf "ratio ecntrace/traceroute: probes %s  wall %s\n",
		mw[r] ? sprintf("%.2f", mw[e] / mw[r]) : "n/a",
		mt[r] ? sprintf("%.2f", mt[e] / mt[r]) : "n/a"
}' "$TMP/rows"
