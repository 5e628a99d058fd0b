#!/bin/bash
# Repeated with several hash seeds, never a false ecn-hash: for each seed in
# LAB_SEEDS the networks whose hash ignores ECN (fixed, dscp), that balance
# per packet (perpacket), whose ECN-dependent branches meet at one server
# (unicast: a latent ecn-hash, exit 3, never a breaking one) or that do not
# balance at all (single) never get an ecn-hash cause that breaks; the story network (seed) and the deep 3-way ECN hash (deep) always
# do, at the balancer's hop. Over IPv4 and IPv6. The first source port moves
# with the seed too, so each run screens other flows; a failure is replayed
# with ECNLAB_SEED and the sport printed in its line.
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

SEEDS=${LAB_SEEDS:-"1 2 77 4242 0xdeadbeef"}
NEGATIVE=${LAB_NEGATIVE:-"fixed dscp perpacket unicast single"}
POSITIVE=${LAB_POSITIVE:-"seed deep"}
OUT=$TMP/out.json

target() { [ "$1" = 6 ] && echo "$TARGET6" || echo "$TARGET4"; }
balancer() { [ "$1" = 6 ] && echo "$BALANCER6" || echo "$BALANCER4"; }
q() { jq -r "$1" "$OUT" 2>/dev/null; }
causes() { q '[.verdict.causes[]?.kind] | join(",")'; }
# breaking: the causes that break connections today (not latent ones).
breaking() { q '[.verdict.causes[]? | select(.latent != true) | .kind] | join(",")'; }
ecn_hash() { q '[.verdict.causes[]? | select(.kind == "ecn-hash")][0] | "\(.hop) \(.addr)"'; }

# diagnose FAMILY SPORT: ecntrace --json in the client; sets RC, OUT.
diagnose() {
	ip netns exec "$CLIENT_NS" timeout 60 "$ECNTRACE" -q --json -"$1" --sport "$2" \
		"$(target "$1")" >"$OUT" 2>"$TMP/err"
	RC=$?
	jq -e . "$OUT" >/dev/null 2>&1 || { diag "no JSON (exit $RC): $(head -c 300 "$TMP/err")"; echo '{}' >"$OUT"; }
}

start=$(date +%s)
runs=0 n=0
for seed in $SEEDS; do
	n=$((n + 1))
	sport=$((20000 + n * 700))
	for s in $POSITIVE $NEGATIVE; do
		name=ds$$n$s
		if ! lab_up "$name" "$s" "$seed"; then
			nok "$s lab comes up (hash seed $seed)"
			continue
		fi
		for fam in 4 6; do
			diagnose "$fam" "$sport"
			runs=$((runs + 1))
			what="$s seed $seed IPv$fam sport $sport: exit $RC, $(q .verdict.status), causes [$(causes)]"
			case " $POSITIVE " in
			*" $s "*)
				check "$what: ecn-hash at hop $BALANCER_HOP ($(balancer "$fam")), got '$(ecn_hash)'" \
					[ "$(ecn_hash)" = "$BALANCER_HOP $(balancer "$fam")" ]
				# Tell a wrong verdict from a lab that did not hash on ECN.
				[ "$(ecn_hash)" = "$BALANCER_HOP $(balancer "$fam")" ] ||
					diag "balancer's rule: $(lab "$name" exec "$BALANCER_NODE" -- nft list ruleset | grep -m1 "nfproto ipv$fam")";;
			*)
				check "$what: no ecn-hash that breaks" all '[ -n "$(q .verdict.status)" ]' \
					'[[ ,$(breaking), != *,ecn-hash,* ]]'
				# What the network is, besides: healthy unless it breaks
				# every connection by balancing per packet; the unicast
				# network's ECN-dependent path is a latent fault.
				if [ "$s" = perpacket ]; then
					check "$what: per-packet-lb" all '[[ ,$(causes), == *,per-packet-lb,* ]]'
				elif [ "$s" = unicast ]; then
					check "$what: latent, exit 3, ecn-hash at hop $BALANCER_HOP" all '[ "$RC" = 3 ]' \
						'[ "$(q .verdict.status)" = latent ]' '[ "$(ecn_hash)" = "$BALANCER_HOP $(balancer "$fam")" ]'
				else
					check "$what: healthy, exit 0" all '[ "$RC" = 0 ]' '[ "$(q .verdict.status)" = healthy ]'
				fi;;
			esac
		done
		lab "$name" down
		[ -z "$(lab_namespaces "$name")" ] || nok "$s lab (hash seed $seed) is gone"
	done
done
diag "$runs diagnoses in $(($(date +%s) - start)) s"
exit $TAP_FAILED
