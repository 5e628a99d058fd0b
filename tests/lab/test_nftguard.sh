#!/bin/bash
# The nftables guard across PID namespaces that share one network
# namespace (containers with their own pids on one host network). Two
# diagnoses of the seed lab overlap, each in its own PID namespace
# (unshare -p -f): both tables exist side by side, neither run reaps or
# merges with the other's, both give the normal verdict (exit 1) and the
# first one's replay still works (its plain control flows are acked, not
# reset by our own kernel). Twice: once with pids 3 and 1 (a pid alive in
# one namespace is dead in the other: the old reaper deleted the first
# table), once with pid 1 in both (the old names were equal and merged).
# Then SIGKILL: the table and its lock file stay, the lock is free, the
# next run reaps both; a table whose lock file is missing (its owner may
# see another /run) is kept; a legacy ecntrace_<pid> table of an unused
# pid is reaped from the initial PID namespace but not from another one,
# which cannot see every pid. Afterwards no table and no lock file of ours.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
for t in jq unshare pgrep; do
	command -v "$t" >/dev/null 2>&1 || skip_all "$t is not installed"
done
unshare -p -f true 2>/dev/null || skip_all "cannot unshare a PID namespace"
ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"
LOCKDIR=/run/ecntrace

name=ng$$
lab_up "$name" seed || { nok "seed lab comes up"; exit 1; }
NS=$LAB_NAME-client
ls "$LOCKDIR" 2>/dev/null >"$TMP/locks0"

# Our tables in the client namespace.
tables() { on client nft list tables 2>/dev/null | awk '$3 ~ /^ecntrace_/ { print $3 }' | xargs; }
# Lock files that appeared since the start and that no one holds: left
# behind (/run/ecntrace is the host's; a live run elsewhere holds its own).
locks_left() {
	local f out=""
	for f in $(ls "$LOCKDIR" 2>/dev/null | grep '\.lock$'); do
		grep -qxF "$f" "$TMP/locks0" && continue
		flock -n -E 99 "$LOCKDIR/$f" true 2>/dev/null && out="$out $f"
	done
	echo $out
}

# run OUT PIDWRAP ARGS...: a diagnosis in a PID namespace of its own, in
# the background (its unshare's pid in RUN). PIDWRAP "pid1": ecntrace is
# the namespace's pid 1; "pid3": a shell (pid 1) and /bin/true (pid 2)
# first, so ecntrace is pid 3.
run() {
	local out=$1 wrap=$2
	shift 2
	if [ "$wrap" = pid3 ]; then
		ip netns exec "$NS" unshare -p -f sh -c '/bin/true; "$@"; exit $?' sh \
			"$ECNTRACE" -q --json --flows 7 "$@" "$TARGET4" >"$out" 2>"$out.err" &
	else
		ip netns exec "$NS" unshare -p -f \
			"$ECNTRACE" -q --json --flows 7 "$@" "$TARGET4" >"$out" 2>"$out.err" &
	fi
	RUN=$!
	BG_PIDS="$BG_PIDS $RUN"
}

# wait_tables N: until N tables of ours exist (5 s at most); prints them.
wait_tables() {
	local i t
	for i in $(seq 50); do
		t=$(tables)
		[ "$(echo $t | wc -w)" -ge "$1" ] && break
		sleep 0.1
	done
	echo "$t"
}

# replay_ok OUT: the run's plain control flows were all answered and
# acked (the host's RST would reset them all), and some ECN flow too.
replay_ok() {
	jq -e '[.connection.flows[] | select(.control)] as $c |
	       ($c | length) > 0 and ($c | all(.synack_flags != null and .data_acked)) and
	       ([.connection.flows[] | select(.control | not) | select(.result == "ok")] | length) > 0' \
		"$1" >/dev/null 2>&1
}

