#!/bin/bash
# --fields: each header field that moves a flow's path is found and
# located at the balancer, over IPv4 and IPv6, and nothing is charged on
# a healthy path:
#  - ttlhash (the edge hashes the 5-tuple and the TTL): latent ttl-hash in
#    an interval from the balancer's hop (the branch routers after it could
#    hash on the TTL as well), no router named; and behind twostage's
#    5-tuple front (ECNLAB_HASH=ttl) from the edge, not the front; the
#    default screen (ECN only) says nothing of it;
#  - cehash (the edge moves only CE packets, the gateway marks CE on ECT
#    data): broken, ce-hash at the balancer's hop, no ect-reset beside it;
#  - flowlabel (IPv6 balanced on the flow label): latent flowlabel-hash at
#    the balancer's hop over IPv6, "does not apply" over IPv4; and kernel
#    TCP connections (curl) all work, but break after a retransmission
#    timeout (the gateway drops the first data segment twice), after which
#    Linux sends with a new flow label. Whether fragments part from whole
#    datagrams (fragment-path) is what the lab measured (FRAG_PATH6); over
#    hash seeds, both outcomes;
#  - dscp (the edge hashes DSCP): the dscp-hash note at the balancer's hop;
#  - fixed (the kernel's 5-tuple multipath, fib_multipath_hash_policy=1):
#    fragment-path at the balancer over IPv4 and IPv6 where the lab
#    measured it (a fragment carries no ports, so the kernel hashes it on
#    addresses only, and some flows part); healthy with every other field;
#  - single: healthy with --fields all.
# Expected answers come from `ecnlab env`. FIELDS_RUNS=N repeats each
# diagnosis N times (bench/fields.sh counts them over 20).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
[ -x "$LAB_ROOT/ecntrace" ] || skip_all "ecntrace is not built (make)"
cp "$LAB_ROOT/ecntrace" "$TMP/ecntrace" && cp -r "$LAB_ROOT/lab" "$TMP/lab" ||
	skip_all "cannot copy ecntrace and lab/"
BIN=$TMP/ecntrace ECNLAB=$TMP/lab/ecnlab
name=fld$$
RUNS=${FIELDS_RUNS:-1}

