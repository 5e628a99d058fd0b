#!/bin/bash
# QUIC against a real QUIC stack: ngtcp2's example server (Debian's
# ngtcp2-server, gtlsserver, with GnuTLS) replaces the lab's own Version
# Negotiation responder on every site. ngtcp2 answers ecntrace's probe (a
# 1200-byte long header of a reserved version) with a Version Negotiation
# that lists a reserved version of its own and QUIC v1, the same on every
# site. So:
#  - `trace --quic` reaches the target and reads that list (grease and
#    0x00000001), IPv4 and IPv6;
#  - on seed (ECN hash at the balancer, two sites) `ecntrace --quic` finds
#    the split at the balancer but cannot show another machine, since the
#    sites' answers are alike: latent, exit 3, never broken;
#  - fixed and single stay healthy;
#  - the lab's `down` stops the servers (they run in its namespaces).
# This is the check that the probe, the parser and the verdict hold with an
# implementation we did not write; test_quic.sh covers the rest with the
# lab's responder, whose versions name the sites.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
command -v gtlsserver >/dev/null 2>&1 || skip_all "gtlsserver is not installed (package ngtcp2-server)"
command -v openssl >/dev/null 2>&1 || skip_all "openssl is not installed"
[ -x "$LAB_ROOT/ecntrace" ] || skip_all "ecntrace is not built (make)"
ECNTRACE=$LAB_ROOT/ecntrace

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -subj /CN=ecnlab -days 2 \
	>/dev/null 2>&1 || skip_all "openssl cannot make a test certificate"

target() { [ "$1" = 6 ] && echo "$TARGET6" || echo "$TARGET4"; }
OUT=$TMP/out.json
q() { jq -r "$1" "$OUT" 2>/dev/null; }

# ngtcp2_sites: on every site of the current lab, stop the lab's responder
# (only the processes of that site's namespace) and start gtlsserver on
# both target addresses; wait until the four sockets of each site listen.
ngtcp2_sites() {
	local s p a k n
	for s in $SITE_NODES; do
		for p in $(ip netns pids "$LAB_NAME-$s"); do
			grep -qs quic_vn_responder.py "/proc/$p/cmdline" && kill "$p"
		done
		for a in "$TARGET4" "$TARGET6"; do
			on "$s" gtlsserver -q "$a" 443 "$TMP/key.pem" "$TMP/cert.pem" \
				</dev/null >>"$TMP/ngtcp2-$s.log" 2>&1 &
		done
	done
	for ((k = 0; k < 100; k++)); do
		n=0
		for s in $SITE_NODES; do
			n=$((n + $(on "$s" ss -Huln 'sport = :443' | grep -c .)))
		done
		[ "$n" = $((2 * SITES)) ] && return 0
		sleep 0.05
	done
	diag "gtlsserver did not start: $(cat "$TMP"/ngtcp2-*.log 2>/dev/null | head -c 300)"
	return 1
}

# reserved V...: one of the versions is of the reserved form 0x?a?a?a?a.
reserved() { local x; for x in "$@"; do [ $((x & 0x0f0f0f0f)) = $((0x0a0a0a0a)) ] && return 0; done; return 1; }

# run FAMILY ARGS...: ecntrace ARGS --json in the client, to $OUT and $RC.
run() {
	local fam=$1; shift
	ip netns exec "$CLIENT_NS" timeout 90 "$ECNTRACE" "$@" --quiet --json -"$fam" \
		"$(target "$fam")" >"$OUT" 2>"$TMP/err"
	RC=$?
	jq -e . "$OUT" >/dev/null 2>&1 || { diag "no JSON (exit $RC): $(head -c 300 "$TMP/err")"; echo '{}' >"$OUT"; }
}

for scen in seed fixed single; do
	name=qn$$$scen
	if ! lab_up "$name" "$scen"; then
		nok "$scen lab comes up"
		continue
	fi
	if ! ngtcp2_sites; then
		nok "$scen: gtlsserver runs on every site"
		lab "$name" down >/dev/null 2>&1
		continue
	fi
	for fam in 4 6; do
		if [ "$scen" = seed ]; then
			run "$fam" trace --quic
			v=$(q '[.hops[-1].probes[]?.quic_versions[]?] | unique | join(" ")')
			[ -n "$v" ] || v=$(q '[.. | .quic_versions? // empty | .[]] | unique | join(" ")')
			check "seed IPv$fam: trace --quic reaches the target, whose ngtcp2 lists grease and v1 ($RC, $(q .reached) [$v])" \
				all '[ "$RC" = 0 ]' '[ "$(q .reached)" = true ]' \
				'case " $v " in *" 0x00000001 "*) true;; *) false;; esac' \
				'[ "$(echo $v | wc -w)" = 2 ]' 'reserved $v'
		fi
		run "$fam" --quic
		st=$(q .verdict.status)
		kinds=$(q '[.verdict.causes[]?.kind] | join(",")')
		diag "$scen IPv$fam --quic: exit $RC, $st, causes [$kinds] at $(q '.verdict.causes[0].hop'), sites $(q .anycast.sites), moved $(q '.sites | "\(.ecn_moved)/\(.ecn_trials) vs \(.control_moved)/\(.control_trials)"')"
		case $scen in
		seed)
			check "seed IPv$fam: ngtcp2 sites answer alike, so the balancer's split is latent, never broken (exit $RC, $st)" \
				all '[ "$RC" = 3 ]' '[ "$st" = latent ]' '[ "$kinds" = ecn-hash ]' \
				'[ "$(q .verdict.causes[0].hop)" = "$BALANCER_HOP" ]' \
				'[ "$(q .verdict.causes[0].latent)" = true ]' \
				'[ "$(q .sites.ecn_moved)" = 0 ]'
			;;
		*)
			check "$scen IPv$fam: healthy against ngtcp2 (exit $RC, $st, [$kinds])" \
				all '[ "$RC" = 0 ]' '[ "$st" = healthy ]' '[ -z "$kinds" ]'
			;;
		esac
	done
	lab "$name" down >/dev/null 2>&1
	left=$(pgrep -x gtlsserver | while read -r p; do
		grep -qs -- "$TMP/key.pem" "/proc/$p/cmdline" && echo "$p"; done | wc -l)
	check "$scen: down stops the ngtcp2 servers ($left left)" [ "$left" = 0 ]
done

echo "1..$TAP_N"
exit $TAP_FAILED
