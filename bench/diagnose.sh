#!/bin/bash
# Benchmark: `ecntrace HOST` (the diagnosis) against scamper's tracelb (MDA
# load-balancer mapping) on the story network, in the same run and the same
# lab. For every run it prints the probes the tool sent and its wall time,
# then the medians and the ratios ecntrace / tracelb. Figures only: it
# asserts nothing and exits 0 unless it could not run.
#
#   sudo bench/diagnose.sh
#   sudo BENCH_RUNS=10 BENCH_TLB_RUNS=3 BENCH_FAMILIES=4 bench/diagnose.sh
#
# Environment (defaults in brackets):
#   BENCH_RUNS       ecntrace runs per family [5]
#   BENCH_TLB_RUNS   tracelb runs per family and confidence [2]
#   BENCH_TLB_CONF   tracelb confidences, 95 and/or 99 [95 99]
#   BENCH_FAMILIES   4 and/or 6 [4 6]
#   BENCH_SEED       the balancer's hash seed (ECNLAB_SEED) [1]
#   BENCH_SPORT      ecntrace's first source port; run r uses +100*(r-1) [40000]
#   BENCH_TLB_OPTS   more tracelb options, e.g. "-W 15" (150 ms between
#                    probes, the least scamper 20211212 accepts; default 250) []
#
# Probes: ecntrace's own counts (--json stats.path_probes: the probes that
# map the path; stats.probes_sent: those plus the connection replay) and
# tracelb's (probec of its warts record, via sc_warts2json); for both,
# "wire" is every TCP/UDP packet from the client to the target a tcpdump in
# the client namespace saw leave during the run (tracelb's TCP probes draw
# SYN-ACKs that the client kernel answers with RSTs; those count there).
# tracelb uses -P tcp-sport -d 80, like ecntrace's probes; scamper 20211212
# sends no TCP tracelb probe over IPv6 at all, so there it falls back to
# -P udp-sport -d 80 (same MDA, same 5-tuple hash) and says so.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
RUNS=${BENCH_RUNS:-5}
TLB_RUNS=${BENCH_TLB_RUNS:-2}
TLB_CONF=${BENCH_TLB_CONF:-"95 99"}
FAMILIES=${BENCH_FAMILIES:-"4 6"}
SEED=${BENCH_SEED:-1}
SPORT=${BENCH_SPORT:-40000}
TLB_OPTS=${BENCH_TLB_OPTS:-}

die() { echo "bench/diagnose.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets)"
for t in scamper sc_warts2json tcpdump jq nft; do
	command -v "$t" >/dev/null 2>&1 || die "$t is not installed"
done
[ -x lab/ecnlab ] || die "lab/ecnlab is missing"
num() { case "$2" in '' | *[!0-9]*) die "$1 must be a number";; esac; [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || die "$1 must be $3..$4"; }
num BENCH_RUNS "$RUNS" 1 50
num BENCH_TLB_RUNS "$TLB_RUNS" 0 20
num BENCH_SPORT "$SPORT" 1024 60000
[ $((SPORT + 100 * RUNS + 100)) -le 65535 ] || die "BENCH_SPORT too high for $RUNS runs"
for f in $FAMILIES; do case $f in 4 | 6) ;; *) die "BENCH_FAMILIES: 4 and/or 6";; esac; done
for c in $TLB_CONF; do case $c in 95 | 99) ;; *) die "BENCH_TLB_CONF: 95 and/or 99";; esac; done
case $TLB_OPTS in *[!-a-zA-Z0-9\ ]*) die "BENCH_TLB_OPTS: options and numbers only";; esac
[ -x ./ecntrace ] || make -s ecntrace >/dev/null || die "cannot build ecntrace"

LAB=bd$$
TMP=$(mktemp -d /tmp/bench_diagnose.XXXXXX)
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

# Private copies: the tree is shared, a rebuild or an edit mid-run must not
# change what is measured.
cp ./ecntrace "$TMP/ecntrace" && cp -r lab "$TMP/lab" || die "cannot copy ecntrace and lab/"
ET=$TMP/ecntrace ECNLAB=$TMP/lab/ecnlab

ECNLAB_NAME=$LAB ECNLAB_SEED=$SEED "$ECNLAB" up seed >"$TMP/up.log" 2>&1 ||
	{ cat "$TMP/up.log" >&2; die "lab up seed failed"; }
eval "$(ECNLAB_NAME=$LAB "$ECNLAB" env)"

