#!/bin/bash
# `ecntrace connect` interrupted. In `ectdrop` the ECN flows' data is never
# acknowledged, so with -w 5 a run lasts about ten seconds. SIGINT, SIGTERM,
# SIGHUP, SIGQUIT and SIGPIPE mid-run: exit 75 (EX_TEMPFAIL) within a
# second, one line on stderr naming the signal, the JSON says interrupted, the nft table is gone and the site
# holds no connection. SIGKILL leaves the table behind; the next run reaps
# it (its lock is free) and leaves nothing either.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"

name=cs$$
lab_up "$name" ectdrop || { nok "ectdrop lab comes up"; exit 1; }
OUT=$TMP/out

tables() { on client nft list tables 2>/dev/null | awk '$3 ~ /^ecntrace_/ { print $3 }' | xargs; }
has_table() { case " $(tables) " in *" ecntrace_$1_"*) return 0;; esac; return 1; }

# start SPORT: a long run in the background; its pid (ip netns exec execs
# ecntrace itself) in PID. Returns once its table is there, or 1 after 5 s.
start() {
	local i
	ip netns exec "$LAB_NAME-client" "$ECNTRACE" connect -4 --sport "$1" \
		--flows 20 -w 5 --json "$TARGET4" >"$OUT" 2>"$OUT.err" &
	PID=$!
	BG_PIDS="$BG_PIDS $PID"
	for i in $(seq 50); do
		has_table "$PID" && return 0
		sleep 0.1
	done
	return 1
}

# stop SIG: send SIG, wait up to 3 s; RC is the exit status, WAITED the
# tenths of a second it took, at most (30: it never exited, killed).
stop() {
	local i
	exec 4>&2 2>/dev/null    # no "Killed" note from the shell
	kill -s "$1" "$PID"
	for i in $(seq 30); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	WAITED=$i
	kill -0 "$PID" 2>/dev/null && { kill -KILL "$PID"; WAITED=30; }
	wait "$PID"
	RC=$?
	exec 2>&4 4>&-
}

# Site connections from the client still open (established or closing).
open_conns() {
	local i out
	for i in $(seq 20); do
		out=$(on site-a ss -Htn state connected '( sport = :80 )' | awk '{ print $4 }' | xargs)
		[ -z "$out" ] && return 0
		sleep 0.1
	done
	echo "$out"
}

sport=47000
for sig in INT TERM HUP QUIT PIPE; do
	sport=$((sport + 100))
	if ! start "$sport"; then
		nok "SIG$sig: the run's table ecntrace_$PID appears (tables: $(tables))"
		kill -KILL "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
		continue
	fi
	ok "SIG$sig: table ecntrace_$PID exists while the run goes on"
	sleep 1.5    # handshakes done, ECN flows waiting for their data's ACK
	kill -0 "$PID" 2>/dev/null || nok "SIG$sig: the run was still going when signalled"
	stop "$sig"
	check "SIG$sig: exit 75 (EX_TEMPFAIL) within a second, got $RC within $((WAITED * 100)) ms" \
		all '[ "$RC" = 75 ]' '[ "$WAITED" -le 10 ]'
	err=$(cat "$OUT.err")
	check "SIG$sig: one line on stderr naming the signal ('$err')" \
		all '[ "$(wc -l <"$OUT.err")" = 1 ]' '[[ $err == "ecntrace: interrupted (SIG$sig"* ]]'
	check "SIG$sig: the JSON is complete and says interrupted" \
		[ "$(jq -r '.summary.interrupted' "$OUT" 2>/dev/null)" = true ]
	left=$(tables)
	check "SIG$sig: no ecntrace_ table left${left:+ ($left)}" [ -z "$left" ]
	conns=$(open_conns)
	check "SIG$sig: the flows still open were closed${conns:+ (site holds $conns)}" [ -z "$conns" ]
done

# SIGKILL: nothing can clean up; the next run must.
sport=$((sport + 100))
if start "$sport"; then
	dead=$PID
	sleep 0.5
	stop KILL
	check "SIGKILL: killed (status $RC), table ecntrace_$dead left behind" \
		all '[ "$RC" = 137 ]' 'has_table "$dead"'
	# A stale table of a pid that is alive must survive the reaping: make
	# one for a process of ours that certainly runs.
	sleep 60 &
	alive=$!
	BG_PIDS="$BG_PIDS $alive"
	on client nft add table inet "ecntrace_$alive"
	on client timeout 30 "$ECNTRACE" connect -4 --sport $((sport + 50)) \
		--flows 1 -w 0.5 "$TARGET4" >"$OUT" 2>"$OUT.err"
	rc=$?
	check "SIGKILL: the next run works (exit $rc, want 1: the ECT data is dropped here)" [ "$rc" = 1 ]
	left=$(tables)
	check "SIGKILL: the next run reaped ecntrace_$dead, kept live pid $alive's, removed its own (left: ${left:-none})" \
		all '! has_table "$dead"' '[ "$left" = "ecntrace_$alive" ]'
	kill "$alive"; wait "$alive" 2>/dev/null
	on client nft delete table inet "ecntrace_$alive"
else
	nok "SIGKILL: the run's table appears"
fi

lab "$name" down
check "the lab is gone" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
