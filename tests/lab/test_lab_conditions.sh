#!/bin/bash
# Every condition ecnlab can add on top of a scenario is really built, over
# IPv4 and IPv6, and shows in `ecnlab show` and `ecnlab env`: random loss,
# the kernel's ICMP rate limits, silent routers (the balancer too), NAT and
# a conntrack firewall at the home gateway, sites that decline ECN (kernel
# and AccECN responder), a slow HTTP server, GRO toward the client with a
# big page, asymmetric return paths, two balancing stages, flow-label
# hashing, random per-packet balancing, and a middlebox that resets
# connections whatever their ECN field.
#
# Conditions are set from the environment (ECNLAB_LOSS=20 ...) on top of the
# stock scenarios. Expectations come from `ecnlab env`, never from addresses
# written here; each check would fail on a lab built without its condition.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
HAVE_ETHTOOL=1
command -v ethtool >/dev/null 2>&1 || HAVE_ETHTOOL=0
PROBE=$LAB_ROOT/tests/lab/probe.py
ID=cd$$
NAMES=""

target() { [ "$1" = 6 ] && echo "$TARGET6" || echo "$TARGET4"; }
# url FAMILY [PORT [PATH]]
url() {
	local h=$TARGET4
	[ "$1" = 6 ] && h="[$TARGET6]"
	echo "http://$h:${2:-$HTTP_PORT}${3:-/}"
}
# up TAG SCENARIO VAR=VALUE...: bring lab $ID-TAG up with those ECNLAB_
# variables and load its env; fails the test line if it cannot.
up() {
	local tag=$1 sc=$2 name=$ID$1; shift 2
	NAMES="$NAMES $name"
	LAB_NAMES="$LAB_NAMES $name" # the EXIT trap takes it down, even half built
	if ! env "$@" ECNLAB_NAME="$name" "$ECNLAB" up "$sc" >"$TMP/up.err" 2>&1; then
		nok "$tag: $sc with $* comes up: $(head -c 300 "$TMP/up.err")"
		return 1
	fi
	eval "$(lab "$name" env)"
	lab "$name" show >"$TMP/show.txt"
	return 0
}
shows() { grep -q -- "$1" "$TMP/show.txt"; }
# node_addr FAMILY NODE: the address NODE answers from (from `ecnlab show`).
node_addr() {
	awk -v n="$2" -v c=$(($1 == 6 ? 5 : 4)) '$1 ~ /^[0-9]+$/ && $2 == n { print $c; exit }' "$TMP/show.txt"
}
ping_count() { # FAMILY DST COUNT [TTL] -> "replies exceeded"
	on client /usr/bin/python3 "$PROBE" ping -"$1" --count "$3" --interval 0.002 --ttl "${4:-64}" --wait 1 "$2" |
		awk '{ print $4, $6 }'
}
# within N LOW HIGH
within() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
# hop_addrs FAMILY SPORT TOS HOP [LABEL]: who answers TCP SYN probes of one
# flow at HOP (one probe).
hop_addr() {
	local l=()
	[ -n "${5:-}" ] && l=(-l "$5")
	on client traceroute -"$1" -T -O syn -p "$HTTP_PORT" --sport="$2" -t "$3" "${l[@]}" -n -q 1 -w 1 \
		-f "$4" -m "$4" "$(target "$1")" 2>/dev/null | awk 'NR > 1 { print $2 }'
}
distinct() { echo "$@" | tr ' ' '\n' | grep -v '^$' | sort -u | wc -l; }
T0=$(date +%s)

