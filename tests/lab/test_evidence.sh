#!/bin/bash
# Evidence that travels: on the story's network one diagnosis writes, in
# the same run, a pcap that tcpdump reads (with the story's packets in it:
# the ECN-setup SYN, the ECT(0) data, the RST), an HTML report, and JSON
# that validates against the schema. trace and connect write pcaps too,
# holding every probe they sent and every reply they matched.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
BIN=${ECNTRACE:-$LAB_ROOT/ecntrace}
SCHEMA=$LAB_ROOT/doc/ecntrace-schema.json
name=ev$$

if ! lab_up "$name" seed; then
	nok "seed lab comes up"
	exit 1
fi
chmod 755 "$TMP"

RC=0
on client "$BIN" -q --json --pcap "$TMP/d.pcap" --report "$TMP/d.html" "$TARGET4" \
	>"$TMP/d.json" 2>"$TMP/d.err" || RC=$?
check "one diagnosis with --json --pcap --report: broken, exit 1 (exit $RC)" \
	all '[ $RC = 1 ]' '[ "$(jq -r .verdict.status "$TMP/d.json")" = broken ]'

# tcpdump reads it; -v shows the TOS byte and the TCP flags.
tcpdump -nv -r "$TMP/d.pcap" >"$TMP/d.txt" 2>"$TMP/d.tcpdump.err"
trc=$?
sent=$(jq -r .stats.probes_sent "$TMP/d.json")
lines=$(grep -c "proto TCP\|proto ICMP" "$TMP/d.txt")
check "tcpdump reads the pcap (exit $trc, $lines packets, $sent of them sent as probes)" \
	all '[ $trc = 0 ]' "[ $lines -gt $sent ]"
check "the pcap holds the ECN-setup SYNs (Flags [SEW]), sent Not-ECT" \
	grep -q "Flags \[SEW\]" "$TMP/d.txt"
check "the pcap holds ECT(0) data segments (tos 0x2,ECT(0), Flags [P.])" \
	all "grep -B1 'Flags \[P\.\]' '$TMP/d.txt' | grep -q 'ECT(0)'"
check "the pcap holds the RSTs of the other site (Flags [R]) and the SYN-ACKs ([S.E])" \
	all "grep -q 'Flags \[R\]' '$TMP/d.txt'" "grep -q 'Flags \[S\.E\]' '$TMP/d.txt'"
check "the pcap holds the routers' time exceeded replies" \
	grep -q "time exceeded in-transit" "$TMP/d.txt"

check "the report was written, and names the splitting router ($BALANCER4)" \
	all '[ -s "$TMP/d.html" ]' "grep -q '$BALANCER4' '$TMP/d.html'"
check "the JSON validates against the schema" \
	/usr/bin/python3 "$LAB_ROOT/tests/schema_validate.py" "$SCHEMA" "$TMP/d.json"

# trace and connect: every probe sent is in the file, replies too.
on client "$BIN" trace -n -q 1 --ecn ect0 --json --pcap "$TMP/t.pcap" "$TARGET6" >"$TMP/t.json" 2>/dev/null
tsent=$(jq -r .stats.probes_sent "$TMP/t.json")
# (libpcap cannot index TCP flags over IPv6: count tcpdump's [S] lines.)
tout=$(tcpdump -n -r "$TMP/t.pcap" "ip6 and src host $CLIENT6 and tcp" 2>/dev/null | grep -c "Flags \[S\]")
tin=$(tcpdump -n -r "$TMP/t.pcap" "icmp6 or (ip6 and src host $TARGET6)" 2>/dev/null | wc -l)
check "trace -6 --pcap: the $tsent SYN probes are all in the file ($tout), with the replies ($tin)" \
	all "[ '$tout' = '$tsent' ]" "[ $tin -ge $(jq -r '[.hops[] | select(.addr != null)] | length' "$TMP/t.json") ]"

on client "$BIN" connect --flows 2 --json --pcap "$TMP/c.pcap" "$TARGET4" >"$TMP/c.json" 2>/dev/null
csent=$(jq -r .stats.probes_sent "$TMP/c.json")
cout=$(tcpdump -n -r "$TMP/c.pcap" "src host $CLIENT4" 2>/dev/null | wc -l)
check "connect --pcap: every packet it sent is in the file ($cout of $csent)" \
	[ "$cout" = "$csent" ]

check "no ecntrace_ table left in the client" [ -z "$(on client nft list tables | grep ecntrace_)" ]
lab "$name" down
check "lab torn down" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
