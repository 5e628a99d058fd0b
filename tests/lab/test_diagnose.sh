#!/bin/bash
# `ecntrace HOST` gives the right verdict on every lab scenario, over IPv4
# and IPv6: the story network is broken by an ECN hash at the balancer's
# hop with two anycast sites; the fixed, DSCP-only, unicast and single-path
# networks are healthy; per-packet balancing, bleaching, CE marking, an ECT
# black hole and a SYN-resetting firewall are each named at their hop; and
# the story is still found when the routers after the split are silent.
# Expected answers come from `ecnlab env` (BALANCER_HOP, BALANCER4/6,
# SITES, MODIFIER_HOP), never from addresses written here. After every run
# the client namespace has no ecntrace_ nft table left.
#
# DIAG_SPORT sets the first source port (default 31000); the source port
# decides which flows the screen uses, so a failure is replayed with it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
[ -x "$LAB_ROOT/ecntrace" ] || skip_all "ecntrace is not built (make)"
# Private copies of the binary and the lab: the tree is shared, and a
# rebuild or an edit in the middle of a run must not change its answers.
cp "$LAB_ROOT/ecntrace" "$TMP/ecntrace" && cp -r "$LAB_ROOT/lab" "$TMP/lab" ||
	skip_all "cannot copy ecntrace and lab/"
ECNTRACE=$TMP/ecntrace ECNLAB=$TMP/lab/ecnlab

SPORT=${DIAG_SPORT:-31000}
SCENARIOS=${LAB_SCENARIOS:-"seed fixed perpacket deep dscp unicast single bleach cemark ectdrop synreset"}

target() { [ "$1" = 6 ] && echo "$TARGET6" || echo "$TARGET4"; }
balancer() { [ "$1" = 6 ] && echo "$BALANCER6" || echo "$BALANCER4"; }
# node_addr FAMILY NODE: the address NODE answers from (facing the client),
# from the node table of `ecnlab show`.
node_addr() {
	lab "$LAB_NAME" show | awk -v n="$2" -v c=$(($1 == 6 ? 5 : 4)) '$1 ~ /^[0-9]+$/ && $2 == n { print $c; exit }'
}

# diagnose FAMILY SPORT [ARGS...]: run ecntrace --json in the client; the
# document goes to $OUT, the exit code to RC, the wall time (ms) to MS.
# Also checks that the nft guard table is gone afterwards.
OUT=$TMP/out.json
diagnose() {
	local fam=$1 sp=$2 t0 t1 left; shift 2
	t0=$(date +%s%N)
	ip netns exec "$CLIENT_NS" timeout 60 "$ECNTRACE" -q --json -"$fam" --sport "$sp" "$@" \
		"$(target "$fam")" >"$OUT" 2>"$TMP/err"
	RC=$?
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
	jq -e . "$OUT" >/dev/null 2>&1 || { diag "no JSON (exit $RC): $(head -c 300 "$TMP/err")"; echo '{}' >"$OUT"; }
	left=$(ip netns exec "$CLIENT_NS" nft list tables 2>/dev/null | grep -c ecntrace_)
	check "$LAB_SCENARIO IPv$fam: no ecntrace_ nft table left in the client" [ "$left" = 0 ]
}
# q FILTER: jq -r on the last document.
q() { jq -r "$1" "$OUT" 2>/dev/null; }
causes() { q '[.verdict.causes[]?.kind] | join(",")'; }
notes() { q '[.verdict.notes[]?.kind] | join(",")'; }
# cause_hop KIND / cause_addr KIND / cause_conf KIND: of the first such cause.
cause_hop() { q "[.verdict.causes[]? | select(.kind == \"$1\")][0].hop"; }
cause_addr() { q "[.verdict.causes[]? | select(.kind == \"$1\")][0].addr"; }
cause_conf() { q "[.verdict.causes[]? | select(.kind == \"$1\")][0].confidence"; }
# cause_span KIND: "FIRST-LAST" of the first such cause; in_span KIND HOP:
# the cause names HOP, or bounds an interval that holds it.
cause_span() { q "[.verdict.causes[]? | select(.kind == \"$1\")][0] | \"\\(.hop_first)-\\(.hop_last)\""; }
in_span() {
	local h f l
	h=$(cause_hop "$1") f=$(q "[.verdict.causes[]? | select(.kind == \"$1\")][0].hop_first") l=$(q "[.verdict.causes[]? | select(.kind == \"$1\")][0].hop_last")
	[ "$h" = "$2" ] || { [ "$h" = null ] && [ "$f" != null ] && [ "$f" -le "$2" ] && [ "$l" -ge "$2" ]; }
}
has() { case ",$1," in *",$2,"*) return 0;; esac; return 1; }
# summary: one line for the log after each run.
summary() {
	diag "$LAB_SCENARIO IPv$1 sport $2: exit $RC, $(q .verdict.status), causes [$(causes)]," \
		"notes [$(notes)], lb $(q .paths.load_balancing), split $(q .paths.divergence_hop)," \
		"sites $(q .anycast.sites), $(q .stats.path_probes) path probes, ${MS} ms"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0 && a != "" && a != "null") }'; }

