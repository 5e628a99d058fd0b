#!/bin/bash
# `ecntrace scan` in the lab's many-address scenarios (lab/README.md: scan,
# scan-branch, scan-healthy), against the ground truth that `ecnlab env`
# writes (SCAN_TRUTH, per prefix: dependent or healthy, the splitting
# router's hop and address, how many sites answer):
#   - the lab itself: every site answers on any address of the prefixes, and
#     TCP traceroutes of sampled addresses split on ECN exactly where the
#     truth says (this part runs without the scan command);
#   - a scan of SCAN_SAMPLE (default 256) random addresses per family finds
#     the truth's router at the truth's hop for every dependent target and
#     for no other, groups them under that router, and calls the rest
#     healthy (scan-branch: the odd /24s and IPv6 /120s only; scan-healthy:
#     nothing);
#   - the blocklist: a blocklisted target gets no packet (client capture)
#     and no object, and is counted; --dry-run sends nothing and counts;
#     no targets: exit 64 and one line; --shards 3 covers the list exactly
#     once; --resume sends nothing to the targets already done;
#   - nothing is left open or installed: no SYN-RECV, ESTABLISHED or
#     TIME-WAIT socket of ours in any site after each scan (every SYN-ACK got
#     a reset with its probe's flow and TOS: a reset with another TOS would
#     take another branch and leave the site's half-open connection), no nft
#     table in the client, and the labs go away;
#   - under the kernel's ICMP rate limits, under 3% loss per router, and
#     with the splitting router silent (scan-branch): no false accusation,
#     no wrong router (an interval must hold the truth's hop), whatever
#     comes out inconclusive; silent: every dependent target in an interval;
#   - the scan topology balanced per packet instead (ECNLAB_HASH=packet:
#     nft numgen inc, round robin; random: numgen random): nothing is ECN-
#     dependent, so no target is accused and the summary names no router
#     (a round robin lines up with probes that alternate Not-ECT and ECT);
#   - controls that the detectors work: the truth comparison counts false
#     accusations against a truth that has none dependent, and the sites do
#     keep half-open connections when the first router drops our resets.
# The scan checks skip ("scan not built") only when the binary has no scan
# subcommand (`ecntrace scan --help` mentions --shards).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
cp -r "$LAB_ROOT/lab" "$TMP/lab" || skip_all "cannot copy lab/"
ECNLAB=$TMP/lab/ecnlab
CHECK="/usr/bin/python3 $LAB_ROOT/tests/lab/scan_check.py"
ECNTRACE=$TMP/ecntrace
HAVE_SCAN=0
if [ -x "${ECNTRACE_BIN:-$LAB_ROOT/ecntrace}" ] && cp "${ECNTRACE_BIN:-$LAB_ROOT/ecntrace}" "$ECNTRACE" &&
	"$ECNTRACE" scan --help 2>&1 | grep -q -- --shards; then
	HAVE_SCAN=1
fi
N=${SCAN_SAMPLE:-256}
SEED=${SCAN_SEED:-1}
# SCENARIO[:CONDITION]: ratelimit (ECNLAB_RATELIMIT=1: the kernel's ICMP
# limits), loss3 (ECNLAB_LOSS=3) and silent (ECNLAB_SILENT=the router that
# splits on ECN: only an interval can hold it) run the hard checks only.
# packet and random (ECNLAB_HASH): the balancer splits per packet.
SCENARIOS=${LAB_SCENARIOS:-"scan-branch scan scan-healthy scan-branch:ratelimit scan-branch:loss3 scan-branch:silent scan:packet scan:random"}
EMPTY=$TMP/empty.blocklist
: >"$EMPTY"

# scan OUT ARGS...: ecntrace scan in the client, NDJSON to OUT, exit code to
# RC, stderr to $TMP/scan.err.
scan() {
	local out=$1; shift
	on client timeout 120 "$ECNTRACE" scan -o "$out" "$@" </dev/null >"$TMP/scan.stdout" 2>"$TMP/scan.err"
	RC=$?
}