# ---------------------------------------------------------------- errors
# Bad conditions are refused before anything is built (show plans only).
bad() { # DESC VAR=VALUE...: ecnlab show seed must fail, naming the variable
	local d=$1 out rc; shift
	out=$(env "$@" ECNLAB_NAME="$ID"x "$ECNLAB" show seed 2>&1 >/dev/null); rc=$?
	check "refused: $d (exit $rc, \"$out\")" all '[ "$rc" = 1 ]' '[ -n "$out" ]'
}
bad "LOSS=51" ECNLAB_LOSS=51
bad "LOSS=x" ECNLAB_LOSS=x
bad "SILENT of an unknown node" ECNLAB_SILENT=nowhere
bad "SILENT of a site" ECNLAB_SILENT=site-a
bad "NAT=3" ECNLAB_NAT=3
bad "HASH=bogus" ECNLAB_HASH=bogus
bad "rst-random without a percentage" "ECNLAB_MODIFY=gw rst-random"
bad "GRO=2" ECNLAB_GRO=2

# ---------------------------------------------------------------- loss
# LOSS=20 on the single path (r1 r2 r3): a ping to r2's address crosses r1
# twice (expect 0.8^2 = 64% back), one to the target crosses 3 routers each
# way (0.8^6 = 26%). 300 pings each; the bands are +-4 standard deviations.
if up loss single ECNLAB_LOSS=20; then
	check "loss: env LOSS=20, show says so" all '[ "$LOSS" = 20 ]' 'shows "loss: every router drops 20%"'
	check "loss: env reports the lab as built, whatever the caller's ECNLAB_LOSS (0 here)" \
		[ "$(ECNLAB_LOSS=0 lab "$ID"loss env | sed -n 's/^LOSS=//p')" = 20 ]
	for fam in 4 6; do
		r2=$(node_addr "$fam" r2)
		read -r got _ <<<"$(ping_count "$fam" "$r2" 300)"
		check "loss IPv$fam: ${got:-0}/300 pings to hop 2 ($r2) answered (expect 192, band 159..225)" within "${got:-0}" 159 225
		read -r got _ <<<"$(ping_count "$fam" "$(target "$fam")" 300)"
		check "loss IPv$fam: ${got:-0}/300 pings to the target answered (expect 79, band 48..110)" within "${got:-0}" 48 110
	done
	lab "$ID"loss down
fi

