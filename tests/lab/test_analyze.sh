#!/bin/bash
# `ecntrace analyze` and `ecntrace watch` on the kernel's own TCP in the lab.
# In `seed` (the story's network) curl makes connections with ECN on while
# tcpdump captures in the client; analyze reports reset-by-other-endpoint
# for exactly the source ports whose curl was reset, each with a SYN-ACK TTL
# other than its RST TTL, and exits 1; IPv4 and IPv6. watch, run live in the
# client beside curl, reports the same. ECN and plain curls in one capture:
# the server's row in the per-server summary compares them. In `fixed` nothing is reported and
# analyze exits 0. Bad input: a missing file 66, a text file 65, an unknown
# option 64, one line on stderr each.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"

N=16      # connections per family
OUT=$TMP/out.json

# run_curls FAMILY FIRSTPORT: N connections from ports FIRSTPORT+1..N, one
# after the other; RESET = ports whose curl saw "reset by peer", FAILS = every
# port that failed.
run_curls() {
	local i p
	RESET="" FAILS=""
	for i in $(seq 1 $N); do
		p=$(($2 + i))
		if ! http "$1" "$p" >/dev/null; then
			FAILS="$FAILS $p"
			grep -q "reset by peer" "$TMP/curl.err" && RESET="$RESET $p"
		fi
	done
	RESET=$(echo $RESET) FAILS=$(echo $FAILS)
}
# sorted WORDS: one line, numerically sorted.
sorted() { echo "$@" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# q FILTER [FILE]: jq -r on a document.
q() { jq -r "$1" "${2:-$OUT}" 2>/dev/null; }
# The source ports a document reports with RESULT, sorted.
ports_with() { sorted "$(q ".connections[] | select(.result == \"$1\") | .sport" "${2:-$OUT}" | tr '\n' ' ')"; }
# Ports reset by another machine whose SYN-ACK and RST TTLs are equal or missing.
same_ttls() { q '[.connections[] | select(.result == "reset-by-other-endpoint") | select(.synack_ttl == null or .rst_ttl == null or .synack_ttl == .rst_ttl) | .sport] | join(" ")' "${1:-$OUT}"; }

name=la$$
if ! lab_up "$name" seed 1; then
	nok "seed lab comes up"
	exit 1
fi
ok "seed lab comes up: sites answer at hops $BRANCH_HOPS"
on client sysctl -qw net.ipv4.tcp_ecn=1

for fam in 4 6; do
	base=$((41000 + fam * 100))
	cap=$TMP/seed$fam.pcap
	if ! capture_pcap_start client "$CLIENT_IF" "tcp port $HTTP_PORT" "$cap"; then
		nok "IPv$fam: tcpdump starts in the client"
		continue
	fi
	run_curls "$fam" "$base"
	capture_stop
	diag "IPv$fam: curl reset on ports: ${RESET:-none}; failed: ${FAILS:-none}"
	check "IPv$fam: some of $N curls with ECN on were reset (${RESET:-none}), and only reset" \
		all '[ -n "$RESET" ]' '[ "$RESET" = "$FAILS" ]'

	rc=0
	"$ECNTRACE" analyze --json "$cap" >"$OUT" 2>"$OUT.err" || rc=$?
	check "IPv$fam analyze exits 1 with a JSON document and nothing on stderr (exit $rc)" \
		all '[ $rc = 1 ]' 'jq -e . "$OUT" >/dev/null' '[ ! -s "$OUT.err" ]'
	got=$(ports_with reset-by-other-endpoint)
	want=$(sorted "$RESET")
	check "IPv$fam analyze: reset-by-other-endpoint exactly on the curls reset ($got)" \
		[ "$got" = "$want" ]
	[ "$got" = "$want" ] || diag "analyze says: $got; curl says: $want"
	bad=$(same_ttls)
	ex=$(q '.connections[] | select(.result == "reset-by-other-endpoint") | "SYN-ACK TTL \(.synack_ttl), RST TTL \(.rst_ttl), data \(.data_ecn)"' | head -1)
	check "IPv$fam analyze: every such RST came with another TTL than its SYN-ACK ($ex)" \
		all '[ -z "$bad" ]' '[ -n "$ex" ]'
	nconn=$(q '.summary.connections')
	necn=$(q '.summary.ecn_connections')
	nother=$(q '[.connections[] | select(.result != "reset-by-other-endpoint")] | length')
	check "IPv$fam analyze: $N connections, all asked for ECN, no other fault listed ($nconn, $necn, $nother)" \
		all '[ "$nconn" = $N ]' '[ "$necn" = $N ]' '[ "$nother" = 0 ]'
	nok_=$(q '.summary.results.ok // 0')
	nreset=$(echo $RESET | wc -w)
	check "IPv$fam analyze: the rest are ok ($nok_ + $nreset = $N)" [ $((nok_ + nreset)) = $N ]

	# Standard input: tcpdump -w - | ecntrace analyze -.
	rc=0
	cat "$cap" | "$ECNTRACE" analyze --json - >"$TMP/pipe.json" 2>"$TMP/pipe.err" || rc=$?
	check "IPv$fam cat FILE | analyze -: exit $rc, the same resets" \
		all '[ $rc = 1 ]' '[ "$(ports_with reset-by-other-endpoint "$TMP/pipe.json")" = "$want" ]' \
		'[ "$(q .source "$TMP/pipe.json")" = - ]'
	# Cut short (tcpdump killed mid-write): the report, exit 65, one line.
	head -c $(($(stat -c %s "$cap") - 7)) "$cap" >"$TMP/cut.pcap"
	rc=0
	"$ECNTRACE" analyze --json "$TMP/cut.pcap" >"$TMP/cut.json" 2>"$TMP/cut.err" || rc=$?
	check "IPv$fam analyze of the capture cut short: exit 65 ($rc), a report, one line on stderr ($(head -1 "$TMP/cut.err"))" \
		all '[ $rc = 65 ]' '[ "$(q .summary.read_error "$TMP/cut.json")" = true ]' \
		'[ "$(q .summary.connections "$TMP/cut.json")" = $N ]' '[ "$(wc -l <"$TMP/cut.err")" = 1 ]'

	"$ECNTRACE" analyze "$cap" >"$TMP/text" 2>&1
	line=$(grep "were reset by another machine" "$TMP/text")
	check "IPv$fam analyze text: '$line'" \
		all '[ -n "$line" ]' 'grep -q "^$nreset of $N ECN connections were reset by another machine: SYN-ACK TTL [0-9]*, RST TTL [0-9]*" "$TMP/text"'
done

# The per-server summary: ECN curls, then plain ones (tcp_ecn=0) to the
# same server in one capture. The server's row compares them: ECN reset
# after data, plain never (the ECMP hash sends plain handshake and data to
# one site); its SYN-ACKs came from both sites' hop counts.
cap=$TMP/mixed.pcap
if capture_pcap_start client "$CLIENT_IF" "tcp port $HTTP_PORT" "$cap"; then
	run_curls 4 44400
	ecn_reset=$(echo $RESET | wc -w)
	on client sysctl -qw net.ipv4.tcp_ecn=0
	run_curls 4 44500
	plain_fails=$FAILS
	on client sysctl -qw net.ipv4.tcp_ecn=1
	capture_stop
	"$ECNTRACE" analyze --json "$cap" >"$OUT" 2>"$OUT.err"
	srv='.servers[] | select(.port == '"$HTTP_PORT"')'
	row=$(q "[$srv | .ecn_connections, .plain_connections, .faults, .finding, .control.verdict, .control.ecn_reset, .control.plain_reset, .control.plain_connections] | join(\" \")")
	check "servers: one row, ECN $N with $ecn_reset faults, plain $N never reset, finding ecn-reset, verdict ecn-only ($row)" \
		all '[ "$(q ".servers | length")" = 1 ]' '[ -z "$plain_fails" ]' '[ "$ecn_reset" -gt 0 ]' \
		'[ "$row" = "$N $N $ecn_reset ecn-reset ecn-only $ecn_reset 0 $N" ]'
	# Both sites answer SYNs (plain and ECN handshakes hash apart); the
	# RSTs come from sites whose hop counts the SYN-ACKs show too.
	sh=$(q "$srv | .synack_hops | join(\",\")") rh=$(q "$srv | .rst_hops | join(\",\")")
	stray=$(q "$srv"' | [.rst_hops[] as $h | select(.synack_hops | index($h) | not)] | length')
	check "servers: SYN-ACKs from hop counts $sh (two sites), RSTs from $rh" \
		all '[ "$(q "$srv | .synack_hops | length")" = 2 ]' '[ -n "$rh" ]' '[ "$stray" = 0 ]'
	"$ECNTRACE" analyze "$cap" >"$TMP/text" 2>&1
	line=$(grep -A2 "^1 server, faults first:" "$TMP/text" | tail -1)
	check "servers text: '$line'" \
		grep -q "ECN reset after data $ecn_reset/$N ([0-9]* by another hop count), plain 0/$N\$" "$TMP/text"
else
	nok "mixed: tcpdump starts in the client"
fi

# watch: live in the client while curl runs.
for fam in 4 6; do
	base=$((43000 + fam * 100))
	wout=$TMP/watch$fam.json
	# Not through on(): $! must be ecntrace itself (ip netns exec execs it).
	ip netns exec "$LAB_NAME-client" "$ECNTRACE" watch -i "$CLIENT_IF" --duration 5 --json \
		--pcap "$TMP/watch$fam.pcap" >"$wout" 2>"$wout.err" &
	wpid=$!
	BG_PIDS="$BG_PIDS $wpid"
	sleep 1
	run_curls "$fam" "$base"
	wrc=0
	wait "$wpid" || wrc=$?
	got=$(ports_with reset-by-other-endpoint "$wout")
	want=$(sorted "$RESET")
	check "IPv$fam watch --duration 5 exits 1 after about 5 s with JSON (exit $wrc)" \
		all '[ $wrc = 1 ]' 'jq -e ".command == \"watch\" and .source == \"$CLIENT_IF\"" "$wout" >/dev/null'
	check "IPv$fam watch: reset-by-other-endpoint exactly on the curls reset ($got)" \
		all '[ -n "$want" ]' '[ "$got" = "$want" ]'
	[ "$got" = "$want" ] || diag "watch says: $got; curl says: $want; stderr: $(cat "$wout.err")"
	check "IPv$fam watch: SYN-ACK and RST TTLs differ for each" [ -z "$(same_ttls "$wout")" ]
	# --pcap keeps what it watched: tcpdump reads it, and analyze finds
	# the same resets in it.
	"$ECNTRACE" analyze --json "$TMP/watch$fam.pcap" >"$TMP/wa$fam.json" 2>/dev/null
	check "IPv$fam watch --pcap: tcpdump reads the file, analyze finds the same resets in it" \
		all 'tcpdump -nr "$TMP/watch$fam.pcap" 2>/dev/null | grep -q "Flags \[R\]"' \
		'[ "$(ports_with reset-by-other-endpoint "$TMP/wa$fam.json")" = "$want" ]'
done

# watch -i any on the first trunk router: each forwarded packet is seen on
# two interfaces and counts once; the resets are the curls'.
wout=$TMP/watch-any.json
ip netns exec "$LAB_NAME-gw" "$ECNTRACE" watch -i any --duration 5 --json --all >"$wout" 2>"$wout.err" &
wpid=$!
BG_PIDS="$BG_PIDS $wpid"
sleep 1
run_curls 4 44500
wrc=0
wait "$wpid" || wrc=$?
dups=$(q .summary.connections "$wout")/$(q .duplicates "$wout")
resent=$(q '[.connections[] | select(.syns > 1 or (.data_retransmissions // 0) > 0)] | length' "$wout")
check "watch -i any on a router: duplicates counted once (connections/duplicates $dups), no SYN or data seen twice ($resent), the curls' resets" \
	all '[ $wrc = 1 ]' '[ "$(q .duplicates "$wout")" -gt 0 ]' '[ "$resent" = 0 ]' \
	'[ "$(q .link_type "$wout")" = LINUX_SLL2 ]' \
	'[ "$(ports_with reset-by-other-endpoint "$wout")" = "$(sorted "$RESET")" ]'

# watch stops on SIGINT and still reports (--duration 60 only bounds the
# test should the signal go astray).
wout=$TMP/watch-int.json
ip netns exec "$LAB_NAME-client" "$ECNTRACE" watch -i "$CLIENT_IF" --duration 60 --json >"$wout" 2>"$wout.err" &
wpid=$!
BG_PIDS="$BG_PIDS $wpid"
sleep 1
run_curls 4 44000
kill -INT "$wpid" 2>/dev/null
wrc=0
for i in $(seq 50); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
wait "$wpid" || wrc=$?
check "watch stops on SIGINT and reports (exit $wrc, interrupted $(q .summary.interrupted "$wout"))" \
	all '[ $wrc = 1 ]' '[ "$(q .summary.interrupted "$wout")" = true ]' \
	'[ "$(ports_with reset-by-other-endpoint "$wout")" = "$(sorted "$RESET")" ]'

rc=0
on client "$ECNTRACE" watch -i nosuchif0 --duration 1 >"$TMP/o" 2>"$TMP/e" || rc=$?
check "watch on a missing interface: exit 69, one line ($(head -1 "$TMP/e"))" \
	all '[ $rc = 69 ]' '[ "$(wc -l <"$TMP/e")" = 1 ]' '[ ! -s "$TMP/o" ]'
if command -v setpriv >/dev/null 2>&1; then
	rc=0
	on client setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$ECNTRACE" watch -i "$CLIENT_IF" --duration 1 >"$TMP/o" 2>"$TMP/e" || rc=$?
	check "watch without CAP_NET_RAW: exit 77, one line ($(head -1 "$TMP/e"))" \
		all '[ $rc = 77 ]' '[ "$(wc -l <"$TMP/e")" = 1 ]' '[ ! -s "$TMP/o" ]'
else
	skip "setpriv is not installed"
fi

lab "$name" down
check "seed lab is gone" [ -z "$(lab_namespaces "$name")" ]

# The fix: nothing to report.
name=lb$$
if lab_up "$name" fixed; then
	on client sysctl -qw net.ipv4.tcp_ecn=1
	for fam in 4 6; do
		cap=$TMP/fixed$fam.pcap
		capture_pcap_start client "$CLIENT_IF" "tcp port $HTTP_PORT" "$cap" || nok "fixed: tcpdump starts"
		run_curls "$fam" $((45000 + fam * 100))
		capture_stop
		rc=0
		"$ECNTRACE" analyze --json "$cap" >"$OUT" 2>"$OUT.err" || rc=$?
		nok_=$(q '.summary.results.ok // 0')
		check "fixed, IPv$fam: curls all work (${FAILS:-no failures}); analyze exits 0, lists nothing, $nok_/$N ok" \
			all '[ -z "$FAILS" ]' '[ $rc = 0 ]' '[ "$(q ".connections | length")" = 0 ]' \
			'[ "$(q .summary.faults)" = 0 ]' '[ "$nok_" = $N ]'
		"$ECNTRACE" analyze "$cap" >"$TMP/text" 2>&1
		check "fixed, IPv$fam text: no ECN faults, no reset line" \
			all 'grep -q "^no ECN faults$" "$TMP/text"' '! grep -q "reset by another machine" "$TMP/text"'
	done
	lab "$name" down
	check "fixed lab is gone" [ -z "$(lab_namespaces "$name")" ]
else
	nok "fixed lab comes up"
fi

# Bad input: one line on stderr, nothing on stdout, the documented code.
bad_input() { # DESC WANT ARGS...
	local d=$1 want=$2 rc=0
	shift 2
	"$ECNTRACE" "$@" >"$TMP/o" 2>"$TMP/e" || rc=$?
	check "$d: exit $rc (want $want), one line on stderr ($(head -1 "$TMP/e"))" \
		all "[ $rc = $want ]" '[ "$(wc -l <"$TMP/e")" = 1 ]' '[ ! -s "$TMP/o" ]'
}
echo "GET / HTTP/1.1" >"$TMP/notes.txt"
bad_input "analyze a missing file" 66 analyze "$TMP/no-such.pcap"
bad_input "analyze a text file" 65 analyze "$TMP/notes.txt"
bad_input "analyze an unknown option" 64 analyze --frobnicate "$TMP/notes.txt"
bad_input "analyze without a file" 64 analyze
bad_input "watch with a stray argument" 64 watch eth0
exit $TAP_FAILED
