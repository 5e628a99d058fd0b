#!/bin/bash
# Machines the hop count cannot tell apart. In `equidistant` the anycast
# sites are as far away as each other, so the RST to the ECT(0) data has
# the SYN-ACK's TTL; in `lastrouter` the hashing router is also the last
# before the target, so no probe sees the paths part. The diagnosis must
# still name ecn-hash at the balancer's hop and count two machines, told
# apart by behaviour (the same flow sent entirely ECT(0) works). In
# `ectreset` a firewall resets ECT-marked data: the all-ECT(0) replay is
# reset too, so the cause is ect-reset at the firewall's hop, never
# ecn-hash. In `deep-silent` the router right after the split sends no
# time exceeded: the split is bounded (the router that parts the
# codepoints is the balancer, or that silent hop), so the cause gives the
# interval from the last router both codepoints reached and names no
# router. IPv4 and IPv6.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
BIN=${ECNTRACE:-$LAB_ROOT/ecntrace}
name=eq$$

diagnose() { # FAMILY: JSON into $TMP/d.json, exit code into RC
	RC=0
	if [ "$1" = 6 ]; then t=$TARGET6; else t=$TARGET4; fi
	on client timeout 120 "$BIN" -"$1" -q --json "$t" >"$TMP/d.json" 2>"$TMP/d.err" || RC=$?
}
q() { jq -r "$1" "$TMP/d.json" 2>/dev/null; }
balancer() { if [ "$1" = 6 ]; then echo "$BALANCER6"; else echo "$BALANCER4"; fi; }

# hash_case SCENARIO [SCENARIO_DIR]
hash_case() {
	local sc=$1 fam
	if ! ECNLAB_SCENARIOS=${2:-$LAB_ROOT/lab/scenarios} lab_up "$name" "$sc"; then
		nok "$sc lab comes up"
		return
	fi
	for fam in 4 6; do
		diagnose "$fam"
		check "$sc IPv$fam: broken, ecn-hash at hop $BALANCER_HOP ($(balancer $fam)) (exit $RC; $(q '[.verdict.causes[].kind, .verdict.causes[0].hop, .verdict.causes[0].addr] | @csv'))" \
			all '[ $RC = 1 ]' "[ \"\$(q '[.verdict.causes[].kind] | join(\",\")')\" = ecn-hash ]" \
			"[ \"\$(q '.verdict.causes[0].hop')\" = $BALANCER_HOP ]" \
			"[ \"\$(q '.verdict.causes[0].addr')\" = $(balancer $fam) ]"
		check "$sc IPv$fam: $SITES machines, one told apart by behaviour ($(q '[.anycast.endpoints[] | "\(.return_hops)/\(.told_apart_by)"] | join(" ")'))" \
			all "[ \"\$(q .anycast.sites)\" = $SITES ]" \
			"[ \"\$(q '[.anycast.endpoints[] | select(.told_apart_by == \"behaviour\")] | length')\" = 1 ]"
		check "$sc IPv$fam: the all-ECT(0) replays of the reset flows delivered ($(q .connection.all_ect.delivered) of $(q '.connection.all_ect.flows | length'))" \
			all "[ \"\$(q '.connection.all_ect.delivered')\" -ge 1 ]" \
			"[ \"\$(q '.connection.all_ect.reset')\" = 0 ]"
		check "$sc IPv$fam: no ecntrace_ table left" [ -z "$(on client nft list tables | grep ecntrace_)" ]
	done
}

hash_case equidistant
hash_case lastrouter "$LAB_ROOT/tests/lab/scenarios"
check "lastrouter: the split is put after the last router (divergence hop $(q .paths.divergence_hop))" \
	[ "$(q .paths.divergence_hop)" = $((BALANCER_HOP + 1)) ]
# The report draws the two machines as two sites, and the RST comes from
# the second one in the timeline. A run that ends other than broken (on a
# loaded machine the replay can leave the sites untold) draws no second
# site: asked once more, as a user would; a broken one must draw it.
chmod 755 "$TMP"
lr_sites() {
	grep -q "site 1 · ${BRANCH_HOPS%% *} hops back" "$TMP/lr.html" &&
		grep -q "site 2 · ${BRANCH_HOPS%% *} hops back" "$TMP/lr.html" &&
		grep -q 'another machine at the same distance' "$TMP/lr.html"
}
for attempt in 1 2; do
	rc=0
	on client "$BIN" -q --json --report "$TMP/lr.html" "$TARGET4" \
		>"$TMP/lr.json" 2>/dev/null || rc=$?
	lr_sites && break
	[ $rc = 1 ] && break
	diag "lastrouter report: exit $rc ($(jq -r .verdict.summary "$TMP/lr.json" 2>/dev/null)), no second site drawn; asked again"
