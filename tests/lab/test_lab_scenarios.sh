#!/bin/bash
# Every scenario comes up, agrees with what `ecnlab env` claims about it when
# measured with Linux traceroute from the client, behaves as its hash policy
# or modifier says, and goes away without leaving anything behind.
#
# Expectations come from `ecnlab env` (HASH, BALANCER_HOP, BRANCH_HOPS, ...),
# never from addresses written here.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab

PORTS=16                # flows per TOS value and family in the path checks
QUOTES=$LAB_ROOT/tests/lab/icmp_quotes.py
SCENARIOS=${LAB_SCENARIOS:-$("$ECNLAB" list | awk '{ print $1 }')}

target() { [ "$1" = 6 ] && echo "$TARGET6" || echo "$TARGET4"; }
balancer() { [ "$1" = 6 ] && echo "$BALANCER6" || echo "$BALANCER4"; }
max_hop() { echo $BRANCH_HOPS | tr ' ' '\n' | sort -n | tail -1; }

# pos WORD WORDS...: 1-based position of WORD among WORDS, empty if absent
# (pure bash: path_checks calls it hundreds of times).
pos() { local w=$1 i=0 x; shift; for x in "$@"; do i=$((i + 1)); [ "$x" = "$w" ] && { echo $i; return; }; done; }

# branch_of FAMILY PATH: the branch a traceroute path took, checked against
# the env facts; prints the branch number, or "bad:<why>".
branch_of() {
	local fam=$1 k h p=($2) hops=($BRANCH_HOPS) next split
	if [ "$fam" = 6 ]; then next=($BRANCH_NEXT6); else next=($BRANCH_NEXT4); fi
	if [ -n "$BALANCER_HOP" ] && [ "${p[BALANCER_HOP - 1]:-}" != "$(balancer "$fam")" ]; then
		echo "bad:hop-$BALANCER_HOP-is-${p[BALANCER_HOP - 1]:-none}"; return
	fi
	if [ "$BRANCHES" = 1 ]; then k=1
	else
		split=${BALANCER_HOP:-$((hops[0] - 1))}
		k=$(pos "${p[split]:-}" "${next[@]}")
	fi
	[ -n "$k" ] || { echo "bad:unknown-branch"; return; }
	h=$(pos "$(target "$fam")" "${p[@]}")
	if [ "$h" != "${hops[k - 1]}" ] || [ "$h" != "${#p[@]}" ]; then
		echo "bad:branch-$k-ends-at-${h:-never}"; return
	fi
	echo "$k"
}

# path_checks: traceroutes over PORTS flows with TOS 0, 2 (ECT(0)) and 0x80
# (DSCP only), both families; consistency with env and the policy's
# sensitivity to ECN and DSCP.
path_checks() {
	local fam tos p k bad n_ecn n_dscp seen path toses="0 2 128" n ports=$PORTS want try
	# ECT probes vanish in an ECT black hole: the modifier checks cover that.
	case " $MODIFIER " in *" drop-ect "*) toses="0 128";; esac
	# One path: a few flows show it; balancing needs the full PORTS.
	[ "$BRANCHES" = 1 ] && ports=4
	n=$(($(echo $toses | wc -w) * ports))
	for fam in 4 6; do
		bad="" n_ecn=0 n_dscp=0 seen=""
		declare -A br=()
		for tos in $toses; do
			for p in $(seq 41001 $((41000 + ports))); do
				# A lost answer (one query a hop, -w 1, on a loaded
				# machine) is no path: ask again, at most twice.
				for try in 1 2 3; do
					path=$(traceroute_path "$fam" "$tos" "$p")
					case " $path " in *" * "*) ;; *) break;; esac
				done
				k=$(branch_of "$fam" "$path")
				case $k in bad:*) bad="$bad [tos $tos sport $p: ${k#bad:}: $path]";; esac
				br[$tos.$p]=$k
				[ "$tos" = 0 ] && case " $seen " in *" $k "*|*" bad:"*) ;; *) seen="$seen $k";; esac
			done
		done
		for p in $(seq 41001 $((41000 + ports))); do
			[ -n "${br[2.$p]:-}" ] && [ "${br[0.$p]}" != "${br[2.$p]}" ] && n_ecn=$((n_ecn + 1))
			[ "${br[0.$p]}" != "${br[128.$p]}" ] && n_dscp=$((n_dscp + 1))
		done
		unset br
		check "$S IPv$fam: $n TCP traceroutes (TOS $toses) agree with env (balancer at hop ${BALANCER_HOP:-none}, sites at hops $BRANCH_HOPS)" \
			[ -z "$bad" ]
		[ -z "$bad" ] || diag "$bad"
		# Balanced on the flow label, IPv6 traceroutes (label 0) keep to
		# one branch whatever their ports.
		want=$BRANCHES
		[ "$HASH" = flowlabel ] && [ "$fam" = 6 ] && want=1
		check "$S IPv$fam: flows reach $want of $BRANCHES branches (seen:$seen)" [ "$(echo $seen | wc -w)" = "$want" ]
		case $HASH in
		tos) check "$S IPv$fam: only ECN differs -> other path for $n_ecn/$ports flows (need > 0)" [ $n_ecn -gt 0 ]
			check "$S IPv$fam: whole traffic class hashed: only DSCP differs -> other path for $n_dscp/$ports flows (need > 0)" [ $n_dscp -gt 0 ];;
		ecn) check "$S IPv$fam: only ECN differs -> other path for $n_ecn/$ports flows (need > 0)" [ $n_ecn -gt 0 ]
			check "$S IPv$fam: only DSCP differs -> other path for $n_dscp/$ports flows (need 0)" [ $n_dscp = 0 ];;
		dscp) check "$S IPv$fam: only ECN differs -> other path for $n_ecn/$ports flows (need 0)" [ $n_ecn = 0 ]
			check "$S IPv$fam: only DSCP differs -> other path for $n_dscp/$ports flows (need > 0)" [ $n_dscp -gt 0 ];;
		*) check "$S IPv$fam: TOS never changes the path ($n_ecn ECN, $n_dscp DSCP of $ports flows; need 0)" \
			all '[ $n_ecn = 0 ]' '[ $n_dscp = 0 ]';;
		esac
	done
}

