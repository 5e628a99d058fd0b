#!/bin/bash
# ecntrace trace end to end in the namespace lab (lab/ecnlab):
#  - seed and single: for several source ports and each ECN codepoint,
#    `ecntrace trace -q 1 --json` lists per TTL exactly the addresses that
#    Linux `traceroute -T -q 1` lists for the same flow and TOS ('*' = null),
#    IPv4 and IPv6; in seed the hop after the balancer and the target's
#    depth agree with the branch the lab built;
#  - bleach and cemark: the quoted ECN and ecn_change per hop, JSON and text;
#  - UDP (-U) and ICMP (-I) traces reach the target at the lab's depth.
# Needs root; skips cleanly otherwise. Brings up its own lab instance and
# removes it on every exit path.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
ECNLAB=$ROOT/lab/ecnlab
ET=$ROOT/ecntrace
N=0

ok() { N=$((N + 1)); echo "ok $N - $*"; }
nok() { N=$((N + 1)); echo "not ok $N - $*"; }
diag() { echo "# $*"; }
skip_all() { echo "ok 1 # skip $*"; exit 0; }

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, raw sockets)"
ip netns list >/dev/null 2>&1 || skip_all "ip netns is not available"
for t in traceroute jq nft timeout; do
	command -v "$t" >/dev/null 2>&1 || skip_all "$t is not installed"
done
[ -x "$ECNLAB" ] || skip_all "lab/ecnlab is missing"
if [ ! -x "$ET" ]; then
	make -s ecntrace >/dev/null 2>&1 || { nok "build ecntrace"; exit 1; }
fi

LAB=et$$
TMP=$(mktemp -d /tmp/test_trace.XXXXXX)
cleanup() {
	trap '' INT TERM
	ECNLAB_NAME=$LAB "$ECNLAB" down >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a copy: a rebuild of ./ecntrace during the test must not change or
# break the binary under test.
cp "$ET" "$TMP/ecntrace" || { nok "copy ecntrace"; exit 1; }
ET=$TMP/ecntrace

# up SCENARIO: (re)build the lab and load its facts (ecnlab env).
up() {
	if ! ECNLAB_NAME=$LAB ECNLAB_SEED=1 "$ECNLAB" up "$1" >"$TMP/up.log" 2>&1; then
		nok "lab up $1"
		sed 's/^/# /' "$TMP/up.log" | tail -20
		exit 1
	fi
	eval "$(ECNLAB_NAME=$LAB "$ECNLAB" env)"
}

client() { timeout 120 ip netns exec "$CLIENT_NS" "$@"; }

# target FAMILY / famopt FAMILY
target() { if [ "$1" = 6 ]; then echo "$TARGET6"; else echo "$TARGET4"; fi; }
famopt() { if [ "$1" = 6 ]; then echo -6; else echo -4; fi; }

# et FAMILY OUTFILE ARGS...: ecntrace trace -n -q 1 ARGS --json TARGET.
# Returns ecntrace's exit code; stderr goes to OUTFILE.err.
et() {
	local fam=$1 out=$2
	shift 2
	client "$ET" trace $(famopt "$fam") -n -q 1 "$@" --json "$(target "$fam")" \
		>"$out" 2>"$out.err"
}

# et_hops FILE: the responding address per TTL, '*' for none.
et_hops() { jq -r '[.hops[] | .addr // "*"] | join(" ")' "$1"; }

# tr_hops FAMILY ARGS...: the same from Linux traceroute -q 1 -n.
tr_hops() {
	local fam=$1
	shift
	client traceroute $(famopt "$fam") -n -q 1 -w 2 "$@" "$(target "$fam")" 2>/dev/null |
		awk 'NR > 1 { printf "%s%s", sep, $2; sep = " " } END { print "" }'
}

# hop FILE TTL FIELD: one field of one hop ("null" when absent).
hop() { jq -r --argjson t "$2" ".hops[] | select(.ttl == \$t) | .$3" "$1"; }

# nth WORDS N
nth() { echo "$1" | awk -v n="$2" '{ print $n }'; }

tos_ecn=(not-ect ect1 ect0 ce)   # ECN codepoint name by TOS 0..3

# half_open NAMESPACE FAMILY SPORT: true if a server socket there is in
# SYN-RECV with the client's FAMILY address and SPORT as its peer (an IPv4
# peer of a dual-stack listener shows as [::ffff:a.b.c.d]).
half_open() {
	local peer
	if [ "$2" = 6 ]; then peer=$CLIENT6; else peer=$CLIENT4; fi
	ip netns exec "$1" ss -Htan state syn-recv |
		awk -v want="$peer:$3" '{ p = $4; gsub(/[][]/, "", p); sub(/^::ffff:/, "", p)
		     if (p == want) found = 1 } END { exit !found }'
}

