#!/bin/bash
# The target's answer at its own TTL lost. In `unicast` both branches of
# the ECN-hashing balancer rejoin before one server, one branch a hop
# longer: the fault is latent. A rule in the server's namespace drops the
# trace's SYN when it arrives with TTL 1 (its probe at the server's own
# distance), so the trace sees the server one hop too far. When the trace
# took the longer branch, the screen (the hop before the "target") then
# probes the server itself over both branches, whose answers agree for
# every codepoint whatever the balancer does: the old diagnosis called that
# healthy. Now the screen moves one hop nearer, and a screen only the
# target answered proves no path: latent, at the balancer. IPv4 and IPv6;
# the trace's branch is read from its hop 3, and source ports are tried
# until two traces took the longer branch (at most 12).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
BIN=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$BIN" ] || skip_all "ecntrace is not built (make)"
name=lt$$
lab_up "$name" unicast || { nok "unicast lab comes up"; echo "1..$TAP_N"; exit 1; }
q() { jq -r "$1" "$TMP/d.json" 2>/dev/null; }
# The longer branch's first router (BRANCH_HOPS: the server's distance
# over each branch).
long=$(awk -v h="$BRANCH_HOPS" 'BEGIN { n = split(h, a, " "); print (a[2] > a[1]) ? 2 : 1 }')
far=$(nth "$BRANCH_HOPS" "$long")

on site-u nft -f - <<NFT || { nok "the drop rule is installed"; echo "1..$TAP_N"; exit 1; }
table inet losttarget {
	chain in {
		type filter hook input priority 0;
	}
}
NFT
for fam in 4 6; do
	if [ "$fam" = 6 ]; then t=$TARGET6 next=$(nth "$BRANCH_NEXT6" "$long") m="ip6 hoplimit"
	else t=$TARGET4 next=$(nth "$BRANCH_NEXT4" "$long") m="ip ttl"; fi
	seen=0 bad=""
	for ((k = 0; k < 12 && seen < 2; k++)); do
		sp=$((42000 + 100 * k + 1000 * fam))
		on site-u nft flush chain inet losttarget in
		on site-u nft add rule inet losttarget in $m 1 tcp sport $sp tcp flags syn drop
		RC=0
		on client timeout 120 "$BIN" -"$fam" -q --json --sport "$sp" "$t" >"$TMP/d.json" 2>"$TMP/d.err" || RC=$?
		[ "$(q '.trace.hops[2].probes[0].addr')" = "$next" ] || continue
		[ "$(q '[.trace.hops[] | select(.probes[0].addr == "'"$t"'")][0].ttl')" = $((far + 1)) ] || continue
		seen=$((seen + 1))
		diag "IPv$fam sport $sp: trace over the longer branch, server seen at hop $((far + 1)); exit $RC, $(q .verdict.status), [$(q '[.verdict.causes[].kind] | join(",")')] at $(q '.verdict.causes[0].hop'), screen at $(q .paths.screen_ttl)"
		[ "$RC" = 3 ] && [ "$(q .verdict.status)" = latent ] &&
			[ "$(q '[.verdict.causes[].kind] | join(",")')" = ecn-hash ] &&
			[ "$(q '.verdict.causes[0].hop')" = "$BALANCER_HOP" ] &&
			[ "$(q .paths.screen_ttl)" -lt "$far" ] || bad="$bad $sp"
	done
	if [ "$seen" = 0 ]; then
		skip "IPv$fam: no trace of 12 took the longer branch"
	else
		check "IPv$fam: the server's answer at its own TTL lost, the screen moves off the server: latent ecn-hash at hop $BALANCER_HOP in $seen of $seen${bad:+ (wrong:$bad)}" \
			[ -z "$bad" ]
	fi
done

echo "1..$TAP_N"
exit $TAP_FAILED