# left_open: sockets of the client's in the sites (SYN-RECV, ESTABLISHED,
# TIME-WAIT), as "site:count" words for those with any; empty if none.
left_open() {
	local s n out=""
	for s in $SITE_NODES; do
		n=$(on "$s" ss -Htan state syn-recv state established state time-wait 2>/dev/null |
			grep -cE "$CLIENT4|$CLIENT6")
		[ "$n" = 0 ] || out="$out $s:$n"
	done
	echo "${out# }"
}
no_leftovers() { # what
	local open tables
	open=$(left_open)
	tables=$(on client nft list tables 2>/dev/null | wc -l)
	check "$S $1: nothing left open in the sites (${open:-none}), no nft table in the client ($tables)" \
		all '[ -z "$open" ]' '[ "$tables" = 0 ]'
}

# sent_to PCAP LIST: how many TCP packets of a client capture went to an
# address in the file LIST.
sent_to() {
	tcpdump -tnr "$1" 2>/dev/null | awk -v list="$2" '
		BEGIN { while ((getline a < list) > 0) want[a] = 1 }
		$1 ~ /^IP6?$/ && $3 == ">" { d = $4; sub(/\.[0-9]+:$/, "", d); if (d in want) n++ }
		END { print n + 0 }'
}

# expand WORD...: the addresses of CIDR words (one a line).
expand() {
	/usr/bin/python3 -c 'import ipaddress, sys
for w in sys.argv[1:]:
    for a in ipaddress.ip_network(w): print(a)' "$@"
}

# truth_checks: compare the scan of FILE with the truth; RC expected.
truth_checks() { # what targets-file ndjson expected-rc
	local KEYS
	KEYS=$($CHECK check "$SCAN_TRUTH" "$2" "$3") || { nok "$S $1: scan_check.py runs"; return; }
	eval "$KEYS"
	local n
	n=$(wc -l <"$2")
	check "$S $1: one object per target ($LINES for $n; $MISSING missing, $DUPS twice, $EXTRA not asked for, $BAD_LINES bad, $SCHEMA_BAD without schema ecntrace/1 command scan) and a summary" \
		all '[ "$LINES" = "$n" ]' '[ "$MISSING$DUPS$EXTRA$BAD_LINES$SCHEMA_BAD" = 00000 ]' '[ "$SUMMARY" = 1 ]'
	check "$S $1: every one of $EXP_DEP ECN-dependent targets found at the truth's router and hop ($FOUND; $WRONG_ROUTER elsewhere, $MISSED missed)" \
		all '[ "$FOUND" = "$EXP_DEP" ]'
	check "$S $1: no other target accused ($FALSE_POS of $EXP_HEALTHY healthy ones; $HEALTHY_OK called healthy, $INCONCL inconclusive)" \
		all '[ "$FALSE_POS" = 0 ]' '[ "$HEALTHY_OK" = "$EXP_HEALTHY" ]'
	check "$S $1: machines never more than the sites that answer ($MACHINES_BAD wrong)" [ "$MACHINES_BAD" = 0 ]
	check "$S $1: the summary's routers are the truth's, each with exactly its targets ($ROUTERS)" [ "$ROUTERS_OK" = 1 ]
	check "$S $1: exit $RC (need $4)" [ "$RC" = "$4" ]
	[ -z "$DETAIL" ] || diag "$DETAIL"
}

# ------------------------------------------------------------- the lab

# site_hop FAMILY ADDR TOS SPORT: the TTL at which a TCP traceroute of one
# flow reaches ADDR (which site answered, by distance), empty if never.
site_hop() {
	local fam=$1 max
	max=$(echo $BRANCH_HOPS | tr ' ' '\n' | sort -n | tail -1)
	on client traceroute -"$fam" -T -O syn -p "$HTTP_PORT" --sport="$4" -t "$3" -n -q 1 -w 1 \
		-m $((max + 1)) "$2" 2>/dev/null | awk -v a="$2" 'NR > 1 && $2 == a { print $1; exit }'
}