# ------------------------------------- silent balancer, rate limits, no ECN
if up sil seed ECNLAB_SILENT=edge ECNLAB_RATELIMIT=1 ECNLAB_DECLINE_ECN=1; then
	check "silent: env SILENT_NODES=edge, SILENT_HOPS=$SILENT_HOPS = BALANCER_HOP $BALANCER_HOP; show says so" \
		all '[ "$SILENT_NODES" = edge ]' '[ "$SILENT_HOPS" = "$BALANCER_HOP" ]' 'shows "silent (no time exceeded"'
	for fam in 4 6; do
		path=$(on client traceroute -"$fam" -T -O syn -p "$HTTP_PORT" --sport=41001 -n -q 2 -w 1 \
			-m "$(echo $BRANCH_HOPS | tr ' ' '\n' | sort -n | tail -1)" "$(target "$fam")" 2>/dev/null |
			awk 'NR > 1 { a = "*"; for (i = 2; i <= NF; i++) if ($i ~ /[.:]/) { a = $i; break } printf "%s ", a }')
		read -r -a p <<<"$path" # ("*" must not glob)
		bad=""
		for ((h = 1; h <= ${#p[@]}; h++)); do
			if [ "$h" = "$SILENT_HOPS" ]; then [ "${p[h-1]}" = "*" ] || bad="$bad hop$h-answered"
			else [ "${p[h-1]}" != "*" ] || bad="$bad hop$h-silent"; fi
		done
		check "silent IPv$fam: hop $SILENT_HOPS answers no probe, every other hop does ($path)" \
			all '[ -z "$bad" ]' '[ "${#p[@]}" -gt "$SILENT_HOPS" ]' '[ "${p[${#p[@]}-1]}" = "$(target "$fam")" ]'
	done

	check "decline: env DECLINE_ECN=1, show says so" all '[ "$DECLINE_ECN" = 1 ]' 'shows "sites decline ECN"'
	# ECN-setup SYNs from the client's kernel (port 80) and to the AccECN
	# responder (port 81, the SYN sent by curl is a classic ECN setup): no
	# SYN-ACK may carry ECE, CWR or AE.
	capture_pcap_start client "$CLIENT_IF" "tcp" "$TMP/decl.pcap" || nok "tcpdump starts"
	n=0
	for fam in 4 6; do
		for p in 43001 43002 43003 43004; do
			n=$((n + 1))
			on client curl -sS -g -m 2 -o /dev/null --local-port $((p + fam * 10)) "$(url "$fam")" 2>/dev/null
			on client curl -sS -g -m 0.3 -o /dev/null --local-port $((p + fam * 10 + 100)) "$(url "$fam" "$ACCECN_PORT")" 2>/dev/null
		done
	done
	capture_stop
	sa80=$(tcpdump -r "$TMP/decl.pcap" -n '(ip and tcp src port 80 and tcp[13] & 0x12 == 0x12) or (ip6 and ip6[40:2] == 80 and ip6[53] & 0x12 == 0x12)' 2>/dev/null | wc -l)
	sa81=$(tcpdump -r "$TMP/decl.pcap" -n "(ip and tcp src port $ACCECN_PORT and tcp[13] & 0x12 == 0x12) or (ip6 and ip6[40:2] == $ACCECN_PORT and ip6[53] & 0x12 == 0x12)" 2>/dev/null | wc -l)
	ece=$(tcpdump -r "$TMP/decl.pcap" -n '(ip and tcp[13] & 0x12 == 0x12 and (tcp[13] & 0xc0 != 0 or tcp[12] & 1 != 0)) or (ip6 and ip6[53] & 0x12 == 0x12 and (ip6[53] & 0xc0 != 0 or ip6[52] & 1 != 0))' 2>/dev/null | wc -l)
	syn_ece=$(tcpdump -r "$TMP/decl.pcap" -n '(ip and tcp[13] & 0xd2 == 0xc2) or (ip6 and ip6[53] & 0xd2 == 0xc2)' 2>/dev/null | wc -l)
	check "decline: the client sent ECN-setup SYNs ($syn_ece), SYN-ACKs came from port 80 ($sa80) and $ACCECN_PORT ($sa81), none with ECE/CWR/AE ($ece)" \
		all '[ "$syn_ece" -ge $((2 * n)) ]' '[ "$sa80" -ge "$n" ]' '[ "$sa81" -ge "$n" ]' '[ "$ece" = 0 ]'

	check "ratelimit: env RATELIMIT=1, gw keeps icmp_ratelimit $(on gw sysctl -n net.ipv4.icmp_ratelimit) and IPv6 $(on gw sysctl -n net.ipv6.icmp.ratelimit)" \
		all '[ "$RATELIMIT" = 1 ]' '[ "$(on gw sysctl -n net.ipv4.icmp_ratelimit)" != 0 ]' \
		'[ "$(on gw sysctl -n net.ipv6.icmp.ratelimit)" != 0 ]'
	sleep 1 # the traceroutes above spent gw's tokens
	for fam in 4 6; do
		read -r _ exc <<<"$(ping_count "$fam" "$(target "$fam")" 30 1)"
		check "ratelimit IPv$fam: 30 pings with TTL 1 in 60 ms draw ${exc:-0} time exceeded from hop 1 (need 1..12)" \
			within "${exc:-0}" 1 12
	done
	lab "$ID"sil down
fi

# ---------------------------------------------------------------- NAT
# NAT=2: NAT44 and NAT66 at the home gateway, with ct state invalid drop.
if up nat fixed ECNLAB_NAT=2; then
	check "nat: env NAT=2 NAT_NODE=$NAT_NODE NAT4=$NAT4 NAT6=$NAT6, show says so" \
		all '[ "$NAT" = 2 ]' '[ "$NAT_NODE" = "$(nth "$NODES" 2)" ]' '[ -n "$NAT4" ]' '[ -n "$NAT6" ]' 'shows "NAT: "'
	for fam in 4 6; do
		fails=0
		for p in $(seq 1 8); do http "$fam" $((44000 + fam * 100 + p)) >/dev/null || fails=$((fails + 1)); done
		check "nat IPv$fam: 8 HTTP connections through the NAT work ($fails fail)" [ "$fails" = 0 ]
	done
	logs=$(cat /run/ecnlab/"$ID"nat/site-*.log 2>/dev/null | awk '{ print $1 }' | sort -u | tr '\n' ' ')
	check "nat: the sites saw only the gateway's outside addresses ($logs)" \
		all '[[ " $logs " == *"::ffff:$NAT4 "* ]]' '[[ " $logs " == *" $NAT6 "* ]]' \
		'[[ " $logs " != *"$CLIENT6"* ]]' '[[ " $logs " != *"$CLIENT4"* ]]'
	# An invalid TCP segment (SYN+FIN) never leaves the gateway; a plain
	# SYN of the same flow does, from the outside address.
	gw=$NAT_NODE out=$(on "$gw" ip route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1) }')
	capture_start "$gw" "$out" "tcp portrange 45000-45100" "$TMP/inv.txt" ||
		nok "tcpdump starts in $gw"
	for fam in 4 6; do
		on client /usr/bin/python3 "$PROBE" tcp -"$fam" --sport $((45000 + fam)) --dport 80 --flags SF "$(target "$fam")"
		on client /usr/bin/python3 "$PROBE" tcp -"$fam" --sport $((45010 + fam)) --dport 80 --flags S "$(target "$fam")"
	done
	capture_stop
	sf=$(grep -cE '\.4500[46] > .*Flags \[F?SF?' "$TMP/inv.txt")
	s=$(grep -E '\.4501[46] > .*Flags \[S\]' "$TMP/inv.txt" | grep -cE "($NAT4|$NAT6)\.4501")
	check "nat: SYN+FIN (ct state invalid) dropped at $gw ($sf left it), plain SYNs left it from the outside address ($s of 2)" \
		all '[ "$sf" = 0 ]' '[ "$s" = 2 ]'
	[ "$s" = 2 ] || sed 's/^/# | /' "$TMP/inv.txt" | head -10
	lab "$ID"nat down
fi

# ------------------------------------------------------ slow server, GRO
if up slow single ECNLAB_SLOW_SERVER=1 ECNLAB_GRO=$HAVE_ETHTOOL; then
	site=$(nth "$SITE_NODES" 1)
	bl=$(on "$site" ss -ltnH "sport = :$HTTP_PORT" | awk '{ print $3; exit }')
	check "slow: env SLOW_SERVER=1, show says so, $site listens on port $HTTP_PORT with backlog ${bl:-?} (need 1)" \
		all '[ "$SLOW_SERVER" = 1 ]' 'shows "slow HTTP server"' '[ "$bl" = 1 ]'
	on client sysctl -qw net.ipv4.tcp_ecn=0
	t0=$(date +%s%N) pids=""
	for p in $(seq 1 8); do
		on client curl -sS -m 8 -o /dev/null --local-port $((46000 + p)) "$(url 4)" 2>/dev/null &
		pids="$pids $!"
	done
	fails=0
	for p in $pids; do wait "$p" || fails=$((fails + 1)); done
	ms=$((($(date +%s%N) - t0) / 1000000))
	check "slow: 8 parallel connections all served ($fails fail) but one accept per 100 ms: $ms ms (need >= 700)" \
		all '[ "$fails" = 0 ]' '[ "$ms" -ge 700 ]'

	[ "$HAVE_ETHTOOL" = 1 ] || skip "gro: ethtool is not installed"
	[ "$HAVE_ETHTOOL" = 1 ] && check "gro: env GRO=1 BIG_PATH=$BIG_PATH BIG_BYTES=$BIG_BYTES (> 30000), show says so, GRO on at the client" \
		all '[ "$GRO" = 1 ]' '[ "$BIG_BYTES" -gt 30000 ]' 'shows "GRO on every link"' \
		'on client ethtool -k "$CLIENT_IF" | grep -q "generic-receive-offload: on"'
	gw=$(nth "$NODES" 2)
	mtu=$(on client cat "/sys/class/net/$CLIENT_IF/mtu")
	for fam in 4 6; do
		[ "$HAVE_ETHTOOL" = 1 ] || break
		capture_pcap_start client "$CLIENT_IF" "tcp src port $HTTP_PORT" "$TMP/gro_c.pcap" || nok "tcpdump starts"
		pc=$CAP_PID
		capture_pcap_start "$gw" client "tcp src port $HTTP_PORT" "$TMP/gro_g.pcap" || nok "tcpdump starts"
		size=$(on client curl -sS -g -m 5 -o /dev/null -w '%{size_download}' --local-port $((46100 + fam)) "$(url "$fam" "" "$BIG_PATH")" 2>/dev/null)
		capture_stop
		CAP_PID=$pc capture_stop
		# IP packet sizes: IPv4 total length, IPv6 payload + 40.
		maxc=$(tcpdump -r "$TMP/gro_c.pcap" -n -v 2>/dev/null | sed -nE 's/.*(length|payload length:?) ([0-9]+)[,)].*/\2/p' | sort -n | tail -1)
		maxg=$(tcpdump -r "$TMP/gro_g.pcap" -n -v 2>/dev/null | sed -nE 's/.*(length|payload length:?) ([0-9]+)[,)].*/\2/p' | sort -n | tail -1)
		check "gro IPv$fam: $BIG_PATH is ${size:-0} bytes; $gw sends packets of at most ${maxg:-?} bytes (MTU $mtu), the client receives merged ones of ${maxc:-?}" \
			all '[ "${size:-0}" = "$BIG_BYTES" ]' '[ "${maxg:-99999}" -le "$mtu" ]' '[ "${maxc:-0}" -gt "$mtu" ]'
	done
	on client sysctl -qw net.ipv4.tcp_ecn=1
	lab "$ID"slow down
fi

# ------------------------------------------------------------ asymmetry
if up asym seed ECNLAB_ASYM=1; then
	check "asym: env ASYM=1, return routers ($RET_NODES), show says so" \
		all '[ "$ASYM" = 1 ]' '[ -n "$RET_NODES" ]' 'shows "asymmetric returns"'
	on client sysctl -qw net.ipv4.tcp_ecn=0
	for fam in 4 6; do
		capture_start client "$CLIENT_IF" "tcp src port $HTTP_PORT" "$TMP/asym.txt" || nok "tcpdump starts"
		: >"$TMP/asym.sites"
		for p in $(seq 1 12); do
			page=$(http "$fam" $((47000 + fam * 100 + p)))
			echo "$((47000 + fam * 100 + p)) ${page#site }" >>"$TMP/asym.sites"
		done
		capture_stop
		bad="" seen=""
		for ((k = 1; k <= BRANCHES; k++)); do
			s=$(nth "$BRANCH_SITES" "$k") want=$((64 - $(nth "$REPLY_HOPS" "$k"))) fwd=$(($(nth "$BRANCH_HOPS" "$k") - 1))
			[ "$(nth "$REPLY_HOPS" "$k")" != "$fwd" ] || bad="$bad $s:same-count-as-forward"
			for p in $(awk -v s="${s#site-}" '$2 == s { print $1 }' "$TMP/asym.sites"); do
				seen="$seen $s"
				ttl=$(packets "$TMP/asym.txt" | awk -v p="$p" '$2 == p && $3 == "S." { print $4; exit }')
				[ "$ttl" = "$want" ] || bad="$bad $s:port$p:ttl${ttl:-none}-want$want"
			done
		done
		check "asym IPv$fam: SYN-ACKs of each site arrive with TTL 64 - REPLY_HOPS ($REPLY_HOPS), not the forward count (BRANCH_HOPS $BRANCH_HOPS); sites seen: $(distinct $seen)" \
			all '[ -z "$bad" ]' '[ "$(distinct $seen)" = "$BRANCHES" ]'
		[ -z "$bad" ] || diag "$bad"
	done
	on client sysctl -qw net.ipv4.tcp_ecn=1
	lab "$ID"asym down
fi

# ------------------------------------------------------ two stages
if up two twostage; then
	check "twostage: env FRONT_NODE=$FRONT_NODE at hop $FRONT_HOP before BALANCER_HOP $BALANCER_HOP, show says so" \
		all '[ -n "$FRONT_NODE" ]' '[ "$FRONT_HOP" -lt "$BALANCER_HOP" ]' 'shows "first balancing stage"'
	for fam in 4 6; do
		if [ "$fam" = 6 ]; then next=$FRONT_NEXT6 bal=$BALANCER6; else next=$FRONT_NEXT4 bal=$BALANCER4; fi
		fr="" moved=0 tosmoved=0 balbad=""
		for p in $(seq 41001 41010); do
			a0=$(hop_addr "$fam" "$p" 0 $((FRONT_HOP + 1))) a2=$(hop_addr "$fam" "$p" 2 $((FRONT_HOP + 1)))
			fr="$fr $a0"
			[ "$a0" = "$a2" ] || tosmoved=$((tosmoved + 1))
			b=$(hop_addr "$fam" "$p" 2 "$BALANCER_HOP")
			[ "$b" = "$bal" ] || balbad="$balbad $p:$b"
			[ "$(hop_addr "$fam" "$p" 0 $((BALANCER_HOP + 1)))" = "$(hop_addr "$fam" "$p" 2 $((BALANCER_HOP + 1)))" ] ||
				moved=$((moved + 1))
		done
		unknown=$(for a in $fr; do case " $next " in *" $a "*) ;; *) echo "$a";; esac; done)
		check "twostage IPv$fam: 10 flows spread over the front's paths ($(distinct $fr) of $(echo $next | wc -w) seen, none unknown), ECN never moves them there ($tosmoved)" \
			all '[ "$(distinct $fr)" = "$(echo $next | wc -w)" ]' '[ -z "$unknown" ]' '[ "$tosmoved" = 0 ]'
		check "twostage IPv$fam: the balancer answers at hop $BALANCER_HOP as $bal for every flow (${balbad:-ok}), ECN moves $moved/10 flows after it (need > 0)" \
			all '[ -z "$balbad" ]' '[ "$moved" -gt 0 ]'
	done
	lab "$ID"two down
