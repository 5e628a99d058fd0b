#!/bin/bash
# ecntrace connect's command line, no lab needed:
#  - bad input: exactly one line on stderr, "ecntrace: ...", nothing on
#    stdout, and the exit code --help documents (64 usage, 68 unknown host,
#    69 no such interface);
#  - as nobody: exit 77, one line naming CAP_NET_RAW; as root without
#    CAP_NET_ADMIN: exit 77, one line naming CAP_NET_ADMIN, no nft table;
#  - the last source port that fits is accepted (the run goes on, finds
#    nobody, removes its table);
#  - --help lists every option of the getopt table in src/cmd/connect_cmd.c,
#    and nothing else, and the exit codes.
# Every run happens in a network namespace of our own with a veth pair and
# no peer, so no name lookup or packet leaves it. Needs root.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
nok() { N=$((N + 1)); FAILED=1; echo "not ok $N - $*"; }

[ "$(id -u)" = 0 ] || { echo "ok 1 # skip needs root (a network namespace of its own)"; exit 0; }
for t in setpriv jq nft; do
	command -v "$t" >/dev/null 2>&1 || { echo "ok 1 # skip $t is not installed"; exit 0; }
done
ECNTRACE=${ECNTRACE:-$ROOT/ecntrace}
[ -x "$ECNTRACE" ] || { echo "ok 1 # skip no ecntrace binary at $ECNTRACE (make)"; exit 0; }
SRC=${ECNTRACE_SRC:-$(dirname "$ECNTRACE")/src/cmd/connect_cmd.c}
[ -f "$SRC" ] || SRC=$ROOT/src/cmd/connect_cmd.c

