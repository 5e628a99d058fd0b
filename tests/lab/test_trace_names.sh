#!/bin/bash
# Reverse DNS: without -n, trace names each hop, looked up in background
# threads while the trace runs. The lab has no DNS server, so the names
# come from a hosts file that `ip netns exec` mounts over /etc/hosts in the
# client's namespace (/etc/netns/NS/hosts, removed on exit). With -n no
# name is looked up; an address without a name stays an address.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
BIN=${ECNTRACE:-$LAB_ROOT/ecntrace}
name=tn$$
HOSTS_DIR=""
remove_hosts() { [ -n "$HOSTS_DIR" ] && rm -rf "$HOSTS_DIR"; lab_cleanup; }
trap remove_hosts EXIT

if ! lab_up "$name" single; then
	nok "single lab comes up"
	exit 1
fi
# Hop 1 is the gateway, hop 2 the next router: name those two only.
hop2=$(on client traceroute -n -q 1 -m 2 -T -p 80 -O syn "$TARGET4" 2>/dev/null | awk '$1 == 2 { print $2 }')
HOSTS_DIR=/etc/netns/$CLIENT_NS
mkdir -p "$HOSTS_DIR"
printf '127.0.0.1 localhost\n%s gw.lab.example\n%s core1.lab.example\n' \
	"$GATEWAY4" "$hop2" >"$HOSTS_DIR/hosts"

on client "$BIN" trace -q 1 "$TARGET4" >"$TMP/t.txt" 2>"$TMP/t.err"
check "trace names hop 1 and hop 2 from the hosts file (text)" \
	all "grep -qE '^ 1  gw\.lab\.example \($GATEWAY4\)' '$TMP/t.txt'" \
	"grep -qE '^ 2  core1\.lab\.example \($hop2\)' '$TMP/t.txt'"
check "a hop without a name stays an address (hop 3)" \
	grep -qE '^ 3  [0-9.]+  ' "$TMP/t.txt"
on client "$BIN" trace -q 1 --json "$TARGET4" >"$TMP/t.json" 2>/dev/null
check "trace --json: hops[0].name is gw.lab.example, hops[2].name is null" \
	all "[ \"\$(jq -r '.hops[0].name' '$TMP/t.json')\" = gw.lab.example ]" \
	"[ \"\$(jq -r '.hops[2].name' '$TMP/t.json')\" = null ]"
on client "$BIN" trace -n -q 1 --json "$TARGET4" >"$TMP/n.json" 2>/dev/null
check "trace -n: no name looked up" \
	[ "$(jq -r '[.hops[].name] | map(select(. != null)) | length' "$TMP/n.json")" = 0 ]
# A hostile resolver: the gateway's name carries an OSC sequence that
# would retitle the terminal (ESC ] 0 ; pwned BEL), a CSI that would clear
# it (ESC [ 2 J) and a raw 0x9b. The text output shows them as \xNN, with
# no raw ESC, BEL or 0x9b; the JSON carries the name, escaped.
evil=$(printf 'evil\033]0;pwned\007\033[2J\233.lab.example')
printf '127.0.0.1 localhost\n%s %s\n' "$GATEWAY4" "$evil" >"$HOSTS_DIR/hosts"
on client "$BIN" trace -q 1 -m 2 "$TARGET4" >"$TMP/e.txt" 2>"$TMP/e.err"
check "a name with control characters reaches the terminal escaped" \
	all "! LC_ALL=C grep -q \"\$(printf '[\\033\\007\\233]')\" '$TMP/e.txt'" \
	"grep -qF ' 1  evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b.lab.example ($GATEWAY4)' '$TMP/e.txt'"
on client "$BIN" trace -q 1 -m 2 --json "$TARGET4" >"$TMP/e.json" 2>/dev/null
check "trace --json: the name escaped (\\u001b, \\u0007, \\ufffd for 0x9b), no raw control" \
	all "grep -qF '\"name\":\"evil\\u001b]0;pwned\\u0007\\u001b[2J\\ufffd.lab.example\"' '$TMP/e.json'" \
	"! LC_ALL=C grep -q \"\$(printf '[\\033\\007\\233]')\" '$TMP/e.json'" \
	"[ \"\$(jq -r '.hops[0].name' '$TMP/e.json')\" = \"\$(printf 'evil\\033]0;pwned\\007\\033[2J\\357\\277\\275.lab.example')\" ]"
lab "$name" down
check "lab torn down" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
