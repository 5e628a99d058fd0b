#!/bin/bash
# make demo: build the story's network, show ECN connections failing and
# plain ones working, then let ecntrace diagnose it. Everything happens in
# namespaces of a lab instance of its own, removed on every way out.
set -u
cd "$(dirname "$0")/.." || exit 1
ECNLAB=$PWD/lab/ecnlab
export ECNLAB_NAME=demo$$

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (it builds network namespaces); try: sudo make demo" >&2
	exit 1
fi
trap '"$ECNLAB" down' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '\n== %s\n' "$*"; }

say "building the story's network (lab scenario 'seed', instance $ECNLAB_NAME)"
"$ECNLAB" up seed || exit 1
eval "$("$ECNLAB" env)"
"$ECNLAB" show

# connections ECN FIRSTPORT: ten HTTP GETs from the client, one source port
# each, with net.ipv4.tcp_ecn=ECN.
connections() {
	local i port out failed=0
	"$ECNLAB" exec -- sysctl -qw net.ipv4.tcp_ecn="$1"
	for i in $(seq 1 10); do
		port=$(($2 + i))
		if out=$("$ECNLAB" exec -- curl -sS -m 3 --local-port "$port" "http://$TARGET4/" 2>&1); then
			printf '  source port %d: %s\n' "$port" "$out"
		else
			printf '  source port %d: FAILED  %s\n' "$port" "$out"
			failed=$((failed + 1))
		fi
	done
	printf '  -> %d of 10 failed\n' "$failed"
}

say "10 connections to $TARGET4 with ECN on (net.ipv4.tcp_ecn=1)"
connections 1 40000
say "10 connections to $TARGET4 with ECN off (net.ipv4.tcp_ecn=0)"
connections 0 40100
"$ECNLAB" exec -- sysctl -qw net.ipv4.tcp_ecn=1

# The story's traceroutes: one flow (fixed source port), only the ECN bits
# differ. Show the first source port whose two paths differ.
trace() { "$ECNLAB" exec -- traceroute -T -O syn -p 80 --sport="$1" -t "$2" -n -q 1 -w 1 "$TARGET4" | tail -n +2; }
paths() { trace "$1" "$2" | awk '{ printf "%s ", $2 }'; }
for sport in $(seq 10000 10031); do
	[ "$(paths $sport 0)" != "$(paths $sport 2)" ] && break
done
say "one flow (source port $sport), only the ECN bits differ: -t 0 is Not-ECT, -t 2 is ECT(0)"
for tos in 0 2; do
	echo "  traceroute -T -p 80 --sport=$sport -t $tos $TARGET4"
	trace "$sport" "$tos" | sed 's/^/    /'
done

# ---- ecntrace: the diagnosis -------------------------------------------
# Runs once ./ecntrace can diagnose a HOST (its --help mentions "diagnose"
# or a HOST argument); until then this step says so and is skipped.
say "diagnosis: ecntrace $TARGET4 (inside the client's namespace)"
if [ -x ./ecntrace ] && ./ecntrace --help 2>&1 | grep -qE 'diagnose|HOST'; then
	"$ECNLAB" exec -- "$PWD/ecntrace" "$TARGET4"
	echo "  (ecntrace exit status $?: 0 healthy, 1 broken, 2 inconclusive)"
else
	echo "  ./ecntrace is not built or cannot diagnose a host yet: skipped"
fi
# -------------------------------------------------------------------------

say "tearing the lab down"
exit 0
