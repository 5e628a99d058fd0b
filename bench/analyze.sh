#!/bin/bash
# ecntrace analyze against tshark and a bare libpcap loop, on a generated
# capture; then a 10 GiB-class stream through standard input.
#
#   bench/analyze.sh
#   BENCH_PACKETS=20000 BENCH_CHECK_ONLY=1 bench/analyze.sh   (smoke test)
#
# 1. bench/pcap_gen writes a capture of BENCH_PACKETS packets (default
#    1000000; Ethernet, 8 servers, 64 connections interleaved): half the
#    connections ask for ECN, every other ECN one is reset after its first
#    ECT data by an RST from another hop count, the rest are plain.
# 2. analyze --json on it must report exactly what was generated (packets,
#    connections, ECN ones, ok / reset-by-other-endpoint / not-ecn, faults,
#    one server row each with its faults and verdict ecn-only); any
#    difference fails the run (exit 1) before anything is timed.
# 3. Timed in the same run, in BENCH_RUNS (3) interleaved rounds:
#    ecntrace analyze FILE (text to /dev/null) and bench/pcap_loop FILE
#    (pcap_next_ex touching each packet) three times a round, tshark -q
#    -z conv,tcp -r FILE once; wall time, CPU time (user+sys, in
#    microseconds) and peak RSS (bench/timeit, wait4); a run that exits
#    otherwise than expected fails the bench. Prints the best and median
#    of each and the ratios: analyze's speed against the bare loop's,
#    tshark's time over analyze's.
# 4. pcap_gen streams BENCH_STREAM (default 10G bytes, 1400-byte segments)
#    into `ecntrace analyze -` through a pipe, never stored, and prints the
#    reader's resident memory at every GiB; the counts are checked again.
#    BENCH_STREAM=0 skips the stream.
#
# BENCH_CHECK_ONLY=1 stops after step 2 (what tests/lab/test_bench_analyze.sh
# runs). BENCH_SKEW=1 makes the expected reset count one too many: the
# check must then fail (the smoke test's proof that it can). Needs gcc,
# libpcap-dev, jq; tshark for the timing (scripts/deps.sh).
# No root, no network: files in a temporary directory, removed on exit.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${ECNTRACE:-$ROOT/ecntrace}
PACKETS=${BENCH_PACKETS:-1000000}
RUNS=${BENCH_RUNS:-3}
STREAM=${BENCH_STREAM:-10G}
CHECK_ONLY=${BENCH_CHECK_ONLY:-0}
SKEW=${BENCH_SKEW:-0}
CC=${CC:-cc}

die() { echo "bench/analyze: $*" >&2; exit 1; }
case $RUNS in ''|*[!0-9]*|0) die "BENCH_RUNS must be a number >= 1, not '$RUNS'";; esac