client() { timeout 300 ip netns exec "$CLIENT_NS" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Every TCP/UDP packet from the client to the target, counted by tcpdump.
cap_start() { # SRC DST
	local i
	ip netns exec "$CLIENT_NS" tcpdump -Z root -l -n -i "$CLIENT_IF" \
		"src host $1 and dst host $2 and (tcp or udp)" >"$TMP/cap" 2>"$TMP/cap.err" &
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

# tracelb FAMILY CONF METHOD: one run; prints "probec nodes links".
tracelb() {
	rm -f "$TMP/tlb.warts"
	client scamper -O warts -o "$TMP/tlb.warts" -c "tracelb -P $3 -d 80 -c $2${TLB_OPTS:+ $TLB_OPTS}" \
		-i "$DST" >"$TMP/tlb.out" 2>&1
	sc_warts2json "$TMP/tlb.warts" 2>/dev/null |
		jq -r 'select(.type == "tracelb") | "\(.probec) \(.nodec) \(.linkc)"' | head -n 1
}

printf 'bench/diagnose.sh: lab seed (ECNLAB_SEED=%s), balancer at hop %s, %s anycast sites\n' \
	"$SEED" "$BALANCER_HOP" "$SITES"
printf '  ecntrace: ecntrace --json --sport S TARGET, %s runs per family\n' "$RUNS"
printf '  tracelb:  scamper -c "tracelb -P METHOD -d 80 -c CONF%s" -i TARGET, %s runs per confidence (%s)\n' \
	"${TLB_OPTS:+ $TLB_OPTS}" "$TLB_RUNS" "$TLB_CONF"
echo
printf '%-3s %-12s %-4s %11s %11s %6s %8s  %s\n' fam tool run path_probes probes_sent wire wall_ms result
: >"$TMP/rows"
for fam in $FAMILIES; do
	if [ "$fam" = 6 ]; then DST=$TARGET6 SRC=$CLIENT6 BAL=$BALANCER6
	else DST=$TARGET4 SRC=$CLIENT4 BAL=$BALANCER4; fi

	for r in $(seq "$RUNS"); do
		sp=$((SPORT + 100 * (r - 1)))
		cap_start "$SRC" "$DST"
		t0=$(now_ms)
		client "$ET" -q --json -"$fam" --sport "$sp" "$DST" >"$TMP/et.json" 2>"$TMP/et.err"
		rc=$?
		t1=$(now_ms)
		wire=$(cap_stop)
		pp=$(jq -r '.stats.path_probes // "?"' "$TMP/et.json" 2>/dev/null)
		ps=$(jq -r '.stats.probes_sent // "?"' "$TMP/et.json" 2>/dev/null)
		res=$(jq -r '"\(.verdict.status) [" + ([.verdict.causes[] | "\(.kind)@\(.hop)"] | join(",")) +
			"] conf \(.paths.confidence) sites \(.anycast.sites) (\(.stats.duration_ms) ms inside)"' \
			"$TMP/et.json" 2>/dev/null)
		[ "$rc" = 1 ] || echo "# ecntrace exited $rc (1 = broken expected): $(head -c 200 "$TMP/et.err")"
		printf '%-3s %-12s %-4s %11s %11s %6s %8s  %s\n' "$fam" ecntrace "$r" "${pp:-?}" "${ps:-?}" \
			"$wire" $((t1 - t0)) "${res:-no JSON} sport $sp"
		echo "$fam ecntrace ${pp:-0} $wire $((t1 - t0))" >>"$TMP/rows"
	done

	method=tcp-sport
	for conf in $TLB_CONF; do
		for r in $(seq "$TLB_RUNS"); do
			cap_start "$SRC" "$DST"
			t0=$(now_ms)
			out=$(tracelb "$fam" "$conf" "$method")
			t1=$(now_ms)
			wire=$(cap_stop)
			if [ "$method" = tcp-sport ] && [ "${out%% *}" = 0 ]; then
				echo "# tracelb -P tcp-sport sent no probe over IPv$fam ($((t1 - t0)) ms); using udp-sport"
				method=udp-sport
				cap_start "$SRC" "$DST"
				t0=$(now_ms)
				out=$(tracelb "$fam" "$conf" "$method")
				t1=$(now_ms)
				wire=$(cap_stop)
			fi
			read -r probec nodec linkc <<<"${out:-? ? ?}"
			printf '%-3s %-12s %-4s %11s %11s %6s %8s  %s\n' "$fam" "tracelb-$conf" "$r" \
				"$probec" - "$wire" $((t1 - t0)) "-P $method: $nodec nodes, $linkc links"
			[ "$probec" != "?" ] || echo "# tracelb gave no result: $(head -c 200 "$TMP/tlb.out")"
			echo "$fam tracelb-$conf ${probec//\?/0} $wire $((t1 - t0))" >>"$TMP/rows"
		done
	done
done

# Medians per family and tool, then ecntrace / tracelb at each confidence:
# path probes against tracelb's probec, wall time against wall time.
echo
awk '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; if (!(k in n)) { order[++no] = k }
  n[k]++; p[k, n[k]] = $3; w[k, n[k]] = $4; t[k, n[k]] = $5 }
END {
	for (o = 1; o <= no; o++) {
		k = order[o]; split(k, kk, SUBSEP)
		delete a; for (i = 1; i <= n[k]; i++) a[i] = p[k, i]; mp[k] = median(a, n[k])
		delete a; for (i = 1; i <= n[k]; i++) a[i] = w[k, i]; mw[k] = median(a, n[k])
		delete a; for (i = 1; i <= n[k]; i++) a[i] = t[k, i]; mt[k] = median(a, n[k])
		printf "median IPv%s %-12s probes %6.1f  wire %6.1f  wall %8.1f ms  (%d runs)\n",
			kk[1], kk[2], mp[k], mw[k], mt[k], n[k]
	}
	for (o = 1; o <= no; o++) {
		k = order[o]; split(k, kk, SUBSEP)
		if (kk[2] !~ /^tracelb/) continue
		e = kk[1] SUBSEP "ecntrace"
		if (!(e in n)) continue
		printf "ratio IPv%s ecntrace/%s: path probes %s  wall %s\n", kk[1], kk[2],
			mp[k] ? sprintf("%.2f", mp[e] / mp[k]) : "n/a",
			mt[k] ? sprintf("%.3f", mt[e] / mt[k]) : "n/a"
	}
}' "$TMP/rows"
echo "goal (issue 5): a 99% path verdict with <= 60 path probes, in under 1/4 of tracelb's wall time"