scenario_checks() { # FAMILY SPORT
	local fam=$1 sp=$2 s=$LAB_SCENARIO v=IPv$1 h
	case $s in
	seed|deep)
		check "$s $v: exit 1, status broken (exit $RC, $(q .verdict.status))" \
			all '[ "$RC" = 1 ]' '[ "$(q .verdict.status)" = broken ]'
		check "$s $v: cause ecn-hash at hop $BALANCER_HOP ($(balancer "$fam")): got [$(causes)] at $(cause_hop ecn-hash) ($(cause_addr ecn-hash))" \
			all '[ "$(cause_hop ecn-hash)" = "$BALANCER_HOP" ]' '[ "$(cause_addr ecn-hash)" = "$(balancer "$fam")" ]'
		check "$s $v: anycast.sites = $SITES ($(q .anycast.sites))" [ "$(q .anycast.sites)" = "$SITES" ]
		check "$s $v: paths.ecn_dependent, divergence_hop = $((BALANCER_HOP + 1)) ($(q .paths.ecn_dependent), $(q .paths.divergence_hop))" \
			all '[ "$(q .paths.ecn_dependent)" = true ]' '[ "$(q .paths.divergence_hop)" = $((BALANCER_HOP + 1)) ]'
		check "$s $v: ecn-hash confidence >= 0.99 ($(cause_conf ecn-hash))" ge "$(cause_conf ecn-hash)" 0.99
		if [ "$s" = seed ]; then
			h=$(q .stats.path_probes)
			check "$s $v: stats.path_probes reported ($h; the issue's goal is <= 60$([ "${h:-99}" -le 60 ] 2>/dev/null || echo ', MISSED'))" \
				all '[[ $h =~ ^[0-9]+$ ]]' '[[ $(q .stats.probes_sent) =~ ^[0-9]+$ ]]'
		fi;;
	fixed)
		check "$s $v: exit 0, healthy, per-flow, note safe-multipath, no cause (exit $RC, $(q .verdict.status), $(q .paths.load_balancing), notes [$(notes)], causes [$(causes)])" \
			all '[ "$RC" = 0 ]' '[ "$(q .verdict.status)" = healthy ]' \
			'[ "$(q .paths.load_balancing)" = per-flow ]' 'has "$(notes)" safe-multipath' '[ -z "$(causes)" ]';;
	perpacket)
		check "$s $v: cause per-packet-lb, no ecn-hash (causes [$(causes)])" \
			all 'has "$(causes)" per-packet-lb' '! has "$(causes)" ecn-hash'
		check "$s $v: per-packet-lb at hop $BALANCER_HOP ($(cause_hop per-packet-lb))" \
			[ "$(cause_hop per-packet-lb)" = "$BALANCER_HOP" ];;
	dscp)
		check "$s $v: exit 0, healthy, note dscp-hash, no cause (exit $RC, $(q .verdict.status), notes [$(notes)], causes [$(causes)])" \
			all '[ "$RC" = 0 ]' '[ "$(q .verdict.status)" = healthy ]' 'has "$(notes)" dscp-hash' '[ -z "$(causes)" ]';;
	unicast)
		check "$s $v: exit 3, latent, ecn-hash at hop $BALANCER_HOP marked latent, 1 site (exit $RC, $(q .verdict.status), causes [$(causes)] at $(cause_hop ecn-hash) latent $(q '[.verdict.causes[]?|select(.kind=="ecn-hash")][0].latent'), sites $(q .anycast.sites))" \
			all '[ "$RC" = 3 ]' '[ "$(q .verdict.status)" = latent ]' '[ "$(cause_hop ecn-hash)" = "$BALANCER_HOP" ]' \
			'[ "$(q "[.verdict.causes[]?|select(.kind==\"ecn-hash\")][0].latent")" = true ]' \
			'[ "$(q .anycast.sites)" = 1 ]' '[ "$SITES" = 1 ]';;
	single)
		check "$s $v: exit 0, healthy, load_balancing none (exit $RC, $(q .verdict.status), $(q .paths.load_balancing), causes [$(causes)])" \
			all '[ "$RC" = 0 ]' '[ "$(q .verdict.status)" = healthy ]' '[ "$(q .paths.load_balancing)" = none ]' '[ -z "$(causes)" ]';;
	bleach|cemark|ectdrop|synreset)
		local kind
		case $s in bleach) kind=bleaching;; cemark) kind=ce-marking;;
		ectdrop) kind=ect-blackhole;; synreset) kind=syn-ecn-reset;; esac
		check "$s $v: exit 1, cause $kind at hop $MODIFIER_HOP or an interval holding it (exit $RC, causes [$(causes)], hop $(cause_hop $kind), $(cause_span $kind))" \
			all '[ "$RC" = 1 ]' 'has "$(causes)" $kind' 'in_span $kind "$MODIFIER_HOP"'
		h=$(node_addr "$fam" "$MODIFIER_NODE")
		check "$s $v: $kind names $MODIFIER_NODE's address ${h:-?}, or no router when only bounded ($(cause_addr $kind))" \
			all '[ -n "$h" ]' '[ "$(cause_addr $kind)" = "$h" ] || { [ "$(cause_addr $kind)" = null ] && [ "$(cause_hop $kind)" = null ]; }'
		check "$s $v: no path cause besides it (causes [$(causes)])" \
			all '! has "$(causes)" ecn-hash' '! has "$(causes)" per-packet-lb';;
	*)
		diag "$s: no expectations written for this scenario";;
	esac
}