fi

# ------------------------------------------------------ flow label hash
if up fl seed ECNLAB_HASH=flowlabel; then
	h=$((BALANCER_HOP + 1))
	check "flowlabel: env HASH=flowlabel, show says so" all '[ "$HASH" = flowlabel ]' 'shows "policy flowlabel"'
	bylabel="" bysport6="" bysport4="" tos4=0
	for i in $(seq 1 12); do
		bylabel="$bylabel $(hop_addr 6 41001 0 $h $((i * 4099)))"
		bysport6="$bysport6 $(hop_addr 6 $((41000 + i)) 0 $h 0)"
		a=$(hop_addr 4 $((41000 + i)) 0 $h)
		bysport4="$bysport4 $a"
		[ "$a" = "$(hop_addr 4 $((41000 + i)) 2 $h)" ] || tos4=$((tos4 + 1))
	done
	check "flowlabel IPv6: one 5-tuple, 12 flow labels: $(distinct $bylabel) branches at hop $h (need $BRANCHES)" \
		[ "$(distinct $bylabel)" = "$BRANCHES" ]
	check "flowlabel IPv6: one label, 12 source ports: $(distinct $bysport6) branch (need 1: ports are not hashed)" \
		[ "$(distinct $bysport6)" = 1 ]
	check "flowlabel IPv4: 12 source ports reach $(distinct $bysport4) branches (need $BRANCHES), ECN moves none ($tos4)" \
		all '[ "$(distinct $bysport4)" = "$BRANCHES" ]' '[ "$tos4" = 0 ]'
	lab "$ID"fl down