# perpacket_checks: identical probes (same flow, same TOS) answered by
# different branches.
perpacket_checks() {
	local fam h addrs
	h=$((BALANCER_HOP + 1))
	for fam in 4 6; do
		addrs=$(on client traceroute -$fam -T -p "$HTTP_PORT" --sport=41001 -f $h -m $h -q 4 -n -w 1 "$(target "$fam")" 2>/dev/null |
			awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9.]+$/ && $i ~ /\..*\..*\./ || $i ~ /:/) print $i }' |
			sort -u | tr '\n' ' ')
		check "$S IPv$fam: 4 identical probes at hop $h answered by $(echo $addrs | wc -w) branch routers (need 2: $addrs)" \
			[ "$(echo $addrs | wc -w)" = 2 ]
	done
}

# http_checks ECN N: N connections per family with the client's tcp_ecn set
# to ECN; sets FAILED4 / FAILED6 (counts).
http_checks() {
	local fam i
	on client sysctl -qw net.ipv4.tcp_ecn="$1"
	for fam in 4 6; do
		eval "FAILED$fam=0"
		for i in $(seq 1 "$2"); do
			http "$fam" $((PORTBASE + i)) >/dev/null || eval "FAILED$fam=\$((FAILED$fam + 1))"
		done
		PORTBASE=$((PORTBASE + 100))
	done
	on client sysctl -qw net.ipv4.tcp_ecn=1
}

# quote_checks: a UDP traceroute with ECT(0) while the client captures the
# ICMP errors: the ECN each hop quotes must change right after MODIFIER_HOP.
quote_checks() { # expected-ECN-after-the-modifier
	local fam pcap hops h addr q want bad
	for fam in 4 6; do
		pcap=$TMP/quotes$fam.pcap
		capture_pcap_start client "$CLIENT_IF" "icmp or icmp6" "$pcap" || nok "tcpdump starts"
		hops=$(on client traceroute -$fam -n -q 1 -w 1 -t 2 -m "$(max_hop)" "$(target "$fam")" 2>/dev/null |
			awk 'NR > 1 { print $2 }' | tr '\n' ' ')
		capture_stop
		bad="" h=0
		for addr in $hops; do
			h=$((h + 1))
			q=$(/usr/bin/python3 "$QUOTES" "$pcap" | awk -v a="$addr" '$1 == a { print $2; exit }')
			if [ "$h" -le "$MODIFIER_HOP" ]; then want=2; else want=$1; fi
			[ -n "$q" ] && [ $((q & 3)) = "$want" ] || bad="$bad hop$h:$addr:quoted=${q:-none}:want-ecn-$want"
		done
		check "$S IPv$fam: ICMP quotes show ECN changed after hop $MODIFIER_HOP, at every hop of:$hops" \
			all '[ -z "$bad" ]' '[ "$h" = "$(max_hop)" ]'
		[ -z "$bad" ] || diag "$bad"
	done
}

