#!/bin/bash
# ecntrace trace's command line, no lab needed:
#  - bad input: exactly one line on stderr, "ecntrace: ...", nothing on
#    stdout, and the exit code ecntrace(1) documents (64 usage, 68 unknown
#    host, 69 no such interface);
#  - without CAP_NET_RAW (as nobody): exit 77, one line naming CAP_NET_RAW;
#  - --help lists every option of the getopt table in src/cmd/trace_cmd.c, and
#    every option it lists is in that table.
# Nothing here sends a packet. The cases that resolve a name or open
# sockets run in a network namespace of their own (root, or an unprivileged
# user+net namespace), so a DNS query never leaves the machine; without
# one they skip.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
N=0

ok() { N=$((N + 1)); echo "ok $N - $*"; }
nok() { N=$((N + 1)); echo "not ok $N - $*"; }
skip() { N=$((N + 1)); echo "ok $N # skip $*"; }
diag() { echo "# $*"; }

if [ ! -x ./ecntrace ]; then
	make -s ecntrace >/dev/null 2>&1 || { nok "build ecntrace"; echo "1..$N"; exit 1; }
fi

NS=""
TMP=$(mktemp -d /tmp/test_trace_cli.XXXXXX)
cleanup() {
	trap '' INT TERM
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A copy every user can read and run (nobody cannot reach the work tree),
# which also keeps a concurrent rebuild from changing it under the test.
chmod 755 "$TMP"
cp ./ecntrace "$TMP/ecntrace" && chmod 755 "$TMP/ecntrace" || { nok "copy ecntrace"; exit 1; }
ET=$TMP/ecntrace

# run WRAPPER... -- ARGS...: ecntrace trace ARGS under WRAPPER (may be
# empty); sets RC, OUT (stdout) and ERR (stderr).
run() {
	local wrap=()
	while [ "$1" != -- ]; do wrap+=("$1"); shift; done
	shift
	timeout 20 "${wrap[@]}" "$ET" trace "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

# expect WANT_RC DESC WRAPPER... -- ARGS...: one error line, nothing on
# stdout, exit code WANT_RC.
expect() {
	local want=$1 desc=$2 lines
	shift 2
	run "$@"
	lines=$(wc -l <"$TMP/err")
	if [ "$RC" = "$want" ] && [ "$lines" = 1 ] && [ -z "$OUT" ] &&
	   [ "${ERR#ecntrace: }" != "$ERR" ]; then
		ok "$desc: exit $want, one line: $ERR"
	else
		nok "$desc: exit $RC (want $want), $lines stderr lines (want 1), stdout ${#OUT} bytes"
		sed 's/^/# stderr: /' "$TMP/err"
		sed 's/^/# stdout: /' "$TMP/out" | head -5
	fi
}

# ------------------------------------------------------------------------
# Usage errors: all found before any name is resolved or socket opened.
H=192.0.2.1
expect 64 "unknown ECN codepoint" -- -n --ecn ect2 $H
expect 64 "TOS 256" -- -n -t 256 $H
expect 64 "TOS -1" -- -n -t -1 $H
expect 64 "TOS with junk" -- -n -t 2x $H
expect 64 "destination port 0" -- -n -p 0 $H
expect 64 "destination port 65536" -- -n -p 65536 $H
expect 64 "source port 0" -- -n --sport 0 $H
expect 64 "first TTL above max TTL" -- -n -f 10 -m 5 $H
expect 64 "first TTL 0" -- -n -f 0 $H
expect 64 "max TTL 256" -- -n -m 256 $H
expect 64 "queries 0" -- -n -q 0 $H
expect 64 "queries 11" -- -n -q 11 $H
expect 64 "wait 0" -- -n -w 0 $H
expect 64 "wait 61" -- -n -w 61 $H
expect 64 "rate 0" -- -n --rate 0 $H
expect 64 "unknown DSCP" -- -n --dscp af99 $H
expect 64 "DSCP 64" -- -n --dscp 64 $H
expect 64 "flow label with -4" -- -n -l 5 -4 $H
expect 64 "flow label 2^20" -- -n -l 1048576 -6 2001:db8::1
expect 64 "no host" -- -n
expect 64 "two hosts" -- -n $H 198.51.100.1
expect 64 "unknown long option" -- -n --bogus $H
expect 64 "unknown short option" -- -n -Z $H
expect 64 "missing argument (short)" -- -n $H -q
expect 64 "missing argument (long)" -- -n $H --sport
expect 64 "IPv6 source for an IPv4 target" -- -n -s 2001:db8::1 $H
expect 64 "empty host" -- -n ""
expect 69 "no such interface" -- -n -i ecnt-nosuch0 $H

# ------------------------------------------------------------------------
# Cases that touch the network stack: in a namespace of our own. As root
# a named one with a veth pair inside it, so there is a route to 192.0.2.1
# and no packet can leave; otherwise an unprivileged user+net namespace.
WRAP=()
if [ "$(id -u)" = 0 ] && ip netns add "etcli$$" 2>/dev/null; then
	NS=etcli$$
	ip -n "$NS" link set lo up &&
	ip -n "$NS" link add d0 type veth peer name d1 &&
	ip -n "$NS" addr add 192.0.2.2/24 dev d0 &&
	ip -n "$NS" link set d1 up &&
	ip -n "$NS" link set d0 up || nok "set up namespace $NS"
	WRAP=(ip netns exec "$NS")
elif unshare -rn true 2>/dev/null; then
	WRAP=(unshare -rn)
fi

# The reserved .invalid TLD (RFC 6761) never resolves; in the namespace
# the query cannot leave either.
if [ ${#WRAP[@]} -gt 0 ]; then
	expect 68 "unknown host" "${WRAP[@]}" -- -n nohost.invalid
	expect 68 "unknown host, IPv6" "${WRAP[@]}" -- -n -6 nohost.invalid
else
	skip "unknown host: no network namespace to resolve in (needs root or user namespaces)"
	skip "unknown host, IPv6: same"
fi

# Without CAP_NET_RAW: exit 77 and one line that says what is missing.
if [ -n "$NS" ] && command -v setpriv >/dev/null 2>&1; then
	run ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		-- -n $H
	if [ "$RC" = 77 ] && [ "$(wc -l <"$TMP/err")" = 1 ] &&
	   [ "${ERR#ecntrace: }" != "$ERR" ] && [[ $ERR == *CAP_NET_RAW* ]] &&
	   [ -z "$OUT" ]; then
		ok "as nobody: exit 77, one line: $ERR"
	else
		nok "as nobody: exit $RC (want 77), stderr:"
		sed 's/^/# /' "$TMP/err"
	fi
	run ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		-- -n -6 -s 2001:db8::2 2001:db8::1
	if [ "$RC" = 77 ] && [[ $ERR == *CAP_NET_RAW* ]] && [ "$(wc -l <"$TMP/err")" = 1 ]; then
		ok "as nobody, IPv6: exit 77, one line naming CAP_NET_RAW"
	else
		nok "as nobody, IPv6: exit $RC (want 77)"
		sed 's/^/# /' "$TMP/err"
	fi
else
	skip "as nobody: needs root and setpriv"
	skip "as nobody, IPv6: needs root and setpriv"
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
[ "$RC" = 0 ] && [ "$OUT" = "$help" ] && ok "-h prints the same help" || nok "-h differs from --help"

src=src/cmd/trace_cmd.c
longs=$(sed -n '/struct option trace_opts\[\]/,/};/p' "$src" |
	sed -n -E 's/.*\{ *"([a-z0-9-]+)".*/\1/p')
shorts=$(grep -A1 'getopt_long(' "$src" | tr -d '\n' |
	sed -n -E 's/.*getopt_long\([^"]*"([^"]*)".*/\1/p' | tr -d ':')
if [ -z "$longs" ] || [ -z "$shorts" ]; then
	nok "could not read the option table from $src (longs '$longs', shorts '$shorts')"
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
	# and lists nothing the parser does not take
	extra=""
	for o in $(echo "$help" | grep -o -E -- '(^|[ ,])--?[a-zA-Z0-9][a-z0-9-]*' |
		   sed 's/^[ ,]*//' | sort -u); do
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
	# and each long option is accepted by the parser (an unknown one
	# would be a usage error; these all fail later or print help)
	bad=""
	for o in $longs; do
		case "$o" in help) continue ;; esac
		run -- --$o 2>/dev/null
		[[ $ERR == *"unknown option"* ]] && bad="$bad --$o"
	done
	[ -z "$bad" ] && ok "the parser takes every long option of the table" ||
		nok "rejected as unknown:$bad"
fi

# The exit codes the help promises are the ones used above.
for code in 64 68 69 77; do
	echo "$help" | grep -q -w "$code" || { nok "--help does not document exit $code"; continue; }
	ok "--help documents exit $code"
done

echo "1..$N"