# lab_checks: the truth file, the sites' answers on the prefixes, and for
# two sampled addresses per family and verdict, 8 flows' traceroutes with
# Not-ECT and ECT(0): dependent ones change site with the ECN field (some
# flow), healthy ones never, and never more sites than the truth says.
lab_checks() {
	local lines page a fam t verdict sites sp h0 h2 moved seen bad=""
	lines=$(grep -vc '^#' "$SCAN_TRUTH" 2>/dev/null)
	check "$S: env names the truth file ($SCAN_TRUTH, $lines prefixes) and the prefixes ($ANYCAST4 $ANYCAST6)" \
		all '[ "${lines:-0}" -ge 2 ]' '[ -n "$ANYCAST4" ]' '[ -n "$ANYCAST6" ]'
	$CHECK sample "$SCAN_TRUTH" 64 $((SEED + 7)) >"$TMP/lab.targets"
	# ECN off: with it, an ECN-dependent address fails as the story says.
	on client sysctl -qw net.ipv4.tcp_ecn=0
	a=$(sed -n 5p "$TMP/lab.targets")
	page=$(on client curl -sS -m 3 "http://$a:$HTTP_PORT/" 2>/dev/null)
	check "$S: a site serves HTTP on an address of the prefix ($a: '$page')" [ "${page#site }" != "$page" ]
	a=$(grep : "$TMP/lab.targets" | sed -n 5p)
	page=$(on client curl -sS -g -m 3 "http://[$a]:$HTTP_PORT/" 2>/dev/null)
	check "$S: and on an IPv6 one ($a: '$page')" [ "${page#site }" != "$page" ]
	on client sysctl -qw net.ipv4.tcp_ecn=1
	local measured=""
	for fam in 4 6; do
		for verdict in dependent healthy; do
			local picked=0
			for a in $(if [ $fam = 6 ]; then grep : "$TMP/lab.targets"; else grep -v : "$TMP/lab.targets"; fi); do
				read -r t sites <<<"$($CHECK truth "$SCAN_TRUTH" "$a")"
				[ "$t" = "$verdict" ] || continue
				picked=$((picked + 1))
				[ $picked -le 2 ] || break
				measured="$measured $verdict"
				moved=0 seen=""
				for sp in $(seq 43001 43008); do
					h0=$(site_hop "$fam" "$a" 0 "$sp")
					h2=$(site_hop "$fam" "$a" 2 "$sp")
					[ "$h0" != "$h2" ] && moved=$((moved + 1))
					seen="$seen $h0 $h2"
				done
				seen=$(echo $seen | tr ' ' '\n' | sort -u | grep -c .)
				case $verdict in
				dependent) [ $moved -gt 0 ] || bad="$bad $a:no-flow-moved";;
				healthy) [ $moved = 0 ] || bad="$bad $a:$moved-flows-moved";;
				esac
				[ "$seen" -le "$sites" ] || bad="$bad $a:$seen-sites-for-$sites"
			done
		done
	done
	local want
	want=$(awk '!/^#/ { print $2 }' "$SCAN_TRUTH" | sort -u | tr '\n' ' ')
	measured=$(echo $measured | tr ' ' '\n' | sort | uniq -c | awk '{ printf "%s %s, ", $1, $2 }')
	check "$S: traceroutes of 2 sampled addresses per family and verdict ($want) split on ECN as the truth says (${measured%, }${bad:+; wrong:$bad})" \
		all '[ -z "$bad" ]' '[ "$(echo "$measured" | grep -o "4 " | wc -l)" = "$(echo $want | wc -w)" ]'

}

# ---------------------------------------------------------- the command

# FLOWS: flows per target of the truth scans. With the default 4, a path
# that splits on ECN over two ways can show no split in any flow (every
# probe hashed alike): healthy at the stated confidence, but a miss here;
# bench/scan.sh saw 32 in 100,000 (scan d29d21c), then 1 (60439bf). 8 flows
# make it negligible in a test of 512.
FLOWS=${SCAN_FLOWS:-8}
truth_scan() {
	$CHECK sample "$SCAN_TRUTH" "$N" "$SEED" >"$TMP/targets"
	scan "$TMP/out.ndjson" --blocklist "$EMPTY" --flows "$FLOWS" -f "$TMP/targets"
	local want=1
	grep -q ' dependent ' "$SCAN_TRUTH" || want=0
	truth_checks "$N addresses per family" "$TMP/targets" "$TMP/out.ndjson" $want
	no_leftovers "after the scan"
}

# control_truth: the comparison itself sees a false accusation: the same
# output against a truth that calls everything healthy.
control_truth() {
	local KEYS
	awk '/^#/ { print; next } { print $1, "healthy - - - -", $7 }' "$SCAN_TRUTH" >"$TMP/lying.truth"
	KEYS=$($CHECK check "$TMP/lying.truth" "$TMP/targets" "$TMP/out.ndjson")
	eval "$KEYS"
	check "$S control: against a truth with no dependent target, the same output is $FALSE_POS false accusations (need $LINES) and wrong routers" \
		all '[ "$FALSE_POS" = "$LINES" ]' '[ "$ROUTERS_OK" = 0 ]'
}

