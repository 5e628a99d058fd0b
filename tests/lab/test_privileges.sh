#!/bin/bash
# Privileges: ecntrace works as an ordinary user holding only the
# capabilities it needs (CAP_NET_RAW for trace; CAP_NET_RAW and
# CAP_NET_ADMIN for connect and the diagnosis), and once its sockets are
# open it keeps no capability it no longer needs. The sets of the running
# process, read from /proc: trace holds none; connect and the diagnosis
# hold CAP_NET_ADMIN permitted but not effective (it is raised only to
# install and remove their nftables table); analyze, reading a FIFO, holds
# none, even run as root; watch holds none once its capture is open.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v setpriv >/dev/null 2>&1 || skip_all "setpriv is not installed"

# The binary, readable and runnable by nobody.
BIN=$TMP/bin/ecntrace
mkdir -p "$TMP/bin"
cp "$LAB_ROOT/ecntrace" "$BIN"
chmod 755 "$TMP" "$TMP/bin" "$BIN"
CAP_NET_ADMIN_MASK=0000000000001000

# as CAPS CMD...: run CMD in the client namespace as nobody with the
# ambient capabilities CAPS (e.g. +net_raw), or none if CAPS is "-".
as() {
	local caps=$1
	shift
	if [ "$caps" = - ]; then
		on client setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		on client setpriv --reuid=65534 --regid=65534 --clear-groups \
			--inh-caps="$caps" --ambient-caps="$caps" "$@"
	fi
}

# ecntrace_pid: the pid of the running ecntrace (setpriv and ip netns exec
# exec into it, so its command line starts with the binary's path).
ecntrace_pid() {
	local k p
	for ((k = 0; k < 40; k++)); do
		p=$(pgrep -n -f "^$BIN ")
		[ -n "$p" ] && { echo "$p"; return; }
		sleep 0.05
	done
}

# cap PID FIELD: CapEff or CapPrm of a process.
cap() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

name=pv$$
if ! lab_up "$name" seed; then
	nok "seed lab comes up"
	exit 1
fi

# trace with CAP_NET_RAW only.
as +net_raw "$BIN" trace -n -q 1 --json "$TARGET4" >"$TMP/t.json" 2>"$TMP/t.err"
rc=$?
check "trace as nobody with CAP_NET_RAW only: exit 0, target reached (rc $rc)" \
	all '[ $rc = 0 ]' '[ "$(jq -r .reached "$TMP/t.json")" = true ]'
as +net_raw "$BIN" trace -6 -n -q 1 --json "$TARGET6" >"$TMP/t6.json" 2>/dev/null
check "trace -6 as nobody with CAP_NET_RAW only: target reached" \
	[ "$(jq -r .reached "$TMP/t6.json")" = true ]

# Without it: one line, exit 77.
as - "$BIN" trace -n "$TARGET4" >"$TMP/n.out" 2>"$TMP/n.err"
rc=$?
check "trace as nobody without capabilities: exit 77, one line naming CAP_NET_RAW" \
	all '[ $rc = 77 ]' '[ "$(wc -l <"$TMP/n.err")" = 1 ]' 'grep -q CAP_NET_RAW "$TMP/n.err"' \
	'[ ! -s "$TMP/n.out" ]'

# connect with CAP_NET_RAW only: it needs CAP_NET_ADMIN too.
as +net_raw "$BIN" connect --flows 1 "$TARGET4" >"$TMP/c.out" 2>"$TMP/c.err"
rc=$?
check "connect with CAP_NET_RAW only: exit 77, one line naming CAP_NET_ADMIN" \
	all '[ $rc = 77 ]' '[ "$(wc -l <"$TMP/c.err")" = 1 ]' 'grep -q CAP_NET_ADMIN "$TMP/c.err"'
check "connect refused: no ecntrace_ table left" \
	[ -z "$(on client nft list tables | grep ecntrace_)" ]

# The diagnosis with both: works, broken as the lab was built.
as +net_raw,+net_admin "$BIN" --json "$TARGET4" >"$TMP/d.json" 2>"$TMP/d.err"
rc=$?
seen=$(jq -r '[.verdict.status, (.verdict.causes[0] | .kind, .hop, .confidence)] | map(tostring) | join(" ")' "$TMP/d.json" 2>/dev/null)
check "diagnosis as nobody with CAP_NET_RAW and CAP_NET_ADMIN: broken, ecn-hash at hop $BALANCER_HOP (rc $rc; $seen)" \
	all '[ $rc = 1 ]' \
	"[ \"\$(jq -r '.verdict.causes[0].kind' \"$TMP/d.json\")\" = ecn-hash ]" \
	"[ \"\$(jq -r '.verdict.causes[0].hop' \"$TMP/d.json\")\" = $BALANCER_HOP ]"
[ $rc = 1 ] && [ "$seen" != "${seen#broken ecn-hash $BALANCER_HOP }" ] ||
	{ diag "the diagnosis said:"; sed 's/^/# /' "$TMP/d.err"; jq -c .verdict "$TMP/d.json" | sed 's/^/# /'; }
