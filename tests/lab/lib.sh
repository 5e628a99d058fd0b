# Shared helpers for the lab self-tests (bash). Each test sources this, calls
# need_lab, and brings labs up with lab_up; the EXIT trap tears every lab it
# started down, kills its background captures and removes its temp files.
#
# TAP output: ok N - desc / not ok N - desc / ok N # skip reason.

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ECNLAB=$LAB_ROOT/lab/ecnlab
TAP_N=0
TAP_FAILED=0
LAB_NAMES=""
BG_PIDS=""
TMP=$(mktemp -d /tmp/ecnlab-test.XXXXXX)

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
nok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=1; echo "not ok $TAP_N - $*"; }
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # skip $*"; }
check() { # desc command...
	local d=$1; shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}
# all COND...: true if every condition string (a shell test) holds; lets
# check take a compound condition: check "desc" all '[ $a = 1 ]' '[ -z "$b" ]'
all() { local c; for c in "$@"; do eval "$c" || return 1; done; }
diag() { echo "# $*"; }

lab_cleanup() {
	local n p
	trap '' INT TERM
	for p in $BG_PIDS; do kill "$p" 2>/dev/null; done
	for n in $LAB_NAMES; do ECNLAB_NAME=$n "$ECNLAB" down >/dev/null 2>&1; done
	rm -rf "$TMP"
}
trap lab_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

skip_all() { echo "ok 1 # skip $*"; exit 0; }

need_lab() {
	local t
	[ "$(id -u)" = 0 ] || skip_all "lab tests need root"
	ip netns list >/dev/null 2>&1 || skip_all "ip netns is not available"
	for t in nft tcpdump traceroute curl sysctl; do
		command -v "$t" >/dev/null 2>&1 || skip_all "$t is not installed"
	done
	[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 is not installed"
}

# lab NAME ARGS...: ecnlab for instance NAME.
lab() { local n=$1; shift; ECNLAB_NAME=$n "$ECNLAB" "$@"; }

# lab_up NAME SCENARIO [SEED]: bring it up and load its facts (ecnlab env)
# into the shell. Returns non-zero if up failed.
lab_up() {
	case " $LAB_NAMES " in *" $1 "*) ;; *) LAB_NAMES="$LAB_NAMES $1";; esac
	ECNLAB_NAME=$1 ECNLAB_SEED=${3:-1} "$ECNLAB" up "$2" || return 1
	eval "$(lab "$1" env)"
}

# Namespaces of instance NAME that still exist (one per line).
lab_namespaces() { ip netns list | awk '{print $1}' | grep "^$1-" ; true; }

# on NODE CMD...: run CMD in a node of the current lab ($LAB_NAME).
on() { local n=$1; shift; ip netns exec "$LAB_NAME-$n" "$@"; }

# uplink_if NODE: the interface of NODE that its default route uses.
uplink_if() { on "$1" ip route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }'; }

# http FAMILY PORT: one HTTP GET from the client with source port PORT.
# Prints the page (or nothing) and returns curl's exit code.
http() {
	local url
	if [ "$1" = 6 ]; then url="http://[$TARGET6]:$HTTP_PORT/"; else url="http://$TARGET4:$HTTP_PORT/"; fi
	on client curl -sS -g -m 3 --local-port "$2" "$url" 2>"$TMP/curl.err"
}

# capture_start NODE IFACE FILTER FILE: tcpdump -v in NODE, returns once it
# listens. The capture's pid goes to CAP_PID.
capture_start() {
	local i
	ip netns exec "$LAB_NAME-$1" tcpdump -Z root --immediate-mode -l -n -t -v -i "$2" "$3" >"$4" 2>"$4.err" &
	CAP_PID=$!
	BG_PIDS="$BG_PIDS $CAP_PID"
	for i in $(seq 50); do
		grep -q "listening on" "$4.err" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# capture_pcap_start NODE IFACE FILTER FILE: the same, written as pcap.
capture_pcap_start() {
	local i
	ip netns exec "$LAB_NAME-$1" tcpdump -Z root --immediate-mode -U -n -i "$2" -w "$4" "$3" 2>"$4.err" &
	CAP_PID=$!
	BG_PIDS="$BG_PIDS $CAP_PID"
	for i in $(seq 50); do
		grep -q "listening on" "$4.err" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
capture_stop() { sleep 0.3; kill -INT "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null; true; }

# packets FILE: one line per TCP packet of a tcpdump -t -v capture:
# "SRCPORT DSTPORT FLAGS TTL TOS" (TOS as tcpdump prints it, 0x0 if absent).
packets() {
	awk '/^IP6? / { hdr = $0; if ($0 ~ /Flags \[/) print hdr; next }
	     / > .*Flags \[/ { print hdr " " $0 }' "$1" |
	sed -E -n 's/^IP6? \((.*)\) +[0-9a-f:.]+\.([0-9]+) > [0-9a-f:.]+\.([0-9]+): Flags \[([^]]*)\].*/\2 \3 \4 \1/p' |
	while read -r sp dp fl hdr; do
		ttl=$(echo "$hdr" | sed -E -n 's/.*(ttl|hlim) ([0-9]+).*/\2/p')
		tos=$(echo "$hdr" | sed -E -n 's/.*(tos|class) (0x[0-9a-f]+).*/\2/p')
		echo "$sp $dp $fl $ttl ${tos:-0x0}"
	done
}

# traceroute_path FAMILY TOS SPORT [TCPOPT]: TCP traceroute to the target
# from the client; prints the responding addresses, hop 1 first, "*" for
# none. The probe is a plain SYN (-O syn; traceroute's default copies the
# client's tcp_ecn and sends ECE+CWR) unless TCPOPT says otherwise.
traceroute_path() {
	local fam=-4 dst=$TARGET4 max
	[ "$1" = 6 ] && fam=-6 dst=$TARGET6
	max=$(echo $BRANCH_HOPS | tr ' ' '\n' | sort -n | tail -1)
	on client traceroute $fam -T -O "${4:-syn}" -p "$HTTP_PORT" --sport="$3" -t "$2" -n -q 1 -w 1 -m $((max + 1)) "$dst" 2>/dev/null |
		awk 'NR > 1 { printf "%s ", $2 } END { print "" }'
}

# nth WORDS N: the Nth word (1-based).
nth() { echo "$1" | awk -v n="$2" '{ print $n }'; }

# index_of WORD WORDS: 1-based position of WORD in WORDS, empty if absent.
index_of() { echo "$2" | awk -v w="$1" '{ for (i = 1; i <= NF; i++) if ($i == w) { print i; exit } }'; }
