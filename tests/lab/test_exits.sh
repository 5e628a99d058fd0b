#!/bin/bash
# Every way a run ends, for trace and the diagnosis (connect has its own
# test): SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE mid-run end with exit
# 75, one line on stderr naming the signal, no nftables table, and a
# --pcap file that tcpdump reads to its end; --deadline ends a run the
# same way; a full standard output gives 74 and one line; output files are
# refused through a symbolic link, and a run that fails removes a file
# only if it created it (never one the user had).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"

name=ex$$
lab_up "$name" ectdrop || { nok "ectdrop lab comes up"; exit 1; }
tables() { on client nft list tables 2>/dev/null | awk '$3 ~ /^ecntrace_/ { print $3 }' | xargs; }

# run_bg CMD...: ecntrace in the client in the background, its pid in PID.
run_bg() {
	ip netns exec "$LAB_NAME-client" "$ECNTRACE" "$@" >"$TMP/out" 2>"$TMP/err" &
	PID=$!
	BG_PIDS="$BG_PIDS $PID"
}
# finish SIG: signal PID, wait up to 3 s; RC, MS.
finish() {
	local i t0=$(date +%s%N)
	kill -s "$1" "$PID"
	for i in $(seq 30); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
	wait "$PID"
	RC=$?
	MS=$((($(date +%s%N) - t0) / 1000000))
}
# pcap_whole FILE: tcpdump reads it without complaint, N packets in PKTS.
pcap_whole() {
	PKTS=$(tcpdump -n -r "$1" 2>"$TMP/tcpdump.err" | wc -l)
	! grep -qi "truncated\|error\|bogus" "$TMP/tcpdump.err" && [ "$PKTS" -gt 0 ]
}

sport=45000
for sig in INT TERM HUP QUIT PIPE; do
	for what in trace diagnose; do
		sport=$((sport + 500))
		rm -f "$TMP/p.pcap"
		if [ $what = trace ]; then
			# ECT(0) probes vanish after the dropping router: -w 5 waits.
			run_bg trace -n -q 3 -w 5 --ecn ect0 --sport "$sport" --pcap "$TMP/p.pcap" "$TARGET4"
		else
			run_bg -q -w 5 --sport "$sport" --pcap "$TMP/p.pcap" "$TARGET4"
		fi
		sleep 1.5
		finish "$sig"
		err=$(cat "$TMP/err")
		check "$what SIG$sig: exit 75 within a second (got $RC in $MS ms), one line naming the signal ('$err')" \
			all '[ "$RC" = 75 ]' '[ "$MS" -le 1500 ]' '[ "$(wc -l <"$TMP/err")" = 1 ]' \
			'[[ $err == "ecntrace: interrupted (SIG$sig"* ]]'
		pcap_whole "$TMP/p.pcap"
		whole=$?
		check "$what SIG$sig: tcpdump reads the pcap to its end ($PKTS packets)" [ "$whole" = 0 ]
		left=$(tables)
		check "$what SIG$sig: no ecntrace_ table left${left:+ ($left)}" [ -z "$left" ]
	done
done

# --deadline: the same ending, by the clock.
t0=$(date +%s%N)
on client "$ECNTRACE" -q -w 5 --deadline 2 --sport 49000 "$TARGET4" >"$TMP/out" 2>"$TMP/err"
rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
check "diagnosis --deadline 2: exit 75 after about 2 s (exit $rc, $ms ms), '$(cat "$TMP/err")'" \
	all '[ "$rc" = 75 ]' '[ "$ms" -ge 1900 ]' '[ "$ms" -le 3500 ]' 'grep -q deadline "$TMP/err"'
check "diagnosis --deadline: no ecntrace_ table left" [ -z "$(tables)" ]
on client "$ECNTRACE" trace -n -w 5 --ecn ect0 --deadline 1 "$TARGET4" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "trace --deadline 1: exit 75 (exit $rc)" [ "$rc" = 75 ]

# A standard output that cannot be written.
on client "$ECNTRACE" -q --flows 2 "$TARGET4" >/dev/full 2>"$TMP/err"
rc=$?
check "diagnosis >/dev/full: exit 74, one line ($(cat "$TMP/err"))" \
	all '[ "$rc" = 74 ]' '[ "$(wc -l <"$TMP/err")" = 1 ]' 'grep -q "standard output" "$TMP/err"'
on client "$ECNTRACE" trace -n -q 1 "$TARGET4" >/dev/full 2>"$TMP/err"
rc=$?
check "trace >/dev/full: exit 74 ($(cat "$TMP/err"))" [ "$rc" = 74 ]
check "after the write errors: no ecntrace_ table left" [ -z "$(tables)" ]

# Output files. A symbolic link is not followed, and its target untouched.
echo precious >"$TMP/target"
ln -s "$TMP/target" "$TMP/link.html"
on client "$ECNTRACE" -q --flows 0 --report "$TMP/link.html" "$TARGET4" >/dev/null 2>"$TMP/err"
rc=$?
check "--report through a symlink: exit 73, the link's target untouched ($(cat "$TMP/err"))" \
	all '[ "$rc" = 73 ]' '[ "$(cat "$TMP/target")" = precious ]'
ln -s "$TMP/target" "$TMP/link.pcap"
on client "$ECNTRACE" trace -n -q 1 --pcap "$TMP/link.pcap" "$TARGET4" >/dev/null 2>"$TMP/err"
rc=$?
check "--pcap through a symlink: exit 73, the link's target untouched" \
	all '[ "$rc" = 73 ]' '[ "$(cat "$TMP/target")" = precious ]'
# A run that fails after the report is opened (interrupted at once): the
# user's own file stays; a file the run created goes.
echo mine >"$TMP/existing.html"
run_bg -q -w 5 --report "$TMP/existing.html" "$TARGET4"
sleep 1
finish INT
check "an interrupted run keeps the report file the user had (exit $RC)" \
	all '[ "$RC" = 75 ]' '[ -e "$TMP/existing.html" ]'
run_bg -q -w 5 --report "$TMP/new.html" "$TARGET4"
sleep 1
finish INT
check "an interrupted run removes the report file it created (exit $RC)" \
	all '[ "$RC" = 75 ]' '[ ! -e "$TMP/new.html" ]'

lab "$name" down
check "the lab is gone" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