start=$(date +%s)
i=0
for s in $SCENARIOS; do
	i=$((i + 1))
	name=dg$$s$i
	if ! lab_up "$name" "$s"; then
		nok "$s lab comes up"
		continue
	fi
	for fam in 4 6; do
		sp=$((SPORT + fam * 1000))
		diagnose "$fam" "$sp"
		summary "$fam" "$sp"
		scenario_checks "$fam" "$sp"
	done
	if [ "$s" = seed ]; then
		# The text a person reads: it ends with what to do, naming the hop.
		for fam in 4 6; do
			sp=$((SPORT + fam * 1000 + 200))
			ip netns exec "$CLIENT_NS" timeout 60 "$ECNTRACE" -q -"$fam" --sport "$sp" \
				"$(target "$fam")" >"$TMP/text" 2>"$TMP/err"
			RC=$?
			last=$(tail -n 1 "$TMP/text")
			check "seed IPv$fam text: exit 1, ends with advice naming hop $BALANCER_HOP ($(balancer "$fam")) and net.ipv4.tcp_ecn=2" \
				all '[ "$RC" = 1 ]' \
				'[[ $last == *"hop $BALANCER_HOP ($(balancer "$fam"))"* ]]' \
				'[[ $last == *"net.ipv4.tcp_ecn=2"* ]]'
			[ "$RC" = 1 ] && [[ $last == *tcp_ecn=2* ]] || sed 's/^/# | /' "$TMP/text"
			# The census says what was measured, two return hop
			# counts, and counts no machines.
			ep=$(grep '^  endpoints' "$TMP/text")
			check "seed IPv$fam text: endpoints line lists the two hop counts, names no machines ($ep)" \
				all '[[ $ep =~ ^"  endpoints for $(target "$fam"): answers from "[0-9]+" hops back, "[0-9]+" hops back"$ ]]' \
				'[[ $ep != *machine* ]]'
			left=$(ip netns exec "$CLIENT_NS" nft list tables 2>/dev/null | grep -c ecntrace_)
			check "seed IPv$fam text: no ecntrace_ nft table left in the client" [ "$left" = 0 ]
		done
	fi
	if [ "$s" = seed ]; then
		# Routers after the split that never answer, as on many real
		# paths: no probe can locate the split, but the replay still
		# proves the story (ECT(0) data reset by the other site).
		silent=$(lab "$name" show | awk -v b="$BALANCER_HOP" \
			'$1 ~ /^[0-9]+$/ && $1 > b && $3 == "router" { print $2 }')
		for n in $silent; do
			printf 'table inet silent {\n chain out {\n type filter hook output priority 0; policy accept;\n icmp type time-exceeded drop\n icmpv6 type time-exceeded drop\n }\n}\n' |
				on "$n" nft -f - || nok "silence $n"
		done
		for fam in 4 6; do
			sp=$((SPORT + fam * 1000 + 400))
			diagnose "$fam" "$sp"
			summary "$fam" "$sp"
			h=$(cause_hop ecn-hash)
			check "seed, branch routers ($(echo $silent)) silent, IPv$fam: exit 1, ecn-hash at hop $BALANCER_HOP or not located ($RC, [$(causes)], hop $h), $SITES sites ($(q .anycast.sites))" \
				all '[ "$RC" = 1 ]' 'has "$(causes)" ecn-hash' \
				'[ "$h" = null ] || [ "$h" = "$BALANCER_HOP" ]' '[ "$(q .anycast.sites)" = "$SITES" ]'
		done
	fi
	lab "$name" down
	check "$s lab is gone" [ -z "$(lab_namespaces "$name")" ]
done
diag "$(($(date +%s) - start)) s in all"
exit $TAP_FAILED