# site_ecn: one ECN-on HTTP GET per family while the first site captures;
# sets SITE_ECN to the ECN values (0..3) of the client's packets as the site
# saw them, e.g. "0 2 ".
site_ecn() {
	local fam cap=$TMP/site.txt site
	site=$(nth "$SITE_NODES" 1)
	capture_start "$site" "$(uplink_if "$site")" "tcp dst port $HTTP_PORT" "$cap" || nok "tcpdump starts in $site"
	for fam in 4 6; do http "$fam" $((PORTBASE + fam)) >/dev/null; done
	PORTBASE=$((PORTBASE + 100))
	capture_stop
	SITE_ECN=$(packets "$cap" | awk '{ print $5 }' | while read -r t; do echo $((t & 3)); done | sort -u | tr '\n' ' ')
}

modifier_checks() {
	local ecn t0 t1 slow fam seen hops
	case $MODIFIER in
	bleach)
		site_ecn
		check "$S: the site sees only Not-ECT from an ECN client (ECN values: $SITE_ECN)" [ "$SITE_ECN" = "0 " ]
		quote_checks 0;;
	ce)
		site_ecn
		check "$S: the site sees CE and no ECT from an ECN client (ECN values: $SITE_ECN)" [ "$SITE_ECN" = "0 3 " ]
		quote_checks 3;;
	rst-ecn-syn)
		http_checks 1 5
		check "$S: ECN-setup connections are reset ($FAILED4/5 IPv4, $FAILED6/5 IPv6 fail; need all)" \
			all '[ $FAILED4 = 5 ]' '[ $FAILED6 = 5 ]'
		http_checks 0 5
		check "$S: plain connections work ($FAILED4/5 IPv4, $FAILED6/5 IPv6 fail; need 0)" \
			all '[ $FAILED4 = 0 ]' '[ $FAILED6 = 0 ]'
		# The reset comes from the middlebox: its TTL says hop MODIFIER_HOP.
		capture_start client "$CLIENT_IF" "tcp port $HTTP_PORT" "$TMP/rst.txt"
		http 4 $((PORTBASE + 1)) >/dev/null
		capture_stop
		t0=$(packets "$TMP/rst.txt" | awk '$1 == 80 && $3 ~ /^R/ { print $4; exit }')
		check "$S: the reset arrives with TTL ${t0:-none} = 64 - $((MODIFIER_HOP - 1)) (from hop $MODIFIER_HOP)" \
			[ "${t0:-0}" = $((64 - MODIFIER_HOP + 1)) ]
		# TCP traceroute with ECN-setup SYNs: "the target" answers one hop
		# after the middlebox, plain SYNs reach the real target.
		for fam in 4 6; do
			hops=$(traceroute_path "$fam" 0 41001 ecn | wc -w)
			t1=$(traceroute_path "$fam" 0 41001 syn | wc -w)
			check "$S IPv$fam: ECN-setup SYN probes end at hop $hops (need $((MODIFIER_HOP + 1))), plain SYNs at $t1 (need $BRANCH_HOPS)" \
				all '[ "$hops" = $((MODIFIER_HOP + 1)) ]' '[ "$t1" = "$BRANCH_HOPS" ]'
		done;;
	drop-ect)
		http_checks 0 5
		check "$S: ECN off works ($FAILED4/5 IPv4, $FAILED6/5 IPv6 fail; need 0)" all '[ $FAILED4 = 0 ]' '[ $FAILED6 = 0 ]'
		# Linux retransmits lost data Not-ECT (RFC 3168 6.1.5), so an ECN
		# connection through an ECT black hole is late by at least one
		# retransmission timeout (200 ms minimum), or fails.
		slow=0 t0=0
		for fam in 4 6 4 6; do
			t0=$((t0 + 1))
			t1=$(on client curl -sS -g -m 3 -o /dev/null -w '%{time_total}' --local-port $((PORTBASE + t0)) \
				"http://$( [ $fam = 6 ] && echo "[$TARGET6]" || echo "$TARGET4")/" 2>/dev/null) || t1=fail
			case $t1 in fail) slow=$((slow + 1));; *) awk -v t="$t1" 'BEGIN { exit !(t >= 0.19) }' && slow=$((slow + 1));; esac
		done
		PORTBASE=$((PORTBASE + 100))
		check "$S: ECN-on connections fail or wait for a retransmission ($slow/4, need 4)" [ $slow = 4 ]
		site_ecn
		check "$S: no ECT packet reaches the site (ECN values seen there: $SITE_ECN)" [ "$SITE_ECN" = "0 " ]
		for fam in 4 6; do
			hops=$(on client traceroute -$fam -n -q 1 -w 1 -t 2 -m "$(max_hop)" "$(target "$fam")" 2>/dev/null |
				awk 'NR > 1 && $2 != "*" { n = $1 } END { print n }')
			check "$S IPv$fam: ECT(0) probes are answered up to hop ${hops:-none} (need MODIFIER_HOP $MODIFIER_HOP)" \
				[ "${hops:-0}" = "$MODIFIER_HOP" ]
		done;;
	esac
}