# control_open: the sites do keep half-open connections when the resets
# never reach them (the first router drops the client's RSTs): what
# no_leftovers looks for. Last in a lab: those connections stay a minute.
control_open() {
	local open
	on gw nft -f - <<EOF
table inet scantest_norst {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    iifname "client" tcp flags & rst == rst drop
  }
}
EOF
	scan "$TMP/norst.ndjson" --blocklist "$EMPTY" "${ANYCAST4%%.0.0/*}.11.0/28"
	open=$(left_open)
	on gw nft delete table inet scantest_norst
	check "$S control: with the client's resets dropped on the way, the sites keep half-open connections (${open:-none})" \
		[ -n "$open" ]
}

# hard_checks: under a condition, no innocent accused and no wrong router;
# how many were found, located only to an interval, or inconclusive is
# reported (and nothing is left open when no reset can be lost).
hard_checks() {
	local KEYS
	$CHECK sample "$SCAN_TRUTH" 64 "$SEED" >"$TMP/targets"
	scan "$TMP/out.ndjson" --blocklist "$EMPTY" --flows "$FLOWS" -f "$TMP/targets"
	KEYS=$($CHECK check "$SCAN_TRUTH" "$TMP/targets" "$TMP/out.ndjson") || { nok "$S: scan_check.py runs"; return; }
	eval "$KEYS"
	check "$S: an object for each of 128 targets ($LINES, $MISSING missing) and a summary, exit $RC" \
		all '[ "$LINES" = 128 ]' '[ "$MISSING$DUPS$EXTRA$BAD_LINES" = 0000 ]' '[ "$SUMMARY" = 1 ]' '[ "$RC" -le 2 ]'
	check "$S: no innocent accused ($FALSE_POS of $EXP_HEALTHY; $HEALTHY_OK healthy), no wrong router ($WRONG_ROUTER; of $EXP_DEP dependent: $FOUND found, $INTERVAL in an interval, $MISSED not found, $INCONCL inconclusive in all), machines ($MACHINES_BAD wrong), routers ($ROUTERS)" \
		all '[ "$FALSE_POS" = 0 ]' '[ "$WRONG_ROUTER" = 0 ]' '[ "$MACHINES_BAD" = 0 ]' '[ "$ROUTERS_OK" = 1 ]'
	# Silent but otherwise clean: every dependent target is located, to an
	# interval since its router never answers.
	[ "$COND" != silent ] || check "$S: every dependent target located to an interval holding the silent router ($INTERVAL of $EXP_DEP)" \
		[ "$INTERVAL" = "$EXP_DEP" ]
	# Per packet: nothing may be accused; how the targets came out is
	# reported (per-packet, parted-unconfirmed, ... or healthy).
	if [ "$COND" = packet ] || [ "$COND" = random ]; then
		local broken reasons
		broken=$(grep -c '"status":"broken"' "$TMP/out.ndjson")
		reasons=$(grep '"target"' "$TMP/out.ndjson" | grep -o '"status":"[a-z]*","reason":[a-z"-]*' |
			sed 's/"status":"//; s/","reason":/ /; s/"//g' | sort | uniq -c | awk '{ printf "%s %s %s, ", $1, $2, $3 }')
		check "$S: balanced per packet, no target broken ($broken; ${reasons%, })" [ "$broken" = 0 ]
	fi
	[ -z "$DETAIL" ] || diag "$DETAIL"
	# Lost resets leave half-open connections; so do resets that a
	# per-packet balancer sends to another site than their SYN's.
	case $COND in loss3 | packet | random) ;; *) no_leftovers "after the scan";; esac
}