TMP=$(mktemp -d /tmp/ecntrace-bench-analyze.XXXXXX) || die "no temporary directory"
READER=""
cleanup() {
	[ -n "$READER" ] && kill "$READER" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v jq >/dev/null || die "jq is not installed (make deps)"
[ -x "$BIN" ] || make -C "$ROOT" --no-print-directory -s ecntrace >&2 ||
	die "cannot build $BIN"
GEN=$TMP/pcap_gen LOOP=$TMP/pcap_loop TIMEIT=$TMP/timeit
"$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$GEN" "$ROOT/bench/pcap_gen.c" ||
	die "cannot build pcap_gen"
"$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$LOOP" "$ROOT/bench/pcap_loop.c" -lpcap ||
	die "cannot build pcap_loop"

# counts FILE: the generator's figures as shell variables g_KEY.
counts() {
	local k v
	while read -r k v; do eval "g_$k=\$v"; done <"$1"
}

# check JSON COUNTS WHAT: analyze's report against what was generated.
check() {
	local bad="" got want
	counts "$2"
	want_reset=$((g_reset + SKEW))
	for pair in \
		".packets:$g_packets" \
		".summary.connections:$g_connections" \
		".summary.ecn_connections:$g_ecn_connections" \
		".summary.results.ok // 0:$((g_ecn_connections - g_reset))" \
		".summary.results[\"reset-by-other-endpoint\"] // 0:$want_reset" \
		".summary.results[\"not-ecn\"] // 0:$g_plain" \
		".summary.faults:$want_reset" \
		".summary.evicted:0" \
		".summary.unfinished:0" \
		".skipped:0" \
		".servers | length:$g_servers" \
		"[.servers[].faults] | add // 0:$want_reset" \
		"[.servers[] | .ecn_connections + .plain_connections] | add // 0:$g_connections" \
		"[.servers[] | select(.finding == \"ecn-reset\" and .control.verdict == \"ecn-only\")] | length:$g_servers"; do
		got=$(jq -r "${pair%:*}" "$1")
		want=${pair##*:}
		[ "$got" = "$want" ] || bad="$bad; ${pair%:*}: analyze $got, generated $want"
	done
	if [ -n "$bad" ]; then
		echo "COUNTS DIFFER ($3)${bad}" >&2
		return 1
	fi
	echo "counts match ($3): $g_packets packets, $g_connections connections," \
		"$g_ecn_connections ECN of which $g_reset reset, $g_plain plain," \
		"$g_servers servers"
}

FILE=$TMP/bench.pcap
"$GEN" -n "$PACKETS" -o "$FILE" -c "$TMP/counts" || die "pcap_gen failed"
rc=0
"$BIN" analyze --json "$FILE" >"$TMP/a.json" 2>"$TMP/a.err" || rc=$?
[ $rc = 1 ] || die "analyze exited $rc, not 1 (faults): $(head -1 "$TMP/a.err")"
check "$TMP/a.json" "$TMP/counts" "$(basename "$FILE"), $(stat -c %s "$FILE") bytes" || exit 1
rc=0
"$BIN" analyze --threads 1 --json "$FILE" >"$TMP/a1.json" 2>"$TMP/a1.err" || rc=$?
[ $rc = 1 ] && cmp -s "$TMP/a.json" "$TMP/a1.json" ||
	die "analyze --threads 1 (exit $rc) does not report what two threads do"
echo "ok: one thread and two report the same"
[ "$CHECK_ONLY" = 1 ] && exit 0

command -v tshark >/dev/null || die "tshark is not installed (make deps)"
"$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$TIMEIT" "$ROOT/bench/timeit.c" ||
	die "cannot build timeit"

# run1 NAME RC CMD...: one timed run (bench/timeit), which must exit RC;
# appends "wall_ns cpu_ns peak_kib" to $TMP/NAME.runs.
run1() {
	local name=$1 want=$2 rc=0
	shift 2
	"$TIMEIT" "$@" >>"$TMP/$name.runs" || rc=$?
	[ $rc = "$want" ] ||
		die "$name exited $rc, not $want: $*: $("$@" 2>&1 >/dev/null | head -1)"
}

# summary NAME: from $TMP/NAME.runs, the fastest run's wall (ns), the
# least CPU time (ns), the median wall and the largest peak RSS (KiB) as
# NAME_ns NAME_cpu NAME_med NAME_kb; and one printed line.
summary() {
	sort -n "$TMP/$1.runs" | awk -v n="$1" -v vars="$TMP/vars" '
		{ w[NR] = $1; if (NR == 1 || $2 < c) c = $2; if ($3 > k) k = $3 }
		END {
			m = (w[int((NR + 1) / 2)] + w[int(NR / 2) + 1]) / 2
			printf "%s_ns=%.0f %s_cpu=%.0f %s_med=%.0f %s_kb=%.0f\n",
				n, w[1], n, c, n, m, n, k > vars
			printf "%-8s %2d runs  wall best %7.3f s  median %7.3f s  cpu best %7.3f s  peak %6.1f MiB\n",
				n, NR, w[1] / 1e9, m / 1e9, c / 1e9, k / 1024
		}'
	eval "$(cat "$TMP/vars")"
}

# The three are timed in turns, BENCH_RUNS rounds: each round runs the
# loop and analyze three times each and tshark once, so that every ratio
# compares runs taken in the same minutes of a machine whose speed
# drifts. Ratios are of the best runs (and of the median ones).
# analyze is the default (two threads where two processors are online:
# its wall time is the goal's), analyze1 the same on one thread.
echo "$RUNS rounds (loop x3, analyze x3, analyze --threads 1 x3, tshark x1 each), $g_packets packets ($(stat -c %s "$FILE") bytes):"
for r in $(seq 1 "$RUNS"); do
	for i in 1 2 3; do
		run1 loop 0 "$LOOP" "$FILE"
		run1 analyze 1 "$BIN" analyze "$FILE"
		run1 analyze1 1 "$BIN" analyze --threads 1 "$FILE"
	done
	run1 tshark 0 tshark -q -z conv,tcp -r "$FILE"
done
summary loop
summary analyze
summary analyze1
summary tshark
awk -v l="$loop_ns" -v a="$analyze_ns" -v t="$tshark_ns" -v lm="$loop_med" \
	-v am="$analyze_med" -v tm="$tshark_med" -v lc="$loop_cpu" -v ac="$analyze_cpu" \
	-v tc="$tshark_cpu" -v kb="$analyze_kb" -v a1="$analyze1_ns" \
	-v a1m="$analyze1_med" -v a1c="$analyze1_cpu" 'BEGIN {
	printf "analyze speed / bare loop speed: %.2f wall (median %.2f), %.2f cpu (goal >= 0.5)\n",
		l / a, lm / am, (ac > 0 ? lc / ac : 0)
	printf "tshark time / analyze time:      %.1f wall (median %.1f), %.1f cpu (goal >= 50)\n",
		t / a, tm / am, (ac > 0 ? tc / ac : 0)
	printf "analyze peak RSS:                %.1f MiB (goal <= 64)\n", kb / 1024
	printf "drift of the machine:            the loop median %.0f%% above its best (the medians carry it)\n",
		100 * (lm / l - 1)
	printf "one thread: / bare loop %.2f wall (median %.2f), %.2f cpu; tshark / it %.1f wall (median %.1f)\n",
		l / a1, lm / a1m, (a1c > 0 ? lc / a1c : 0), t / a1, tm / a1m
}'

# The stream: generated into a pipe, never stored.
[ "$STREAM" = 0 ] && exit 0
mkfifo "$TMP/fifo" || die "mkfifo failed"
( exec "$BIN" analyze --json - <"$TMP/fifo" >"$TMP/s.json" 2>"$TMP/s.err" ) &
READER=$!
echo "streaming $STREAM through 'ecntrace analyze -' (resident memory of the reader):"
"$GEN" -b "$STREAM" -s 1400 -d 32 -w "$READER" -c "$TMP/s.counts" \
	>"$TMP/fifo" 2>"$TMP/s.rss" || die "pcap_gen (stream) failed"
wait "$READER"
src=$?
READER=""
sed 's/^/  /' "$TMP/s.rss"
[ $src = 1 ] || die "analyze - exited $src, not 1: $(head -1 "$TMP/s.err")"
check "$TMP/s.json" "$TMP/s.counts" "stream of $(awk "BEGIN{printf \"%.1f\", $(grep '^bytes' "$TMP/s.counts" | cut -d' ' -f2)/2^30}") GiB" || exit 1