done
check "lastrouter report: two sites at the same hop count, the RST from site 2 (attempt $attempt, exit $rc)" lr_sites

if ECNLAB_SCENARIOS=$LAB_ROOT/tests/lab/scenarios lab_up "$name" deep-silent; then
	for fam in 4 6; do
		diagnose "$fam"
		check "deep-silent IPv$fam: ecn-hash between hop $BALANCER_HOP ($(balancer $fam), the last router both codepoints reach) and the hop before the split, no router named ($(q '[.verdict.causes[].kind, .verdict.causes[0].hop, .verdict.causes[0].hop_first, .verdict.causes[0].hop_last, .verdict.causes[0].addr, .verdict.causes[0].first_addr] | @csv'))" \
			all '[ $RC = 1 ]' "[ \"\$(q '[.verdict.causes[].kind] | join(\",\")')\" = ecn-hash ]" \
			"[ \"\$(q '.verdict.causes[0].hop')\" = null ]" \
			"[ \"\$(q '.verdict.causes[0].addr')\" = null ]" \
			"[ \"\$(q '.verdict.causes[0].hop_first')\" = $BALANCER_HOP ]" \
			"[ \"\$(q '.verdict.causes[0].hop_last')\" = \$((\$(q .paths.divergence_hop) - 1)) ]" \
			"[ \"\$(q '.verdict.causes[0].first_addr')\" = $(balancer $fam) ]" \
			"q .verdict.summary | grep -Eq 'a router at (hop|one of hops) $BALANCER_HOP \\($(balancer $fam)\\) (or hop|to) '"
		check "deep-silent IPv$fam: the split is bounded, not pinned (unknown from hop $(q .paths.split_unknown_from), parts at hop $(q .paths.divergence_hop))" \
			all "[ \"\$(q .paths.split_unknown_from)\" = $((BALANCER_HOP + 1)) ]" \
			"[ \"\$(q .paths.divergence_hop)\" -gt $((BALANCER_HOP + 1)) ]" \
			"q .verdict.causes[0].evidence | grep -q 'not answer both codepoints'"
	done
else
	nok "deep-silent lab comes up"
fi

# A closed port: every SYN is refused, so the replay tells nothing about
# the machines; the path evidence still stands, as a latent fault (exit 3).
if lab_up "$name" seed; then
	RC=0
	on client timeout 120 "$BIN" -q --json -p 82 "$TARGET4" >"$TMP/d.json" 2>/dev/null || RC=$?
	check "seed, closed port 82: still ecn-hash at hop $BALANCER_HOP, latent (exit $RC; $(q '[.verdict.causes[].kind] | join(",")'), $(q .verdict.status))" \
		all '[ $RC = 3 ]' '[ "$(q .verdict.status)" = latent ]' "[ \"\$(q '[.verdict.causes[].kind] | join(\",\")')\" = ecn-hash ]" \
		"[ \"\$(q '.verdict.causes[0].hop')\" = $BALANCER_HOP ]"
fi
if lab_up "$name" single; then
	RC=0
	on client timeout 120 "$BIN" -q --json -p 82 "$TARGET4" >"$TMP/d.json" 2>/dev/null || RC=$?
	check "single, closed port 82: inconclusive, the summary says refused (exit $RC; $(q .verdict.summary))" \
		all '[ $RC = 2 ]' "q .verdict.summary | grep -q refused"
fi

if lab_up "$name" ectreset; then
	for fam in 4 6; do
		diagnose "$fam"
		check "ectreset IPv$fam: broken, ect-reset at hop $MODIFIER_HOP, no ecn-hash (exit $RC; $(q '[.verdict.causes[].kind, .verdict.causes[0].hop] | @csv'))" \
			all '[ $RC = 1 ]' "[ \"\$(q '[.verdict.causes[].kind] | join(\",\")')\" = ect-reset ]" \
			"[ \"\$(q '.verdict.causes[0].hop')\" = $MODIFIER_HOP ]"
		check "ectreset IPv$fam: the all-ECT(0) replays were reset too, and the firewall is no site ($(q .connection.all_ect.reset) reset, $(q .anycast.sites) site)" \
			all "[ \"\$(q '.connection.all_ect.reset')\" -ge 1 ]" \
			"[ \"\$(q '.connection.all_ect.delivered')\" = 0 ]" "[ \"\$(q .anycast.sites)\" = 1 ]"
	done
else
	nok "ectreset lab comes up"
fi
lab "$name" down
check "lab torn down" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
