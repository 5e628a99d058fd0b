#!/bin/bash
# Benchmark: `ecntrace --quic HOST` and `ecntrace -U HOST` against the TCP
# diagnosis (`ecntrace HOST`) of the same lab network, in the same run,
# alternately. Per scenario, protocol and family it prints the verdicts
# (and how many were the lab's truth), the median path probes, packets in
# all and wall time, and the ratios to TCP's. Figures only: it asserts
# nothing and exits 0 unless it could not run.
#
#   sudo bench/quic.sh
#   sudo BENCH_RUNS=20 BENCH_SCENARIOS="seed fixed" BENCH_ENV="ECNLAB_LOSS=3" bench/quic.sh
#
# Environment (defaults in brackets):
#   BENCH_RUNS       runs per scenario, protocol and family [10]
#   BENCH_SCENARIOS  [seed fixed single deep unicast equidistant]
#   BENCH_FAMILIES   4 and/or 6 [4 6]
#   BENCH_ENV        lab conditions, e.g. ECNLAB_LOSS=3 or ECNLAB_RATELIMIT=1 []
#   BENCH_SPORT      first source port; run r uses +300*r [21000]
#
# The truth: seed, deep broken (ecn-hash at BALANCER_HOP); fixed, single
# healthy; unicast latent; equidistant broken with TCP and --quic (the
# sites' Version Negotiations differ), latent with -U (both sites answer
# from 4 hops back: nothing tells their port unreachables apart).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
RUNS=${BENCH_RUNS:-10}
SCENARIOS=${BENCH_SCENARIOS:-"seed fixed single deep unicast equidistant"}
FAMILIES=${BENCH_FAMILIES:-"4 6"}
BENV=${BENCH_ENV:-}
SPORT=${BENCH_SPORT:-21000}

die() { echo "bench/quic.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets)"
command -v jq >/dev/null 2>&1 || die "jq is not installed"
case $RUNS in '' | *[!0-9]*) die "BENCH_RUNS must be a number";; esac
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 100 ] || die "BENCH_RUNS must be 1..100"
case $SPORT in '' | *[!0-9]*) die "BENCH_SPORT must be a number";; esac
[ $((SPORT + 300 * RUNS + 100)) -le 60000 ] || die "BENCH_SPORT too high for $RUNS runs"
for f in $FAMILIES; do case $f in 4 | 6) ;; *) die "BENCH_FAMILIES: 4 and/or 6";; esac; done
for e in $BENV; do case $e in ECNLAB_[A-Z]*=[0-9a-z]*) ;; *) die "BENCH_ENV: ECNLAB_X=VALUE words only";; esac; done
[ -x ./ecntrace ] || make -s ecntrace >/dev/null || die "cannot build ecntrace"

LAB=bq$$
TMP=$(mktemp -d /tmp/bench_quic.XXXXXX)
cleanup() { ECNLAB_NAME=$LAB lab/ecnlab down >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cp ecntrace "$TMP/ecntrace" || die "cannot copy ecntrace"

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# truth SCENARIO PROTO: the expected status
truth() {
	case $1 in
	seed | deep) echo broken;;
	fixed | single) echo healthy;;
	unicast) echo latent;;
	equidistant) [ "$2" = udp ] && echo latent || echo broken;;
	*) echo "?";;
	esac
}

printf '%-12s %-4s %-5s %5s %-30s %6s %6s %8s %7s %7s\n' scenario fam proto runs \
	"verdicts (truth: right/runs)" paths pkts wall_ms paths/T wall/T
for s in $SCENARIOS; do
	env $BENV ECNLAB_NAME=$LAB lab/ecnlab up "$s" >/dev/null 2>&1 || die "lab up $s failed"
	eval "$(ECNLAB_NAME=$LAB lab/ecnlab env)"
	for fam in $FAMILIES; do
		t=$TARGET4; [ "$fam" = 6 ] && t=$TARGET6
		: >"$TMP/rows"
		for ((r = 0; r < RUNS; r++)); do
			for p in tcp quic udp; do
				case $p in tcp) opt=;; quic) opt=--quic;; udp) opt=-U;; esac
				[ $p = tcp ] && sp=$((SPORT + 300 * r))
				[ $p = quic ] && sp=$((SPORT + 300 * r + 100))
				[ $p = udp ] && sp=$((SPORT + 300 * r + 200))
				ip netns exec "$CLIENT_NS" timeout 120 "$TMP/ecntrace" -q --json -"$fam" \
					--sport "$sp" $opt "$t" >"$TMP/out.json" 2>/dev/null
				jq -r --arg p $p '"\($p) \(.verdict.status // "error") \(.stats.path_probes // 0) \(.stats.probes_sent // 0) \(.stats.duration_ms // 0)"' \
					"$TMP/out.json" >>"$TMP/rows" 2>/dev/null || echo "$p error 0 0 0" >>"$TMP/rows"
			done
		done
		for p in tcp quic udp; do
			grep "^$p " "$TMP/rows" >"$TMP/p"
			want=$(truth "$s" $p)
			v=$(awk '{ print $2 }' "$TMP/p" | sort | uniq -c | awk '{ printf "%s%s %d", n++ ? ", " : "", $2, $1 }')
			right=$(awk -v w="$want" '$2 == w' "$TMP/p" | wc -l)
			pp=$(awk '{ print $3 }' "$TMP/p" | median)
			ps=$(awk '{ print $4 }' "$TMP/p" | median)
			ms=$(awk '{ print $5 }' "$TMP/p" | median)
			[ $p = tcp ] && { tpp=$pp tms=$ms; }
			printf '%-12s %-4s %-5s %5d %-30s %6s %6s %8s %7.2f %7.2f\n' "$s" "IPv$fam" $p "$RUNS" \
				"$v ($right/$RUNS)" "$pp" "$ps" "$ms" \
				"$(awk -v a="$pp" -v b="$tpp" 'BEGIN { print b ? a / b : 0 }')" \
				"$(awk -v a="$ms" -v b="$tms" 'BEGIN { print b ? a / b : 0 }')"
		done
	done
	ECNLAB_NAME=$LAB lab/ecnlab down >/dev/null 2>&1
done
[ -n "$BENV" ] && echo "conditions: $BENV"
exit 0