fi

# ------------------------------------------------ random per-packet
if up rnd seed ECNLAB_HASH=random; then
	h=$((BALANCER_HOP + 1))
	check "random: env HASH=random, show says so" all '[ "$HASH" = random ]' 'shows "per packet, random"'
	for fam in 4 6; do
		# 3 x 10 identical probes; traceroute prints an address each time
		# the answering router changes: round robin would change it at
		# every probe (10 addresses a line).
		addrs="" changes=0
		for r in 1 2 3; do
			line=$(on client traceroute -"$fam" -T -O syn -p "$HTTP_PORT" --sport=41001 -n -q 10 -N 1 -w 1 \
				-f $h -m $h "$(target "$fam")" 2>/dev/null | awk 'NR > 1')
			a=$(echo "$line" | tr ' ' '\n' | grep -E '^([0-9]+\.){3}[0-9]+$|:')
			addrs="$addrs $a"
			changes=$((changes + $(echo $a | wc -w)))
		done
		check "random IPv$fam: 30 identical probes at hop $h reach $(distinct $addrs) branches (need $BRANCHES), not in strict rotation ($changes answering-router changes of 30)" \
			all '[ "$(distinct $addrs)" = "$BRANCHES" ]' '[ "$changes" -lt 30 ]'
	done
	lab "$ID"rnd down