# ------------------------------------------------------------------------
# compare SCENARIO FAMILY: ecntrace and traceroute list the same hops.
#
# Per source port, ecntrace traces the flow with each codepoint first, then
# traceroute does. Order matters in seed: the client kernel answers each
# SYN-ACK with a Not-ECT RST, which the balancer may send to the other
# site, so the site an ECT SYN reached would keep a half-open connection
# and answer the next SYN of that 4-tuple with a challenge ACK that matches
# no probe. ecntrace sends its own RST with the probe's TOS (it follows the
# probe) and leaves nothing behind, which this test checks at the sites and
# by tracing ECT(0) and ECT(1) a second time; traceroute does leave such
# connections, but nothing runs on that port after it.
compare() {
	local scen=$1 fam=$2 tos s a b seen_next="" k next dest want nexts hops
	local ports="40011 40127 40333 40469 41501" repeat_bad="" leftover=""
	local -a bad=("" "" "" "")
	local -A first_dest

	for s in $ports; do
		for tos in 0 1 2 3 2 1; do
			if ! et "$fam" "$TMP/et.$tos.json" --sport "$s" -p 80 -t "$tos"; then
				bad[$tos]="${bad[$tos]} sport=$s:exit-$?"
				sed 's/^/# /' "$TMP/et.$tos.json.err"
				continue
			fi
			dest=$(jq -r '.dest_ttl' "$TMP/et.$tos.json")
			if [ -z "${first_dest[$s.$tos]:-}" ]; then
				first_dest[$s.$tos]=$dest
			elif [ "$dest" != "${first_dest[$s.$tos]}" ]; then
				repeat_bad="$repeat_bad sport=$s/tos=$tos:${first_dest[$s.$tos]}->$dest"
			fi
		done
		# no connection of this flow left half-open at any site
		for k in $SITE_NODES; do
			if half_open "$NS_PREFIX$k" "$fam" "$s"; then
				leftover="$leftover $k:$s"
			fi
		done
		for tos in 0 1 2 3; do
			[ -s "$TMP/et.$tos.json" ] || continue
			a=$(et_hops "$TMP/et.$tos.json")
			b=$(tr_hops "$fam" -T -p 80 --sport="$s" -t "$tos")
			if [ "$a" != "$b" ]; then
				bad[$tos]="${bad[$tos]} sport=$s"
				diag "IPv$fam sport $s tos $tos: ecntrace:   $a"
				diag "IPv$fam sport $s tos $tos: traceroute: $b"
			fi
			[ "$scen" = seed ] || continue
			# The lab's own answer: the hop after the balancer is the
			# first router of a branch, and the target answers at that
			# branch's depth.
			next=$(hop "$TMP/et.$tos.json" $((BALANCER_HOP + 1)) addr)
			dest=$(jq -r '.dest_ttl' "$TMP/et.$tos.json")
			if [ "$fam" = 6 ]; then nexts=$BRANCH_NEXT6; else nexts=$BRANCH_NEXT4; fi
			hops=$BRANCH_HOPS want=""
			for k in $(seq "$BRANCHES"); do
				[ "$(nth "$nexts" "$k")" = "$next" ] && want=$(nth "$hops" "$k")
			done
			if [ -z "$want" ] || [ "$dest" != "$want" ]; then
				bad[$tos]="${bad[$tos]} sport=$s:branch"
				diag "IPv$fam sport $s tos $tos: hop $((BALANCER_HOP + 1)) is $next, target at $dest; branches $nexts at depths $hops"
			fi
			case " $seen_next " in *" $next "*) ;; *) seen_next="$seen_next $next" ;; esac
		done
		rm -f "$TMP"/et.?.json
	done
	for tos in 0 1 2 3; do
		if [ -z "${bad[$tos]}" ]; then
			ok "$scen IPv$fam tos $tos (${tos_ecn[$tos]}): ecntrace lists traceroute -T's hop per TTL, sports $ports"
		else
			nok "$scen IPv$fam tos $tos (${tos_ecn[$tos]}): differs for${bad[$tos]}"
		fi
	done
	if [ -z "$repeat_bad" ]; then
		ok "$scen IPv$fam: tracing a flow again (ect1, ect0) finds the target at the same TTL"
	else
		nok "$scen IPv$fam: a second trace of the same flow differs:$repeat_bad"
	fi
	if [ -z "$leftover" ]; then
		ok "$scen IPv$fam: ecntrace left no half-open connection at the sites ($SITE_NODES)"
	else
		nok "$scen IPv$fam: half-open connections left at:$leftover"
	fi
	if [ "$scen" = seed ]; then
		# With the TOS in the hash, 20 flows that cover all four
		# codepoints take both branches; if not, the test proved little.
		if [ "$(echo $seen_next | wc -w)" -ge 2 ]; then
			ok "seed IPv$fam: the flows compared took both branches ($seen_next )"
		else
			nok "seed IPv$fam: all flows took one branch ($seen_next ), the balancer's TOS hash was not exercised"
		fi
	fi
}