for S in $SCENARIOS; do
	name=lc$$-$S
	PORTBASE=42000
	start=$(date +%s.%N)
	if ! lab_up "$name" "$S" >"$TMP/up.err" 2>&1; then
		nok "$S comes up: $(head -1 "$TMP/up.err")"
		lab "$name" down
		continue
	fi
	ok "$S comes up ($(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s)"
	missing=""
	for n in $NODES; do [ -e "/run/netns/$name-$n" ] || missing="$missing $n"; done
	check "$S: a namespace for each of its nodes ($NODES)" [ -z "$missing" ]
	check "$S: env says $SITES sites for $BRANCHES branches ($SITE_KIND)" \
		all '[ "$(echo $BRANCH_HOPS | wc -w)" = "$BRANCHES" ]' \
		'[ "$(echo $BRANCH_SITES | tr " " "\n" | sort -u | wc -l)" = "$SITES" ]'

	if [ "$HASH" = packet ]; then
		perpacket_checks
		http_checks 0 10
		check "$S: per-packet balancing breaks even ECN-off connections ($FAILED4/10 IPv4, $FAILED6/10 IPv6 fail; need some)" \
			all '[ $FAILED4 -gt 0 ]' '[ $FAILED6 -gt 0 ]'
	elif [ "$HASH" = ttl ]; then
		# A traceroute's probes leave with a TTL each, and a hash over the
		# TTL sends them down different branches hop by hop.
		skip "$S: traceroutes vary the TTL; tests/lab/test_diagnose_fields.sh checks the TTL hash"
	elif [ "$HASH" = dst ]; then
		# By destination: the target takes branch 1 whatever its flow or
		# TOS; the anycast prefixes' paths are measured by test_scan.sh.
		for fam in 4 6; do
			p=$(traceroute_path "$fam" 2 41001)
			check "$S IPv$fam: the target is reached through branch 1 ($p)" [ "$(branch_of "$fam" "$p")" = 1 ]
		done
	else
		path_checks
	fi
	case $HASH in flow | flowlabel)
		left=""
		for n in $SITE_NODES; do on "$n" nft list table inet ecnlab_frag >/dev/null 2>&1 && left="$left $n"; done
		check "$S: up measured where fragments go (IPv4 ${FRAG_PATH4:-unmeasured}, IPv6 ${FRAG_PATH6:-unmeasured}) and removed its counting tables (left at:${left:- none})" \
			all '[ -n "$FRAG_PATH4" ]' '[ -n "$FRAG_PATH6" ]' '[ -z "$left" ]'
		# IPv4 policy 1 hashes a fragment on addresses only and a whole
		# datagram on its ports too: of 16 flows, all keep together
		# with probability 2^-16.
		check "$S IPv4: the 5-tuple multipath parts fragments from whole datagrams ($FRAG_PATH4)" [ "$FRAG_PATH4" = parted ];;
	esac

	if [ -z "$MODIFIER" ] && [ "$HASH" != packet ]; then
		http_checks 0 10
		check "$S: ECN off, all connections work ($FAILED4/10 IPv4, $FAILED6/10 IPv6 fail)" all '[ $FAILED4 = 0 ]' '[ $FAILED6 = 0 ]'
		http_checks 1 10
		if [ "$SITE_KIND" = anycast ] && { [ "$HASH" = tos ] || [ "$HASH" = ecn ]; }; then
			check "$S: ECN on, some connections fail ($FAILED4/10 IPv4, $FAILED6/10 IPv6)" all '[ $FAILED4 -gt 0 ]' '[ $FAILED6 -gt 0 ]'
		else
			check "$S: ECN on, all connections work ($FAILED4/10 IPv4, $FAILED6/10 IPv6 fail)" all '[ $FAILED4 = 0 ]' '[ $FAILED6 = 0 ]'
		fi
	fi
	modifier_checks

	lab "$name" down
	check "$S: down leaves no namespace, state or server" \
		all '[ -z "$(lab_namespaces "$name")" ]' '[ ! -e "/run/ecnlab/$name" ]' \
		'! pgrep -f "/run/ecnlab/$name/" >/dev/null'
done
exit $TAP_FAILED
