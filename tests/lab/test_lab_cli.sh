#!/bin/bash
# ecnlab's command line: bad input gives one line on stderr and a non-zero
# exit; down is idempotent; up is idempotent, instances coexist, and an up
# that is interrupted or fails half-way leaves nothing behind.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab

# fails_cleanly DESC CMD...: CMD exits non-zero with exactly one line on
# stderr and nothing on stdout.
fails_cleanly() {
	local d=$1 rc lines; shift
	"$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ $rc != 0 ] && [ "$lines" = 1 ] && [ ! -s "$TMP/out" ]; then
		ok "$d: exit $rc, \"$(cat "$TMP/err")\""
	else
		nok "$d: exit $rc, $lines stderr lines, $(wc -c <"$TMP/out") stdout bytes"
		sed 's/^/# /' "$TMP/err" | head -5
	fi
}
# leaves_nothing NAME: no namespace, no state, no server of instance NAME.
leaves_nothing() {
	[ -z "$(lab_namespaces "$1")" ] && [ ! -e "/run/ecnlab/$1" ] && ! pgrep -f "/run/ecnlab/$1/" >/dev/null
}

N=lx$$
LAB_NAMES="$N ${N}b ${N}i ${N}f"

check "help exits 0 and shows the commands" sh -c "'$ECNLAB' help | grep -q 'up SCENARIO'"
nsc=$(ls "$LAB_ROOT"/lab/scenarios/*.sh | wc -l)
check "list shows all $nsc scenario files with a description" \
	[ "$("$ECNLAB" list | awk 'NF >= 3' | wc -l)" = "$nsc" ]
check "show SCENARIO works without a running lab" sh -c "ECNLAB_NAME=$N '$ECNLAB' show seed | grep -q 'policy tos'"

fails_cleanly "unknown scenario" lab "$N" up no-such-scenario
check "unknown scenario creates nothing" leaves_nothing "$N"
fails_cleanly "unknown command" lab "$N" frobnicate
fails_cleanly "up without a scenario" lab "$N" up
fails_cleanly "env when nothing is up" lab "$N" env
fails_cleanly "exec when nothing is up" lab "$N" exec -- true
fails_cleanly "bad ECNLAB_SEED" env ECNLAB_NAME="$N" ECNLAB_SEED=banana "$ECNLAB" up single
fails_cleanly "ECNLAB_SEED out of range" env ECNLAB_NAME="$N" ECNLAB_SEED=4294967296 "$ECNLAB" up single
fails_cleanly "bad ECNLAB_NAME" env ECNLAB_NAME="../x" "$ECNLAB" up single
# Many anycast addresses: documentation space only, clear of the lab's own.
fails_cleanly "ECNLAB_ANYCAST4 outside documentation space" env ECNLAB_NAME="$N" ECNLAB_ANYCAST4=10.0.0.0/16 "$ECNLAB" up scan
fails_cleanly "ECNLAB_ANYCAST4 over the lab's links" env ECNLAB_NAME="$N" ECNLAB_ANYCAST4=198.18.0.0/16 "$ECNLAB" up scan
fails_cleanly "ECNLAB_ANYCAST6 with host bits" env ECNLAB_NAME="$N" ECNLAB_ANYCAST6=2001:db8:ac::1/112 "$ECNLAB" up scan
fails_cleanly "ECNLAB_ANYCAST4 not a prefix" env ECNLAB_NAME="$N" ECNLAB_ANYCAST4="198.19.0.0/16;x" "$ECNLAB" up scan
fails_cleanly "HASH=dst without anycast prefixes" env ECNLAB_NAME="$N" ECNLAB_HASH=dst "$ECNLAB" up seed
check "bad anycast prefixes create nothing" leaves_nothing "$N"

if command -v setpriv >/dev/null 2>&1; then
	asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
else
	asnobody() { su nobody -s /bin/sh -c "$(printf '%q ' "$@")"; }
fi
fails_cleanly "up as non-root" asnobody env ECNLAB_NAME="$N" bash "$ECNLAB" up seed
fails_cleanly "down as non-root" asnobody env ECNLAB_NAME="$N" bash "$ECNLAB" down
check "non-root up creates nothing" leaves_nothing "$N"

# A PATH without nft: up must name the missing tool, not half-build.
mkdir -p "$TMP/bin"
for t in ip sysctl; do ln -s "$(command -v $t)" "$TMP/bin/$t"; done
fails_cleanly "up without nft on PATH" env PATH="$TMP/bin" ECNLAB_NAME="$N" "$(command -v bash)" "$ECNLAB" up seed
grep -q nft "$TMP/err" && ok "the error names nft" || nok "the error names nft"
check "missing tool creates nothing" leaves_nothing "$N"

check "down with nothing up succeeds" lab "$N" down
check "down again succeeds" lab "$N" down

# up, exec, idempotent up, unknown node.
if lab_up "$N" single; then
	ok "up single"
	nodes=$(echo $NODES | wc -w)
	check "exec defaults to the client (tcp_ecn is 1 there)" \
		[ "$(lab "$N" exec -- cat /proc/sys/net/ipv4/tcp_ecn)" = 1 ]
	check "exec in a site answers with the anycast address on lo" \
		sh -c "ECNLAB_NAME=$N '$ECNLAB' exec site-a -- ip -4 addr show dev lo | grep -q '$TARGET4/32'"
	fails_cleanly "exec in an unknown node" lab "$N" exec no-such-node -- true
	fails_cleanly "exec without a command" lab "$N" exec client --
	check "show names the running scenario" sh -c "ECNLAB_NAME=$N '$ECNLAB' show | grep -q 'scenario single'"
	check "up again with the same name succeeds (idempotent)" lab "$N" up single
	check "... with one namespace per node ($nodes)" [ "$(lab_namespaces "$N" | wc -l)" = "$nodes" ]
	check "... and a working site" sh -c "ECNLAB_NAME=$N '$ECNLAB' exec -- curl -s -m 3 http://$TARGET4/ | grep -q site"

	# A second instance next to the first.
	if lab_up "${N}b" seed; then
		ok "a second instance (seed) comes up next to the first"
		# seed resets about half of all ECN connections: ask without ECN.
		check "the second instance serves" sh -c "ECNLAB_NAME=${N}b '$ECNLAB' exec -- sh -c 'sysctl -qw net.ipv4.tcp_ecn=0; curl -s -m 3 http://$TARGET4/' | grep -q site"
		lab "${N}b" down
		check "taking the second down leaves it nothing" leaves_nothing "${N}b"
		check "... and the first intact" sh -c "ECNLAB_NAME=$N '$ECNLAB' exec -- curl -s -m 3 http://$TARGET4/ | grep -q site"
	else
		nok "a second instance (seed) comes up next to the first"
	fi
	lab "$N" down
	check "down removes namespaces, state and servers" leaves_nothing "$N"
else
	nok "up single"
fi

# Interrupted up: time a full up of the largest scenario, then interrupt
# others at fractions of that time, with TERM and with INT.
start=$(date +%s%N)
lab "${N}i" up deep >/dev/null 2>&1
full=$(( ($(date +%s%N) - start) / 1000000 ))
lab "${N}i" down
diag "a full 'up deep' takes ${full} ms"
for sig in TERM INT; do
	for pct in 15 40 65; do
		ms=$((full * pct / 100))
		timeout -s $sig "$(awk -v m=$ms 'BEGIN { printf "%.3f", m / 1000 }')" \
			env ECNLAB_NAME="${N}i" "$ECNLAB" up deep >/dev/null 2>&1
		rc=$?
		if [ $rc = 124 ]; then
			check "up interrupted by SIG$sig after ${ms} ms leaves nothing" leaves_nothing "${N}i"
		else
			skip "up finished (exit $rc) before SIG$sig at ${ms} ms"
		fi
		lab "${N}i" down
	done
done

# An up that fails half-way (the scenario's post_up hook fails after every
# namespace, link and server exists) cleans up after itself.
mkdir -p "$TMP/scenarios"
{ cat "$LAB_ROOT/lab/scenarios/seed.sh"; echo 'post_up() { return 1; }'; } >"$TMP/scenarios/broken.sh"
fails_cleanly "up whose post_up hook fails" env ECNLAB_SCENARIOS="$TMP/scenarios" ECNLAB_NAME="${N}f" "$ECNLAB" up broken
check "the failed up leaves nothing" leaves_nothing "${N}f"

exit $TAP_FAILED