# overlap LABEL WRAP_A WRAP_B: run A slowly (about 7 s), B once A's table
# is up; both tables must be there while both run.
overlap() {
	local label=$1 a b ta tb both rca rcb
	run "$TMP/a.json" "$2" --rate 5 --sport 41000
	a=$RUN
	ta=$(wait_tables 1)
	run "$TMP/b.json" "$3" --rate 10 --sport 43000
	b=$RUN
	sleep 1.5
	both=$(tables)
	check "$label: both tables exist while both run (before B: $ta; with B: $both)" \
		all '[ "$(echo $both | wc -w)" = 2 ]' '[ -n "$ta" ]' \
		'case " $both " in *" $ta "*) true;; *) false;; esac'
	for n in $both; do
		check "$label: table $n is ecntrace_<pid>_<16 hex>" \
			eval '[[ $n =~ ^ecntrace_[1-9][0-9]*_[0-9a-f]{16}$ ]]'
	done
	wait "$b"; rcb=$?
	wait "$a"; rca=$?
	check "$label: both runs give the seed's verdict, exit 1 (A $rca, B $rcb)" \
		all '[ "$rca" = 1 ]' '[ "$rcb" = 1 ]'
	check "$label: A's table outlived B: its replay worked (controls acked, some ECN flow ok)" \
		replay_ok "$TMP/a.json"
	check "$label: B's replay worked" replay_ok "$TMP/b.json"
	left=$(tables); locks=$(locks_left)
	check "$label: no ecntrace_ table left${left:+ ($left)}, no lock file${locks:+ ($locks)}" \
		all '[ -z "$left" ]' '[ -z "$locks" ]'
}

overlap "pids 3 and 1" pid3 pid1
overlap "pid 1 twice" pid1 pid1

# SIGKILL mid-run: nothing can clean up, but the lock goes with the process.
run "$TMP/k.json" pid1 --rate 5 --sport 45000
killed=$(wait_tables 1)
kpid=$(pgrep -P "$RUN" | head -1)
if [ -n "$killed" ] && [ -n "$kpid" ]; then
	kill -KILL "$kpid"
	wait "$RUN" 2>/dev/null
	check "SIGKILL: table $killed and its lock file are left behind" \
		all '[ "$(tables)" = "$killed" ]' '[ -f "$LOCKDIR/$killed.lock" ]'
	# (flock(1) would create a missing file: only on one that exists)
	check "SIGKILL: nobody holds the lock any more" \
		all '[ -f "$LOCKDIR/$killed.lock" ]' \
		'flock -n -E 99 "$LOCKDIR/$killed.lock" true'
	# A table of ours without a lock file: its owner may see another
	# /run. A legacy table of a pid no namespace uses.
	orphan=ecntrace_77_0123456789abcdef
	max=$(cat /proc/sys/kernel/pid_max)
	legacy=""
	for p in $((max - 1)) $((max - 2)) $((max - 3)); do
		[ -e "/proc/$p" ] || { legacy=ecntrace_$p; break; }
	done
	on client nft add table inet "$orphan"
	on client nft add table inet "$legacy"
	# From another PID namespace the legacy pid proves nothing.
	run "$TMP/n.json" pid1 --sport 46000
	wait "$RUN"; rc=$?
	left=$(tables)
	check "the next run (its own PID namespace, exit $rc) reaped $killed, kept $orphan and $legacy (left: ${left:-none})" \
		all '[ "$rc" = 1 ]' '! [[ " $left " = *" $killed "* ]]' \
		'[[ " $left " = *" $orphan "* ]]' '[[ " $left " = *" $legacy "* ]]'
	check "the killed run's lock file went with its table" \
		[ ! -e "$LOCKDIR/$killed.lock" ]
	# From the initial PID namespace it does.
	on client timeout 60 "$ECNTRACE" -q --json --flows 7 --sport 47000 "$TARGET4" >"$TMP/i.json" 2>&1
	rc=$?
	left=$(tables)
	check "a run in the initial PID namespace (exit $rc) reaped $legacy, kept $orphan (left: ${left:-none})" \
		all '[ "$rc" = 1 ]' '[ "$left" = "$orphan" ]'
	on client nft delete table inet "$orphan" 2>/dev/null
	on client nft delete table inet "$legacy" 2>/dev/null
else
	nok "SIGKILL: the run's table appears (tables: $(tables))"
fi
left=$(tables); locks=$(locks_left)
check "no ecntrace_ table left${left:+ ($left)}, no lock file${locks:+ ($locks)}" \
	all '[ -z "$left" ]' '[ -z "$locks" ]'

lab "$name" down
check "the lab is gone" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
