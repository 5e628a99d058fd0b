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
#     table in the client, and the labs go away.
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
SCENARIOS=${LAB_SCENARIOS:-"scan-branch scan scan-healthy"}
EMPTY=$TMP/empty.blocklist
: >"$EMPTY"
lab_up_count=0

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

truth_scan() {
	$CHECK sample "$SCAN_TRUTH" "$N" "$SEED" >"$TMP/targets"
	scan "$TMP/out.ndjson" --blocklist "$EMPTY" -f "$TMP/targets"
	local want=1
	grep -q ' dependent ' "$SCAN_TRUTH" || want=0
	truth_checks "$N addresses per family" "$TMP/targets" "$TMP/out.ndjson" $want
	no_leftovers "after the scan"
}

# blocklist_checks: a /24 and an IPv6 /120 with half of each blocklisted.
blocklist_checks() {
	local p4=${ANYCAST4%%.0.0/*}.7.0/24 p6=${ANYCAST6%%::/*}::700/120 b4 b6 pcap=$TMP/block.pcap blocked
	b4=${p4%.0/24}.128/25 b6=${p6%00/120}80/121
	printf '# half of each\n%s\n\n%s\n' "$b4" "$b6" >"$TMP/blocklist"
	expand "$b4" "$b6" >"$TMP/blocked.list"
	expand "$p4" "$p6" | grep -vxFf "$TMP/blocked.list" >"$TMP/allowed.list"
	capture_pcap_start client "$CLIENT_IF" "tcp and (dst net $p4 or dst net $p6)" "$pcap" || nok "tcpdump starts"
	scan "$TMP/block.ndjson" --blocklist "$TMP/blocklist" "$p4" "$p6"
	capture_stop
	blocked=$($CHECK summary "$TMP/block.ndjson" blocked)
	local to_blocked to_allowed objs
	to_blocked=$(sent_to "$pcap" "$TMP/blocked.list") to_allowed=$(sent_to "$pcap" "$TMP/allowed.list")
	objs=$($CHECK targets "$TMP/block.ndjson" | grep -cxFf "$TMP/blocked.list")
	check "$S blocklist: no packet to the 256 blocklisted addresses ($to_blocked; $to_allowed to the others), no object for them ($objs), summary.blocked $blocked" \
		all '[ "$to_blocked" = 0 ]' '[ "$to_allowed" -gt 0 ]' '[ "$objs" = 0 ]' '[ "$blocked" = 256 ]'
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
		scan "$TMP/shard$i.ndjson" --blocklist "$EMPTY" --shards 3 --shard $i "$p4" "$p6"
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
	name=scan$$-$S
	if ! lab_up "$name" "$S" >"$TMP/up.err" 2>&1; then
		nok "$S comes up: $(head -1 "$TMP/up.err")"
		lab "$name" down
		continue
	fi
	ok "$S comes up"
	if [ "$HAVE_SCAN" = 1 ]; then
		# First: the lab's own traceroutes leave half-open connections.
		truth_scan
		case $S in
		scan) blocklist_checks; no_leftovers "after the blocklisted scan"
			resume_checks; no_leftovers "after the resumed scan";;
		scan-healthy) shard_checks; dryrun_checks; refusal_checks;;
		esac
	else
		skip "scan not built ($S: the command's checks)"
	fi
	lab_checks
	lab "$name" down
	check "$S: down leaves no namespace or state" \
		all '[ -z "$(lab_namespaces "$name")" ]' '[ ! -e "/run/ecnlab/$name" ]'
done
exit $TAP_FAILED