# ------------------------------------------------------------------------
# modifier SCENARIO FAMILY CHANGE NEWECN: for each codepoint, the quoted
# ECN per hop. A router quotes a packet as it received it, so the router
# at MODIFIER_HOP, which rewrites what it forwards, still quotes the value
# we sent; the first hop to quote the rewritten value is MODIFIER_HOP + 1.
# The target answers TCP with a SYN-ACK, which quotes nothing.
modifier() {
	local scen=$1 fam=$2 change=$3 newecn=$4 cp tos m=$MODIFIER_HOP ttl dest
	local want_ecn want_change got bad

	for cp in not-ect ect1 ect0 ce; do
		bad=""
		if ! et "$fam" "$TMP/m.json" --sport 43210 -p 80 --ecn "$cp"; then
			nok "$scen IPv$fam $cp: ecntrace exited non-zero"
			sed 's/^/# /' "$TMP/m.json.err"
			continue
		fi
		dest=$(jq -r '.dest_ttl' "$TMP/m.json")
		if [ "$dest" != "$BRANCH_HOPS" ]; then
			nok "$scen IPv$fam $cp: target at TTL $dest, the lab has it at $BRANCH_HOPS"
			continue
		fi
		for ttl in $(seq 1 $((dest - 1))); do
			want_ecn=$cp want_change=same
			if [ "$ttl" -gt "$m" ]; then
				case "$scen:$cp" in
				bleach:not-ect) ;;
				bleach:*) want_ecn=not-ect want_change=bleached ;;
				cemark:ect0 | cemark:ect1) want_ecn=ce want_change=ce-marked ;;
				esac
			fi
			got="$(hop "$TMP/m.json" "$ttl" quoted_ecn)/$(hop "$TMP/m.json" "$ttl" ecn_change)"
			[ "$got" = "$want_ecn/$want_change" ] ||
				bad="$bad ttl$ttl=$got(want $want_ecn/$want_change)"
		done
		[ "$(hop "$TMP/m.json" "$dest" reply)" = syn-ack ] || bad="$bad dest-reply"
		[ "$(hop "$TMP/m.json" "$dest" quoted_ecn)" = null ] || bad="$bad dest-quote"
		if [ -z "$bad" ] && [ "$want_change" = same ]; then
			ok "$scen IPv$fam $cp: quoted $cp unchanged at every hop"
		elif [ -z "$bad" ]; then
			ok "$scen IPv$fam $cp: quoted $cp up to TTL $m, $want_ecn ($want_change) from TTL $((m + 1)) (router at hop $m)"
		else
			nok "$scen IPv$fam $cp:$bad"
			jq -c '.hops[] | [.ttl, .addr, .quoted_ecn, .ecn_change]' "$TMP/m.json" | sed 's/^/# /'
		fi
	done

	# Text output: the mark sits on the line of TTL m+1, and not before.
	client "$ET" trace $(famopt "$fam") -n -q 1 --sport 43211 --ecn ect0 \
		"$(target "$fam")" >"$TMP/m.txt" 2>&1
	local line_m line_n
	line_m=$(awk -v t="$m" '$1 == t' "$TMP/m.txt")
	line_n=$(awk -v t=$((m + 1)) '$1 == t' "$TMP/m.txt")
	if echo "$line_m" | grep -q ' ect0$' &&
	   echo "$line_n" | grep -q " $newecn \[$change\]\$" &&
	   [ "$(grep -c "\[$change\]" "$TMP/m.txt")" = $((BRANCH_HOPS - 1 - m)) ]; then
		ok "$scen IPv$fam text: '$newecn [$change]' from TTL $((m + 1)) on, 'ect0' up to TTL $m"
	else
		nok "$scen IPv$fam text: mark not where the lab puts it"
		sed 's/^/# /' "$TMP/m.txt"
	fi

	# UDP: the target's port unreachable quotes the probe too, so the
	# last hop shows the rewritten value as well.
	if et "$fam" "$TMP/u.json" -U --sport 43212 --ecn ect0 &&
	   [ "$(hop "$TMP/u.json" "$BRANCH_HOPS" reply)" = port-unreachable ] &&
	   [ "$(hop "$TMP/u.json" "$BRANCH_HOPS" quoted_ecn)" = "$newecn" ] &&
	   [ "$(hop "$TMP/u.json" "$BRANCH_HOPS" ecn_change)" = "$change" ] &&
	   [ "$(hop "$TMP/u.json" "$m" ecn_change)" = same ]; then
		ok "$scen IPv$fam UDP: the target's port unreachable quotes $newecn ($change)"
	else
		nok "$scen IPv$fam UDP: target quote"
		jq -c '.hops[] | [.ttl, .addr, .reply, .quoted_ecn, .ecn_change]' "$TMP/u.json" | sed 's/^/# /'
	fi
}