check "diagnosis as nobody: its nftables table is gone" \
	[ -z "$(on client nft list tables | grep ecntrace_)" ]

# What a running process keeps. In ectdrop, ECT(0) probes beyond the
# dropping router go unanswered, so runs last long enough to look.
if ! lab_up "$name" ectdrop; then
	nok "ectdrop lab comes up"
	exit 1
fi
as +net_raw "$BIN" trace -n -q 1 -w 3 --ecn ect0 "$TARGET4" >/dev/null 2>&1 &
bg=$!
pid=$(ecntrace_pid)
sleep 0.5             # its sockets are open by now: it waits on silent hops
eff=$(cap "$pid" CapEff)
wait "$bg"
check "trace while running: no effective capability left (CapEff $eff)" \
	[ "$eff" = 0000000000000000 ]

# sets CAPS CMD...: run CMD in the background, read the running process's
# CapEff and CapPrm (into eff, prm) once its sockets are open, wait for it.
sets() {
	local caps=$1 bg
	shift
	as "$caps" "$@" >/dev/null 2>&1 &
	bg=$!
	pid=$(ecntrace_pid)
	sleep 0.5
	eff=$(cap "$pid" CapEff)
	prm=$(cap "$pid" CapPrm)
	wait "$bg"
}

sets +net_raw,+net_admin "$BIN" -q -w 2 "$TARGET4"
check "diagnosis while running: no effective capability, CAP_NET_ADMIN alone permitted (CapEff $eff, CapPrm $prm)" \
	all "[ \"$eff\" = 0000000000000000 ]" "[ \"$prm\" = $CAP_NET_ADMIN_MASK ]"
check "diagnosis as nobody: its nftables table is gone after the run" \
	[ -z "$(on client nft list tables | grep ecntrace_)" ]

sets +net_raw,+net_admin "$BIN" connect --quiet -w 3 --flows 2 "$TARGET4"
check "connect while running: no effective capability, CAP_NET_ADMIN alone permitted (CapEff $eff, CapPrm $prm)" \
	all "[ \"$eff\" = 0000000000000000 ]" "[ \"$prm\" = $CAP_NET_ADMIN_MASK ]"
check "connect: its nftables table is gone after the run" \
	[ -z "$(on client nft list tables | grep ecntrace_)" ]

# analyze, run as root, reading a FIFO that stays open: it parses with no
# capability at all.
mkfifo "$TMP/cap.fifo"
"$BIN" analyze "$TMP/cap.fifo" >/dev/null 2>&1 &
bg=$!
exec 7>"$TMP/cap.fifo"
pid=$(ecntrace_pid)
sleep 0.3
eff=$(cap "$pid" CapEff)
prm=$(cap "$pid" CapPrm)
exec 7>&-
wait "$bg"
check "analyze as root on a FIFO: no capability effective or permitted (CapEff $eff, CapPrm $prm)" \
	all '[ -n "$pid" ]' "[ \"$eff\" = 0000000000000000 ]" "[ \"$prm\" = 0000000000000000 ]"

# The same with its packets followed on a second thread: a capture's
# start written, the FIFO kept open; every thread holds none.
"$BIN" analyze --threads 2 "$TMP/cap.fifo" >/dev/null 2>&1 &
bg=$!
exec 7>"$TMP/cap.fifo"
cat "$LAB_ROOT/tests/fuzz/corpus_analyze/story.pcapng" >&7
pid=$(ecntrace_pid)
# The follower starts once the capture's header is read: wait for it
# (at most 5 s).
for _ in $(seq 50); do
	[ "$(ls /proc/"$pid"/task 2>/dev/null | wc -l)" -ge 2 ] && break
	sleep 0.1
done
tasks=0 held=""
for st in /proc/"$pid"/task/*/status; do
	[ -r "$st" ] || continue
	tasks=$((tasks + 1))
	e=$(awk '$1 == "CapEff:" { print $2 }' "$st")
	p=$(awk '$1 == "CapPrm:" { print $2 }' "$st")
	[ "$e$p" = 00000000000000000000000000000000 ] || held="$held $e/$p"
done
exec 7>&-
wait "$bg"
check "analyze --threads 2 on a FIFO: $tasks threads, none with a capability effective or permitted${held:+ (held:$held)}" \
	all '[ -n "$pid" ]' "[ $tasks = 2 ]" "[ -z \"$held\" ]"

# watch, run as root: none once the capture is open.
on client "$BIN" watch -i "$(uplink_if client)" --duration 2 >/dev/null 2>&1 &
bg=$!
pid=$(ecntrace_pid)
sleep 0.5
eff=$(cap "$pid" CapEff)
prm=$(cap "$pid" CapPrm)
wait "$bg"
check "watch as root, capturing: no capability effective or permitted (CapEff $eff, CapPrm $prm)" \
	all '[ -n "$pid" ]' "[ \"$eff\" = 0000000000000000 ]" "[ \"$prm\" = 0000000000000000 ]"

lab "$name" down
check "lab torn down" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