target() { [ "$1" = 6 ] && echo "$TARGET6" || echo "$TARGET4"; }
balancer() { [ "$1" = 6 ] && echo "$BALANCER6" || echo "$BALANCER4"; }
diagnose() { # FAMILY ARGS...: JSON into $TMP/d.json, exit code into RC
	local fam=$1; shift
	RC=0
	on client timeout 120 "$BIN" -"$fam" -q --json "$@" "$(target "$fam")" \
		>"$TMP/d.json" 2>"$TMP/d.err" || RC=$?
}
q() { jq -r "$1" "$TMP/d.json" 2>/dev/null; }
kinds() { q '[.verdict.causes[].kind] | join(",")'; }
got() { echo "exit $RC; $(q '[.verdict.causes[] | "\(.kind)@\(.hop // "\(.hop_first)-\(.hop_last) from \(.first_addr)")"] | join(" ")'); notes $(q '[.verdict.notes[].kind] | join(",")'); fields $(q '[.paths.fields[] | "\(.field):\(.parted // "-")/\(.confidence // "-")"] | join(" ")')"; }

# valid NAME: the last diagnosis conforms to the schema, strictly (needs
# python3-jsonschema, else skipped).
valid() {
	local msg
	if ! /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
		skip "$1: python3-jsonschema is not installed"
		return
	fi
	if msg=$(/usr/bin/python3 "$LAB_ROOT/tests/schema_validate.py" --strict \
		"$LAB_ROOT/doc/ecntrace-schema.json" "$TMP/d.json"); then
		ok "$1: the JSON conforms to the schema (strict)"
	else
		nok "$1: the JSON conforms to the schema"
		echo "$msg" | head -5 | sed 's/^/# /'
	fi
}

# located FAMILY KIND: causes[0] is KIND at the balancer's hop and address
located() {
	[ "$(q '.verdict.causes[0].kind')" = "$2" ] &&
	[ "$(q '.verdict.causes[0].hop')" = "$BALANCER_HOP" ] &&
	[ "$(q '.verdict.causes[0].addr')" = "$(balancer "$1")" ]
}

# bounded FAMILY KIND: causes[0] is KIND in an interval from the
# balancer's hop, naming no router (the TTL's router cannot be told from
# the branch routers after it: review A3)
bounded() {
	[ "$(q '.verdict.causes[0].kind')" = "$2" ] &&
	[ "$(q '.verdict.causes[0].hop')" = null ] &&
	[ "$(q '.verdict.causes[0].hop_first')" = "$BALANCER_HOP" ] &&
	[ "$(q '.verdict.causes[0].hop_last')" -gt "$BALANCER_HOP" ] &&
	[ "$(q '.verdict.causes[0].first_addr')" = "$(balancer "$1")" ]
}

up() { lab_up "$name" "$1" "${2:-1}" >/dev/null || { nok "$1 lab comes up"; return 1; }; }

if up ttlhash; then
	for fam in 4 6; do
		for ((i = 1; i <= RUNS; i++)); do
			diagnose $fam --fields all
			check "ttlhash IPv$fam: latent ttl-hash from hop $BALANCER_HOP ($(balancer $fam)), no router named ($(got))" \
				all '[ $RC = 3 ]' '[ "$(kinds)" = ttl-hash ]' "bounded $fam ttl-hash" \
				"[ \"\$(q '.verdict.causes[0].facts.field')\" = ttl ]"
		done
		valid "ttlhash IPv$fam --fields all"
		chmod 755 "$TMP"
		on client "$BIN" -$fam -q --fields ttl --report "$TMP/ttl.html" "$(target $fam)" >/dev/null 2>&1
		check "ttlhash IPv$fam report: the TTL's finding, as an interval" \
			all "grep -q 'Load-balancing hash includes the TTL' '$TMP/ttl.html'" \
			"grep -q 'between hop $BALANCER_HOP and hop' '$TMP/ttl.html'"
		diagnose $fam
		check "ttlhash IPv$fam: the default screen (ECN) names nothing ($(got))" \
			all '[ $RC = 0 ]' '[ -z "$(kinds)" ]' "[ \"\$(q '.paths.fields | length')\" = 0 ]"
	done
fi

# twostage with the edge hashing the TTL: the front's 5-tuple multipath at
# hop 2 forks the flows first; the TTL's finding starts at the edge (hop 4,
# where the flows meet again), never at the front (review A3).
if ECNLAB_HASH=ttl up twostage; then
	for fam in 4 6; do
		for ((i = 1; i <= RUNS; i++)); do
			diagnose $fam --fields ttl
			check "twostage hash=ttl IPv$fam: ttl-hash from the edge's hop $BALANCER_HOP, not the front's fork ($(got))" \
				all '[ $RC = 3 ]' '[ "$(kinds)" = ttl-hash ]' "bounded $fam ttl-hash"
		done
	done
fi

# A hash that moves CE alone hides in each screened flow with probability
# 1/2 (the man page says so), so one diagnosis in about a hundred misses
# it: a miss is asked again once, and said.
if up cehash; then
	for fam in 4 6; do
		for ((i = 1; i <= RUNS; i++)); do
			diagnose $fam
			# a miss: no cause, or only the gateway's ce-marking
			if ! q '[.verdict.causes[].kind] | join(",")' | grep -q -v '^\(ce-marking\)\?$'; then
				diag "cehash IPv$fam: ce-hash missed ($(got)), asked again"
				diagnose $fam
			fi
			check "cehash IPv$fam: broken, ce-hash at hop $BALANCER_HOP ($(balancer $fam)), no ect-reset ($(got))" \
				all '[ $RC = 1 ]' "located $fam ce-hash" \
				"[ \"\$(q '.verdict.causes[0].latent')\" = false ]" \
				"[ \"\$(q '[.verdict.causes[] | select(.kind == \"ect-reset\" or .kind == \"ecn-hash\")] | length')\" = 0 ]" \
				"[ \"\$(q '.verdict.causes[0].facts.ce_only_flows')\" -ge 4 ]"
		done
		valid "cehash IPv$fam"
	done
fi

# rto_drop on|off: the gateway drops the first two transmissions of each
# connection's first data segment (two sets of source ports seen): the
# original and the tail loss probe, so the client kernel's retransmission
# timer fires, and Linux picks a new flow label (TcpTimeoutRehash). A drop
# in the client's own output hook would not do: a locally refused segment
# is sent again without a timeout.
rto_drop() {
	if [ "$1" = off ]; then on gw nft delete table inet fld_rto 2>/dev/null; return 0; fi
	on gw nft -f - <<-EOF
	table inet fld_rto {
	  set seen1 { type inet_service; flags dynamic,timeout; timeout 120s; }
	  set seen2 { type inet_service; flags dynamic,timeout; timeout 120s; }
	  chain drop_once {
	    type filter hook forward priority 0; policy accept;
	    ip6 daddr $TARGET6 tcp dport $HTTP_PORT tcp flags & (syn | rst | fin) == 0 meta length > 80 tcp sport != @seen1 add @seen1 { tcp sport } drop
	    ip6 daddr $TARGET6 tcp dport $HTTP_PORT tcp flags & (syn | rst | fin) == 0 meta length > 80 tcp sport != @seen2 add @seen2 { tcp sport } drop
	  }
	}
	EOF
}
# curls FROM: 16 GETs over IPv6 from ports FROM.., failures into FAILS
curls() {
	local p
	FAILS=0
	for ((p = $1; p < $1 + 16; p++)); do
		http 6 "$p" >/dev/null || FAILS=$((FAILS + 1))
	done
}

# fragpath FAMILY: ",fragment-path" if the lab measured that the kernel's
# multipath parts a flow's fragments from its whole datagrams (FRAG_PATH4,
# FRAG_PATH6: it turns on the kernel's hash seed), else nothing.
fragpath() { local v=FRAG_PATH$1; [ "${!v}" = parted ] && echo ,fragment-path; }
measured() { local v=FRAG_PATH$1; [ -n "${!v}" ]; }

if up flowlabel; then
	for ((i = 1; i <= RUNS; i++)); do
		diagnose 6 --fields all
		check "flowlabel IPv6: latent flowlabel-hash at hop $BALANCER_HOP ($(balancer 6)), fragment-path as the lab measured (${FRAG_PATH6:-unmeasured}) ($(got))" \
			all '[ $RC = 3 ]' 'measured 6' '[ "$(kinds)" = "flowlabel-hash$(fragpath 6)" ]' "located 6 flowlabel-hash"
		[ "$i" = 1 ] && valid "flowlabel IPv6 --fields all"
		# (IPv4 is balanced as in fixed, by the kernel's 5-tuple.)
		diagnose 4 --fields flowlabel
		check "flowlabel IPv4: healthy, the flow label does not apply ($(got))" \
			all '[ $RC = 0 ]' '[ -z "$(kinds)" ]' \
			"[ \"\$(q '.paths.fields[] | select(.field == \"flowlabel\") | .applies')\" = false ]"
	done
	if [ "$(on client sysctl -n net.ipv6.auto_flowlabels 2>/dev/null)" != 1 ] ||
	   [ "$(on client sysctl -n net.core.txrehash 2>/dev/null)" != 1 ]; then
		skip "flowlabel RTO: needs net.ipv6.auto_flowlabels=1 and net.core.txrehash=1"
	else
		curls 41000
		check "flowlabel: 16 kernel TCP connections without a timeout all work ($FAILS failed)" [ "$FAILS" = 0 ]
		if rto_drop on; then
			on client nstat -n 2>/dev/null
			curls 42000
			rto_drop off
			rehash=$(on client nstat -a 2>/dev/null | awk '$1 == "TcpExtTcpTimeoutRehash" { print $2 }')
			check "flowlabel: after a retransmission timeout (new flow label, ${rehash:-?} rehashes) kernel connections break ($FAILS of 16 failed)" \
				[ "$FAILS" -ge 1 ]
		else
			nok "flowlabel: the gateway's drop rule loads"
		fi
	fi
fi

# The flow label's balancer (IPv6 policy 0) hashes the next header, 44
# for a fragment and 17 for a whole UDP datagram: with flow label 0
# whether fragments part is one draw of the hash seed. Over seeds until
# each outcome was measured once (bounded), fragment-path follows it: a
# finding when parted, none when not.
if [ ! -e /proc/sys/net/ipv4/fib_multipath_hash_seed ]; then
	skip "flowlabel over seeds: the kernel takes no multipath seed (Linux < 6.11)"
else
	seen="" err=""
	for seed in 1 2 3 4 5 6 7 8; do
		up flowlabel "$seed" || { err=1; break; }
		measured 6 || { nok "flowlabel seed $seed: the lab measures where IPv6 fragments go"; err=1; break; }
		case " $seen " in *" $FRAG_PATH6 "*) continue;; esac
		seen="$seen $FRAG_PATH6"
		diagnose 6 --fields frag
		if [ "$FRAG_PATH6" = parted ]; then want=3; else want=0; fi
		check "flowlabel seed $seed IPv6 --fields frag: fragments $FRAG_PATH6 as the lab measured, so exit $want ($(got))" \
			all '[ $RC = $want ]' '[ "$(kinds)" = "$(fragpath 6 | cut -c2-)" ]'
		[ "$(echo $seen | wc -w)" = 2 ] && break
	done
	[ -n "$err" ] || [ "$(echo $seen | wc -w)" = 2 ] ||
		skip "flowlabel: seeds 1..8 all measured IPv6 fragments$seen: one outcome only"
fi

if up dscp; then
	for fam in 4 6; do
		diagnose $fam --fields dscp
		check "dscp IPv$fam: healthy, the dscp-hash note at hop $BALANCER_HOP ($(got))" \
			all '[ $RC = 0 ]' \
			"[ \"\$(q '.verdict.notes[] | select(.kind == \"dscp-hash\") | .hop')\" = $BALANCER_HOP ]" \
			"[ \"\$(q '.verdict.notes[] | select(.kind == \"dscp-hash\") | .facts.field')\" = dscp ]"
	done
fi

if up fixed; then
	for fam in 4 6; do
		for ((i = 1; i <= RUNS; i++)); do
			diagnose $fam --fields frag
			if [ "$(fragpath $fam)" ]; then
				check "fixed IPv$fam: latent fragment-path at hop $BALANCER_HOP ($(balancer $fam)) ($(got))" \
					all '[ $RC = 3 ]' '[ "$(kinds)" = fragment-path ]' "located $fam fragment-path"
			else
				check "fixed IPv$fam: no fragment-path where the lab measured none (${FRAG_PATH4:-unmeasured}/${FRAG_PATH6:-unmeasured}) ($(got))" \
					all 'measured $fam' '[ $RC = 0 ]' '[ -z "$(kinds)" ]'
			fi
		done
		valid "fixed IPv$fam --fields frag"
	done
	for fam in 4 6; do
		diagnose $fam --fields ttl,flowlabel,dscp
		check "fixed IPv$fam: healthy with --fields ttl,flowlabel,dscp ($(got))" \
			all '[ $RC = 0 ]' '[ -z "$(kinds)" ]' \
			"[ \"\$(q '[.paths.fields[] | select(.applies and .moves_path)] | length')\" = 0 ]"
	done
fi

if up single; then
	for fam in 4 6; do
		diagnose $fam --fields all
		check "single IPv$fam: healthy with --fields all ($(got))" \
			all '[ $RC = 0 ]' '[ -z "$(kinds)" ]' \
			"[ \"\$(q '[.paths.fields[] | select(.applies and .moves_path)] | length')\" = 0 ]"
		valid "single IPv$fam --fields all"
	done
fi
check "no ecntrace_ table left on the client" [ -z "$(on client nft list tables 2>/dev/null | grep ecntrace_)" ]
echo "1..$TAP_N"
exit $TAP_FAILED