# blocklist_checks: a /24 and an IPv6 /120 with half of each blocklisted.
blocklist_checks() {
	local p4=${ANYCAST4%%.0.0/*}.7.0/24 p6=${ANYCAST6%%::/*}::700/120 b4 b6 pcap=$TMP/block.pcap blocked
	b4=${p4%.0/24}.128/25 b6=${p6%00/120}80/121
	printf '# half of each\n%s\n\n%s\n' "$b4" "$b6" >"$TMP/blocklist"
	expand "$b4" "$b6" >"$TMP/blocked.list"
	expand "$p4" "$p6" | grep -vxFf "$TMP/blocked.list" >"$TMP/allowed.list"
	# Everything toward the prefixes: what went elsewhere than the targets.
	capture_pcap_start client "$CLIENT_IF" "tcp and (dst net ${ANYCAST4%% *} or dst net ${ANYCAST6%% *})" "$pcap" ||
		nok "tcpdump starts"
	scan "$TMP/block.ndjson" --blocklist "$TMP/blocklist" --flows "$FLOWS" "$p4" "$p6"
	capture_stop
	blocked=$($CHECK summary "$TMP/block.ndjson" blocked)
	local to_blocked to_allowed objs all
	to_blocked=$(sent_to "$pcap" "$TMP/blocked.list") to_allowed=$(sent_to "$pcap" "$TMP/allowed.list")
	all=$(tcpdump -tnr "$pcap" 2>/dev/null | grep -c '^IP')
	objs=$($CHECK targets "$TMP/block.ndjson" | grep -cxFf "$TMP/blocked.list")
	check "$S blocklist: no packet to the 256 blocklisted addresses ($to_blocked), $to_allowed to the others and $((all - to_allowed)) to no target, no object for them ($objs), summary.blocked $blocked" \
		all '[ "$to_blocked" = 0 ]' '[ "$to_allowed" -gt 0 ]' '[ "$all" = "$to_allowed" ]' '[ "$objs" = 0 ]' '[ "$blocked" = 256 ]'
	truth_checks "blocklist, the other half" "$TMP/allowed.list" "$TMP/block.ndjson" 1
}

# resume_checks: a full run, then one resumed from its first half (and a
# line cut short): the done targets get no packet, the rest all an object.
resume_checks() {
	local pcap=$TMP/resume.pcap half again union
	$CHECK sample "$SCAN_TRUTH" 64 $((SEED + 3)) >"$TMP/r.targets"
	scan "$TMP/r1.ndjson" --blocklist "$EMPTY" -f "$TMP/r.targets"
	grep '"target"' "$TMP/r1.ndjson" | head -64 >"$TMP/partial.ndjson"
	grep '"target"' "$TMP/r1.ndjson" | sed -n 65p | cut -c1-40 >>"$TMP/partial.ndjson"
	$CHECK targets "$TMP/partial.ndjson" >"$TMP/done.list" 2>/dev/null
	half=$(wc -l <"$TMP/done.list")
	capture_pcap_start client "$CLIENT_IF" "tcp and (dst net ${ANYCAST4%% *} or dst net ${ANYCAST6%% *})" "$pcap" ||
		nok "tcpdump starts"
	scan "$TMP/r2.ndjson" --blocklist "$EMPTY" -f "$TMP/r.targets" --resume "$TMP/partial.ndjson"
	capture_stop
	again=$($CHECK targets "$TMP/r2.ndjson" | grep -cxFf "$TMP/done.list")
	union=$( { cat "$TMP/done.list"; $CHECK targets "$TMP/r2.ndjson"; } | sort | uniq | wc -l)
	local to_done
	to_done=$(sent_to "$pcap" "$TMP/done.list")
	check "$S --resume: the $half targets done get no packet ($to_done) and no object ($again), the other $((128 - half)) each one (together $union of 128; exit $RC)" \
		all '[ "$half" = 64 ]' '[ "$to_done" = 0 ]' '[ "$again" = 0 ]' '[ "$union" = 128 ]' \
		'[ "$($CHECK targets "$TMP/r2.ndjson" | wc -l)" = 64 ]'
}

# shard_checks: 3 shards of a /24 and an IPv6 /120 cover each address once.
shard_checks() {
	local p4=${ANYCAST4%%.0.0/*}.9.0/24 p6=${ANYCAST6%%::/*}::900/120 i sizes="" rcs=""
	: >"$TMP/shards.list"
	for i in 0 1 2; do
		scan "$TMP/shard$i.ndjson" --blocklist "$EMPTY" --seed 7 --shards 3 --shard $i "$p4" "$p6"
		rcs="$rcs $RC"
		$CHECK targets "$TMP/shard$i.ndjson" >"$TMP/shard$i.list"
		sizes="$sizes $(wc -l <"$TMP/shard$i.list")"
		cat "$TMP/shard$i.list" >>"$TMP/shards.list"
	done
	expand "$p4" "$p6" | sort >"$TMP/all.list"
	local total uniq
	total=$(wc -l <"$TMP/shards.list") uniq=$(sort -u "$TMP/shards.list" | cmp -s - "$TMP/all.list" && echo same)
	check "$S --shards 3: each of 512 addresses in exactly one shard (shards of$sizes, $total in all, exits$rcs)" \
		all '[ "$total" = 512 ]' '[ "$uniq" = same ]' '! echo "$sizes" | grep -qw 0'
}

dryrun_checks() {
	local p4=${ANYCAST4%%.0.0/*}.10.0/24 pcap=$TMP/dry.pcap sent
	echo "${p4%.0/24}.0/26" >"$TMP/dry.blocklist"
	capture_pcap_start client "$CLIENT_IF" "dst net $p4" "$pcap" || nok "tcpdump starts"
	scan "$TMP/dry.ndjson" --dry-run --blocklist "$TMP/dry.blocklist" "$p4"
	capture_stop
	sent=$(tcpdump -nr "$pcap" 2>/dev/null | wc -l)
	check "$S --dry-run: exit $RC, no packet ($sent), says 192 targets (a /24 less a /26 blocklisted)" \
		all '[ "$RC" = 0 ]' '[ "$sent" = 0 ]' 'cat "$TMP/scan.stdout" "$TMP/scan.err" "$TMP/dry.ndjson" 2>/dev/null | grep -qw 192'
}

refusal_checks() {
	local args lines
	for args in "" "-p 80 --rate 100" "--blocklist $EMPTY"; do
		on client timeout 20 "$ECNTRACE" scan $args </dev/null >"$TMP/scan.stdout" 2>"$TMP/scan.err"
		RC=$?
		lines=$(wc -l <"$TMP/scan.err")
		check "$S: 'scan $args' without targets: exit $RC (need 64), $lines line on stderr, nothing on stdout" \
			all '[ "$RC" = 64 ]' '[ "$lines" = 1 ]' '[ ! -s "$TMP/scan.stdout" ]'
	done
}

for S in $SCENARIOS; do
	COND=${S#*:} sc=${S%%:*}
	[ "$COND" != "$S" ] || COND=""
	name=scan$$-$sc${COND:+-$COND}
	case $COND in
	"") cenv=();;
	ratelimit) cenv=(ECNLAB_RATELIMIT=1);;
	loss3) cenv=(ECNLAB_LOSS=3);;
	packet | random) cenv=(ECNLAB_HASH="$COND");;
	silent) cenv=(ECNLAB_SILENT="$(ECNLAB_SCENARIOS=$TMP/lab/scenarios; . "$TMP/lab/scenarios/$sc.sh"; echo "${SUB_BALANCER:-$BALANCER}")");;
	*) nok "$S: unknown condition '$COND'"; continue;;
	esac
	LAB_NAMES="$LAB_NAMES $name"
	if ! env "${cenv[@]}" ECNLAB_NAME="$name" "$ECNLAB" up "$sc" >"$TMP/up.err" 2>&1 ||
		! eval "$(lab "$name" env)"; then
		nok "$S comes up: $(head -1 "$TMP/up.err")"
		lab "$name" down
		continue
	fi
	ok "$S comes up"
	if [ -n "$COND" ]; then
		if [ "$HAVE_SCAN" = 1 ]; then hard_checks; else skip "scan not built ($S)"; fi
	elif [ "$HAVE_SCAN" = 1 ]; then
		# First: the lab's own traceroutes leave half-open connections.
		truth_scan
		case $S in
		scan) control_truth; blocklist_checks; no_leftovers "after the blocklisted scan"
			resume_checks; no_leftovers "after the resumed scan";;
		scan-healthy) shard_checks; dryrun_checks; refusal_checks; control_open;;
		esac
	else
		skip "scan not built ($S: the command's checks)"
	fi
	[ -n "$COND" ] || lab_checks
	lab "$name" down
	check "$S: down leaves no namespace or state" \
		all '[ -z "$(lab_namespaces "$name")" ]' '[ ! -e "/run/ecnlab/$name" ]'
done
exit $TAP_FAILED