fi

# ------------------------------------------------ resets unrelated to ECN
if up rst single "ECNLAB_MODIFY=r2 rst-random 30"; then
	check "rst-random: env MODIFIER=$MODIFIER at hop $MODIFIER_HOP, RST_RANDOM_PCT=$RST_RANDOM_PCT, show says so" \
		all '[ "$MODIFIER" = rst-random ]' '[ "$RST_RANDOM_PCT" = 30 ]' 'shows "rst-random 30%"'
	on client sysctl -qw net.ipv4.tcp_ecn=0
	capture_start client "$CLIENT_IF" "tcp src port $HTTP_PORT and tcp[13] & 4 != 0 or (ip6 and ip6[40:2] == $HTTP_PORT and ip6[53] & 4 != 0)" "$TMP/rst.txt" ||
		nok "tcpdump starts"
	for fam in 4 6; do
		fails=0
		for p in $(seq 1 10); do http "$fam" $((48000 + fam * 100 + p)) >/dev/null || fails=$((fails + 1)); done
		eval "F$fam=$fails"
	done
	capture_stop
	ttls=$(packets "$TMP/rst.txt" | awk '{ print $4 }' | sort -u | tr '\n' ' ')
	check "rst-random: connections without ECN are reset ($F4/10 IPv4, $F6/10 IPv6 fail; need some each), by hop $MODIFIER_HOP (RST TTLs: $ttls, need $((64 - MODIFIER_HOP + 1)))" \
		all '[ "$F4" -gt 0 ]' '[ "$F6" -gt 0 ]' '[ "$ttls" = "$((64 - MODIFIER_HOP + 1)) " ]'
	on client sysctl -qw net.ipv4.tcp_ecn=1
	lab "$ID"rst down
fi

left=""
for n in $NAMES; do [ -z "$(lab_namespaces "$n")" ] && [ ! -e "/run/ecnlab/$n" ] || left="$left $n"; done
check "every lab is gone (no namespace or state left:${left:- none})" [ -z "$left" ]
diag "$(($(date +%s) - T0)) s in all"
exit $TAP_FAILED