# ------------------------------------------------------------------------
# reach FAMILY: UDP and ICMP traces reach the target at the lab's depth,
# through the same routers traceroute -U / -I sees.
reach() {
	local fam=$1 mode want a b
	for mode in -U -I; do
		if [ "$mode" = -U ]; then want=port-unreachable; else want=echo-reply; fi
		if ! et "$fam" "$TMP/r.json" "$mode" --sport 44001; then
			nok "single IPv$fam $mode: ecntrace exited non-zero"
			sed 's/^/# /' "$TMP/r.json.err"
			continue
		fi
		a=$(et_hops "$TMP/r.json")
		if [ "$mode" = -U ]; then
			b=$(tr_hops "$fam" -U -p 33434 --sport=44001)
		else
			b=$(tr_hops "$fam" -I)
		fi
		if [ "$(jq -r .reached "$TMP/r.json")" = true ] &&
		   [ "$(jq -r .dest_ttl "$TMP/r.json")" = "$BRANCH_HOPS" ] &&
		   [ "$(hop "$TMP/r.json" "$BRANCH_HOPS" addr)" = "$(target "$fam")" ] &&
		   [ "$(hop "$TMP/r.json" "$BRANCH_HOPS" reply)" = "$want" ] &&
		   [ "$a" = "$b" ]; then
			ok "single IPv$fam $mode: reaches $(target "$fam") at TTL $BRANCH_HOPS ($want), same hops as traceroute $mode"
		else
			nok "single IPv$fam $mode: did not reach the target as expected"
			diag "ecntrace:   $a"
			diag "traceroute: $b"
			jq -c '{reached, dest_ttl, stats}' "$TMP/r.json" | sed 's/^/# /'
		fi
	done
}

start=$(date +%s)
up seed
compare seed 4
compare seed 6

up single
compare single 4
compare single 6
reach 4
reach 6

up bleach
diag "bleach: MODIFIER_HOP=$MODIFIER_HOP MODIFIER=$MODIFIER target at $BRANCH_HOPS"
modifier bleach 4 bleached not-ect
modifier bleach 6 bleached not-ect

up cemark
diag "cemark: MODIFIER_HOP=$MODIFIER_HOP MODIFIER=$MODIFIER target at $BRANCH_HOPS"
modifier cemark 4 ce-marked ce
modifier cemark 6 ce-marked ce

ECNLAB_NAME=$LAB "$ECNLAB" down >/dev/null 2>&1
left=$(ip netns list | awk '{ print $1 }' | grep "^$LAB-")
if [ -z "$left" ]; then
	ok "lab instance $LAB torn down, no namespace left"
else
	nok "namespaces left behind: $left"
fi
diag "took $(($(date +%s) - start))s"
echo "1..$N"