NS=""
TMP=$(mktemp -d /tmp/test_connect_cli.XXXXXX)
cleanup() {
	trap '' INT TERM
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A copy nobody can read and run (the work tree may be closed to it), and
# that a concurrent rebuild cannot change under the test.
chmod 755 "$TMP"
if ! cp "$ECNTRACE" "$TMP/ecntrace" || ! chmod 755 "$TMP/ecntrace"; then
	nok "copy ecntrace"
	exit 1
fi
ET=$TMP/ecntrace

NS=ccli$$
if ! { ip netns add "$NS" &&
       ip -n "$NS" link set lo up &&
       ip -n "$NS" link add v0 type veth peer name v1 &&
       ip -n "$NS" addr add 192.0.2.2/24 dev v0 &&
       ip -n "$NS" addr add 2001:db8::2/64 dev v0 nodad &&
       ip -n "$NS" link set v1 up &&
       ip -n "$NS" link set v0 up; }; then
	nok "set up namespace $NS"
	exit 1
fi
IN=(ip netns exec "$NS")
H=192.0.2.1     # on v0's link, never answers: nothing is behind v1
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# run [WRAPPER...] -- ARGS...: ecntrace connect ARGS in the namespace,
# under WRAPPER; sets RC, OUT and ERR.
run() {
	local wrap=()
	while [ "$1" != -- ]; do wrap+=("$1"); shift; done
	shift
	timeout 20 "${IN[@]}" "${wrap[@]}" "$ET" connect "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}
tables() { "${IN[@]}" nft list tables 2>/dev/null | awk '$3 ~ /^ecntrace_/ { print $3 }' | xargs; }

# expect WANT_RC DESC [WRAPPER...] -- ARGS...: one error line, nothing on
# stdout, exit WANT_RC; and no table left behind.
expect() {
	local want=$1 desc=$2 lines
	shift 2
	run "$@"
	lines=$(wc -l <"$TMP/err")
	if [ "$RC" = "$want" ] && [ "$lines" = 1 ] && [ -z "$OUT" ] &&
	   [ "${ERR#ecntrace: }" != "$ERR" ] && [ -z "$(tables)" ]; then
		ok "$desc: exit $want, one line: $ERR"
	else
		nok "$desc: exit $RC (want $want), $lines stderr lines (want 1), stdout ${#OUT} bytes, tables '$(tables)'"
		sed 's/^/# stderr: /' "$TMP/err"
		sed 's/^/# stdout: /' "$TMP/out" | head -5
	fi
}

# ------------------------------------------------------------------------
# Usage errors (64): all found before any name is resolved or socket opened.
expect 64 "unknown mode" -- --mode bogus $H
expect 64 "mode in capitals" -- --mode CLASSIC $H
expect 64 "empty mode" -- --mode "" $H
expect 64 "--flows 0" -- --flows 0 $H
expect 64 "--flows 65" -- --flows 65 $H
expect 64 "--flows -1" -- --flows -1 $H
expect 64 "--flows with junk" -- --flows 7x $H
expect 64 "-p 0" -- -p 0 $H
expect 64 "-p 65536" -- -p 65536 $H
expect 64 "--sport 0" -- --sport 0 $H
expect 64 "--sport 65536" -- --sport 65536 $H
expect 64 "source ports overflow: --sport 65530 --flows 10 (20 ports)" -- --sport 65530 --flows 10 $H
expect 64 "source ports overflow by one: --sport 65517 --flows 10" -- --sport 65517 --flows 10 $H
expect 64 "plain mode overflow by one: --sport 65530 --flows 7" -- --mode plain --sport 65530 --flows 7 $H
expect 64 "-w 0" -- -w 0 $H
expect 64 "-w 61" -- -w 61 $H
expect 64 "--rate 0" -- --rate 0 $H
expect 64 "empty payload" -- --payload '' $H
expect 64 "payload of 1025 bytes" -- --payload "$(printf '%01025d' 0)" $H
expect 64 "no host" --
expect 64 "two hosts" -- $H 198.51.100.1
expect 64 "empty host" -- ""
expect 64 "unknown long option" -- --bogus $H
expect 64 "unknown short option" -- -Z $H
expect 64 "argument to a flag" -- --json=1 $H
expect 64 "missing argument (long)" -- $H --flows
expect 64 "missing argument (short)" -- $H -p
expect 64 "IPv6 source for an IPv4 target" -- -s 2001:db8::2 $H

# ------------------------------------------------------------------------
# Name and route errors. The reserved .invalid TLD (RFC 6761) never
# resolves; in the namespace the query cannot leave either.
expect 68 "unknown host nohost.invalid" -- nohost.invalid
expect 68 "unknown host, IPv6" -- -6 nohost.invalid
expect 69 "no such interface" -- -i ecnt-nosuch0 $H

# ------------------------------------------------------------------------
# Privileges.
run "${NOBODY[@]}" -- $H
if [ "$RC" = 77 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && [ -z "$OUT" ] &&
   [ "${ERR#ecntrace: }" != "$ERR" ] && [[ $ERR == *CAP_NET_RAW* ]]; then
	ok "as nobody: exit 77, one line: $ERR"
else
	nok "as nobody: exit $RC (want 77), stderr:"
	sed 's/^/# /' "$TMP/err"
fi
run "${NOBODY[@]}" -- -6 2001:db8::1
if [ "$RC" = 77 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && [[ $ERR == *CAP_NET_RAW* ]]; then
	ok "as nobody, IPv6: exit 77, one line naming CAP_NET_RAW"
else
	nok "as nobody, IPv6: exit $RC (want 77)"
	sed 's/^/# /' "$TMP/err"
fi
# Root that may open raw sockets but not touch nftables: the guard is
# refused before a single packet goes out.
run setpriv --bounding-set=-net_admin --inh-caps=-net_admin -- -w 0.1 --flows 1 $H
if [ "$RC" = 77 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && [[ $ERR == *CAP_NET_ADMIN* ]] &&
   [ -z "$OUT" ] && [ -z "$(tables)" ]; then
	ok "without CAP_NET_ADMIN: exit 77, one line: $ERR"
else
	nok "without CAP_NET_ADMIN: exit $RC (want 77), tables '$(tables)', stderr:"
	sed 's/^/# /' "$TMP/err"
fi

# ------------------------------------------------------------------------
# The last ports that fit are taken. Nobody answers on this link: every
# flow is no-answer (exit 2: the controls fail too; plain mode has none,
# exit 1), and the table goes away.
run -- --sport 65516 --flows 10 -w 0.1 --json $H
n=$(jq -r '[.flows[] | select(.result == "no-answer")] | length' "$TMP/out" 2>/dev/null)
last=$(jq -r '.flows[-1].sport' "$TMP/out" 2>/dev/null)
if [ "$RC" = 2 ] && [ "$n" = 20 ] && [ "$last" = 65535 ] && [ -z "$ERR" ] && [ -z "$(tables)" ]; then
	ok "--sport 65516 --flows 10 fits (ports to $last): 20 no-answer, exit 2, no table left"
else
	nok "--sport 65516 --flows 10: exit $RC (want 2), $n no-answer (want 20), last port $last, tables '$(tables)'"
	sed 's/^/# stderr: /' "$TMP/err"
fi
run -- --mode plain --sport 65530 --flows 6 -w 0.1 --json $H
n=$(jq -r '[.flows[] | select(.result == "no-answer")] | length' "$TMP/out" 2>/dev/null)
if [ "$RC" = 1 ] && [ "$n" = 6 ] && [ -z "$ERR" ] && [ -z "$(tables)" ]; then
	ok "--mode plain --sport 65530 --flows 6 fits: 6 no-answer, exit 1, no table left"
else
	nok "--mode plain --sport 65530 --flows 6: exit $RC (want 1), $n no-answer (want 6), tables '$(tables)'"
	jq -c '[.flows[].result]' "$TMP/out" 2>/dev/null | sed 's/^/# /'
	sed 's/^/# stderr: /' "$TMP/err"
fi

# ------------------------------------------------------------------------
# --help against the getopt table.
run -- --help
help=$OUT
if [ "$RC" = 0 ] && [ -z "$ERR" ] && [ -n "$help" ]; then
	ok "--help: exit 0, stdout only"
else
	nok "--help: exit $RC, stderr '$ERR'"
fi
run -- -h
if [ "$RC" = 0 ] && [ "$OUT" = "$help" ]; then ok "-h prints the same help"; else nok "-h differs from --help"; fi

longs=$(sed -n '/struct option connect_opts\[\]/,/};/p' "$SRC" |
	sed -n -E 's/.*\{ *"([a-z0-9-]+)".*/\1/p')
shorts=$(grep -A1 'getopt_long(' "$SRC" | tr -d '\n' |
	sed -n -E 's/.*getopt_long\([^"]*"([^"]*)".*/\1/p' | tr -d ':')
if [ -z "$longs" ] || [ -z "$shorts" ]; then
	nok "could not read the option table from $SRC (longs '$longs', shorts '$shorts')"
else
	missing=""
	for o in $longs; do
		echo "$help" | grep -q -E -- "(^|[ ,])--$o([ =,]|$)" || missing="$missing --$o"
	done
	for o in $(echo "$shorts" | fold -w1); do
		echo "$help" | grep -q -E -- "(^|[ ,])-$o([ ,]|$)" || missing="$missing -$o"
	done
	if [ -z "$missing" ]; then
		ok "--help lists all $(echo $longs | wc -w) long and ${#shorts} short options of the getopt table"
	else
		nok "--help does not list:$missing"
	fi
	extra=""
	for o in $(echo "$help" | grep -o -E -- '^ +--?[a-zA-Z0-9][a-z0-9-]*(, --?[a-z0-9-]+)?' |
		   tr ',' '\n' | tr -d ' ' | sort -u); do
		case "$o" in
		--*) echo "$longs" | grep -qx -- "${o#--}" || extra="$extra $o" ;;
		-?) case "$shorts" in *"${o#-}"*) ;; *) extra="$extra $o" ;; esac ;;
		*) extra="$extra $o" ;;
		esac
	done
	if [ -z "$extra" ]; then
		ok "every option --help lists is in the getopt table"
	else
		nok "--help lists options the parser does not take:$extra"
	fi
	# Each long option is known to the parser (these runs stop at a
	# missing argument or the missing host, or print the help).
	bad=""
	for o in $longs; do
		[ "$o" = help ] && continue
		run -- "--$o"
		[[ $ERR == *"unknown option"* ]] && bad="$bad --$o"
	done
	if [ -z "$bad" ]; then ok "the parser takes every long option of the table"; else nok "rejected as unknown:$bad"; fi
fi
for code in 0 1 2 64 68 69 75 77; do
	if echo "$help" | grep -q -w -- "$code"; then ok "--help documents exit $code"; else nok "--help does not document exit $code"; fi
done

ip netns del "$NS" && NS=""
check_ns=$(ip netns list | awk '{ print $1 }' | grep -x "ccli$$")
if [ -z "$check_ns" ]; then ok "namespace ccli$$ is gone"; else nok "namespace ccli$$ is left"; fi
echo "1..$N"
exit $FAILED
