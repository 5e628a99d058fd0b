#!/bin/bash
# Benchmark: `ecntrace scan` against ZMap's plain SYN scan of the same
# targets, in one run and one lab (`scan`: every address of the prefixes
# behind the edge's TOS hash, two sites). Prints, for each tool, the SYNs it
# sent (its own count and the wire's: an nft counter at the first router),
# packets/s, targets completed per second, the share of targets with a
# complete verdict (ZMap: answered; ecntrace: healthy or broken, and how many
# of those are the lab's truth), peak memory (/usr/bin/time -v), and the
# ratio of the send rates; then ecntrace's memory at BENCH_MEM_TARGETS
# targets (a --dry-run and a real run cut by --deadline). Figures only: it
# asserts nothing and exits 0 unless it could not run.
#
#   sudo bench/scan.sh
#   sudo BENCH_SMALL=1 bench/scan.sh           # 10,000 targets, 65,536 for memory
#
# Environment (defaults in brackets):
#   BENCH_TARGETS      targets of both scans, <= 114,688 [100000]
#   BENCH_RATE         ecntrace scan --rate [1000000: as fast as it goes]
#   BENCH_FLOWS        ecntrace scan --flows [the command's default]
#   BENCH_ROUTER_RATE  ecntrace scan --router-rate [0: no limit, since the
#                      lab's routers have none: their kernel's ICMP error
#                      limit is lifted in the scan scenarios]
#   BENCH_ZMAP_RATE    zmap --rate, 0 = no limit [0]
#   BENCH_MEM_TARGETS  targets of the memory runs: 2^16, 2^17, 2^18, 2^19
#                      or 2^20 addresses of 2001:db8:ac:: [1048576]
#   BENCH_MEM_SECONDS  --deadline of the real memory run, 0 = none: the whole
#                      BENCH_MEM_TARGETS scanned, and its wall time and
#                      verdicts printed too [10]
#   BENCH_SMALL=1      BENCH_TARGETS=10000 BENCH_MEM_TARGETS=65536
#
# The targets: 198.19.0.0/16, then 198.18.128.0/17, then 198.18.64.0/18 (the
# lab's links are in 198.18.0.0/16 below those), the first BENCH_TARGETS
# addresses of them as CIDR blocks, the same list for both tools (ZMap's
# whitelist, ecntrace's -f), with an empty blocklist for both (ZMap's
# default one excludes 198.18.0.0/15).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
if [ "${BENCH_SMALL:-0}" = 1 ]; then
	: "${BENCH_TARGETS:=10000}" "${BENCH_MEM_TARGETS:=65536}"
fi
TARGETS=${BENCH_TARGETS:-100000}
RATE=${BENCH_RATE:-1000000}
FLOWS=${BENCH_FLOWS:-}
ROUTER_RATE=${BENCH_ROUTER_RATE:-0}
ZRATE=${BENCH_ZMAP_RATE:-0}
MEM_TARGETS=${BENCH_MEM_TARGETS:-1048576}
MEM_SECONDS=${BENCH_MEM_SECONDS:-10}

die() { echo "bench/scan.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets)"
for t in zmap nft python3; do
	command -v "$t" >/dev/null 2>&1 || die "$t is not installed (make deps)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is not installed (make deps: package time)"
num() { case "$2" in '' | *[!0-9]*) die "$1 must be a number";; esac; [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || die "$1 must be $3..$4"; }
num BENCH_TARGETS "$TARGETS" 1 114688
num BENCH_RATE "$RATE" 1 10000000
num BENCH_ZMAP_RATE "$ZRATE" 0 10000000
num BENCH_MEM_SECONDS "$MEM_SECONDS" 0 300
[ -z "$FLOWS" ] || num BENCH_FLOWS "$FLOWS" 1 8
num BENCH_ROUTER_RATE "$ROUTER_RATE" 0 10000000
case $MEM_TARGETS in 65536) MEM6=2001:db8:ac::/112;; 131072) MEM6=2001:db8:ac::/111;;
262144) MEM6=2001:db8:ac::/110;; 524288) MEM6=2001:db8:ac::/109;; 1048576) MEM6=2001:db8:ac::/108;;
*) die "BENCH_MEM_TARGETS must be 65536, 131072, 262144, 524288 or 1048576";; esac
[ -x ./ecntrace ] || make -s ecntrace >/dev/null || die "cannot build ecntrace"

LAB=bs$$
TMP=$(mktemp -d /tmp/bench_scan.XXXXXX)
cleanup() {
	trap '' INT TERM
	ECNLAB_NAME=$LAB "$ECNLAB" down >/dev/null 2>&1
	rm -rf "$TMP"
}
ECNLAB=$ROOT/lab/ecnlab
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Private copies: the tree is shared, a rebuild or an edit mid-run must not
# change what is measured.
cp ./ecntrace "$TMP/ecntrace" && cp -r lab "$TMP/lab" && cp tests/lab/scan_check.py "$TMP/" ||
	die "cannot copy ecntrace, lab/ and tests/lab/scan_check.py"
ET=$TMP/ecntrace ECNLAB=$TMP/lab/ecnlab
HAVE_SCAN=1
"$ET" scan --help 2>&1 | grep -q -- --shards || HAVE_SCAN=0
fl=()
[ -n "$FLOWS" ] && fl=(--flows "$FLOWS")
# Older builds have no per-router budget.
"$ET" scan --help 2>&1 | grep -q -- --router-rate && fl+=(--router-rate "$ROUTER_RATE")

ECNLAB_NAME=$LAB ECNLAB_ANYCAST4="198.19.0.0/16 198.18.128.0/17 198.18.64.0/18" \
	ECNLAB_ANYCAST6=$MEM6 "$ECNLAB" up scan >"$TMP/up.log" 2>&1 ||
	{ cat "$TMP/up.log" >&2; die "lab up scan failed"; }
eval "$(ECNLAB_NAME=$LAB "$ECNLAB" env)"
on() { local n=$1; shift; ip netns exec "$NS_PREFIX$n" "$@"; }

# The first TARGETS addresses of the prefixes, as CIDR blocks.
python3 - "$TARGETS" >"$TMP/targets.txt" <<'EOF' || die "cannot write the target list"
import ipaddress, sys
left = int(sys.argv[1])
for p in ("198.19.0.0/16", "198.18.128.0/17", "198.18.64.0/18"):
    n = ipaddress.ip_network(p)
    take = min(left, n.num_addresses)
    if take:
        first = n.network_address
        for b in ipaddress.summarize_address_range(first, first + take - 1):
            print(b)
    left -= take
EOF
: >"$TMP/empty"

# The wire: SYNs (no ACK) and RSTs from the client, counted as they enter
# the first router (its nft table goes with the lab).
on gw nft -f - <<EOF || die "cannot add the counters"
table inet bench {
  counter syns { }
  counter rsts { }
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    iifname "client" tcp flags & (syn | ack) == syn counter name syns
    iifname "client" tcp flags & rst == rst counter name rsts
  }
}
EOF
wire() { # syns|rsts: the counter's packets so far
	on gw nft list counter inet bench "$1" | awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}
# time_v FILE KEY: a figure of /usr/bin/time -v's report.
time_v() { sed -n "s/^[[:space:]]*$2: //p" "$1" | tail -1; }
mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }
secs() { # h:mm:ss.ss or m:ss.ss -> seconds
	echo "$1" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "bench/scan.sh: ecntrace scan ${fl[*]:-} --rate $RATE vs zmap -r $ZRATE"
echo "bench/scan.sh: $TARGETS targets in scenario scan (edge at hop $BALANCER_HOP hashes TOS over $SITES sites), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---------------------------------------------------------------- ZMap
GWMAC=$(on gw cat /sys/class/net/client/address)
s0=$(wire syns) r0=$(wire rsts)
on client /usr/bin/time -v -o "$TMP/zmap.time" zmap -p "$HTTP_PORT" -i "$CLIENT_IF" -S "$CLIENT4" -G "$GWMAC" \
	-w "$TMP/targets.txt" -b "$TMP/empty" -r "$ZRATE" -c 2 -o "$TMP/zmap.out" -f saddr \
	>"$TMP/zmap.stdout" 2>"$TMP/zmap.err" || { tail -3 "$TMP/zmap.err" >&2; die "zmap failed"; }
z_syn=$(($(wire syns) - s0)) z_rst=$(($(wire rsts) - r0))
z_line=$(grep -o 'send: [0-9]* done ([0-9.]* [KMG]*p/s avg)' "$TMP/zmap.err" | tail -1)
z_sent=$(echo "$z_line" | awk '{ print $2 }')
z_pps=$(echo "$z_line" | sed -E 's/.*\(([0-9.]+) ([KMG]?)p\/s.*/\1 \2/' |
	awk '{ m = ($2 == "K") ? 1e3 : ($2 == "M") ? 1e6 : ($2 == "G") ? 1e9 : 1; printf "%.0f", $1 * m }')
# Answered targets: one line each (a csv header, if any, is no address).
z_hits=$(grep -c '^[0-9]' "$TMP/zmap.out")
z_wall=$(secs "$(time_v "$TMP/zmap.time" 'Elapsed (wall clock) time (h:mm:ss or m:ss)')")
z_rss=$(time_v "$TMP/zmap.time" 'Maximum resident set size (kbytes)')

printf '%-14s %8s %9s %9s %8s %10s %12s %10s %9s %9s\n' tool targets sent wire_syn wall_s "sent/s" "completed/s" "complete%" "correct%" peak_MiB
printf '%-14s %8d %9s %9d %8s %10s %12s %10s %9s %9s\n' "zmap" "$TARGETS" "$z_sent" "$z_syn" "$z_wall" "$z_pps" \
	"$(awk -v h="$z_hits" -v w="$z_wall" 'BEGIN { printf "%.0f", h / w }')" \
	"$(awk -v h="$z_hits" -v t="$TARGETS" 'BEGIN { printf "%.2f", 100 * h / t }')" "-" "$(mib "$z_rss")"

# ------------------------------------------------------- ecntrace scan
if [ "$HAVE_SCAN" = 0 ]; then
	echo "ecntrace scan: not built (this ecntrace has no scan command); ZMap's figures only"
	exit 0
fi
s0=$(wire syns) r0=$(wire rsts)
on client /usr/bin/time -v -o "$TMP/scan.time" "$ET" scan --blocklist "$TMP/empty" --rate "$RATE" "${fl[@]}" \
	-f "$TMP/targets.txt" -o "$TMP/scan.ndjson" >"$TMP/scan.stdout" 2>"$TMP/scan.err"
e_rc=$?
e_syn=$(($(wire syns) - s0)) e_rst=$(($(wire rsts) - r0))
sum() { python3 "$TMP/scan_check.py" summary "$TMP/scan.ndjson" "$1"; }
e_sent=$(sum probes_sent) e_secs=$(sum seconds) e_done=$(sum completed)
e_healthy=$(sum healthy) e_broken=$(sum broken) e_incon=$(sum inconclusive) e_unr=$(sum unreachable)
e_wall=$(secs "$(time_v "$TMP/scan.time" 'Elapsed (wall clock) time (h:mm:ss or m:ss)')")
e_rss=$(time_v "$TMP/scan.time" 'Maximum resident set size (kbytes)')
python3 "$TMP/scan_check.py" targets "$TMP/scan.ndjson" >"$TMP/scan.targets"
python3 - "$TMP/targets.txt" >"$TMP/targets.list" <<'EOF'
import ipaddress, sys
for l in open(sys.argv[1]):
    for a in ipaddress.ip_network(l.strip()):
        print(a)
EOF
eval "$(python3 "$TMP/scan_check.py" check "$SCAN_TRUTH" "$TMP/targets.list" "$TMP/scan.ndjson")"
e_pps=$(awk -v n="${e_sent:-0}" -v s="${e_secs:-0}" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }')
printf '%-14s %8d %9s %9d %8s %10s %12s %10s %9s %9s\n' "ecntrace scan" "$TARGETS" "${e_sent:--}" "$e_syn" "$e_wall" "$e_pps" \
	"$(awk -v h="${e_done:-0}" -v w="$e_wall" 'BEGIN { printf "%.0f", h / w }')" \
	"$(awk -v h="${e_healthy:-0}" -v b="${e_broken:-0}" -v t="$TARGETS" 'BEGIN { printf "%.2f", 100 * (h + b) / t }')" \
	"$(awk -v f="$FOUND" -v t="$TARGETS" 'BEGIN { printf "%.2f", 100 * f / t }')" "$(mib "$e_rss")"
echo
echo "ecntrace scan: exit $e_rc, $e_done completed: $e_broken broken, $e_healthy healthy, $e_incon inconclusive, $e_unr unreachable; $FOUND at the truth's router (edge, hop $BALANCER_HOP), $INTERVAL in an interval holding it, $WRONG_ROUTER elsewhere, $MISSED missed, $MISSING without an object; routers: $ROUTERS"
python3 - "$TMP/scan.ndjson" <<'EOF'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if "summary" not in o and o.get("status") != "broken":
        c["%s/%s" % (o.get("status"), o.get("reason"))] += 1
if c:
    print("ecntrace scan, the rest by status/reason: " + ", ".join("%s %d" % kv for kv in c.most_common()))
EOF
echo "wire: zmap $z_syn SYNs, $z_rst RSTs (the client kernel's); ecntrace $e_syn SYNs ($(ratio "$e_syn" "$TARGETS") a target), $e_rst RSTs; ecntrace's own count $e_sent probes in $e_secs s"
send_ratio=$(ratio "$e_pps" "$z_pps")
echo "ratio scan/zmap send rate (packets/s): $send_ratio"

# -------------------------------------------------------------- memory
on client /usr/bin/time -v -o "$TMP/dry.time" "$ET" scan --dry-run --blocklist "$TMP/empty" "$MEM6" \
	>"$TMP/dry.out" 2>&1
d_rss=$(time_v "$TMP/dry.time" 'Maximum resident set size (kbytes)')
dl=(--deadline "$MEM_SECONDS")
[ "$MEM_SECONDS" = 0 ] && dl=()
on client /usr/bin/time -v -o "$TMP/mem.time" "$ET" scan --blocklist "$TMP/empty" --rate "$RATE" "${fl[@]}" \
	"${dl[@]}" -o "$TMP/mem.ndjson" "$MEM6" >/dev/null 2>"$TMP/mem.err"
m_rc=$?
m_rss=$(time_v "$TMP/mem.time" 'Maximum resident set size (kbytes)')
m_wall=$(secs "$(time_v "$TMP/mem.time" 'Elapsed (wall clock) time (h:mm:ss or m:ss)')")
m_sum() { python3 "$TMP/scan_check.py" summary "$TMP/mem.ndjson" "$1"; }
m_done=$(m_sum completed)
if [ "$MEM_SECONDS" = 0 ]; then
	echo "memory at $MEM_TARGETS targets ($MEM6): --dry-run $(mib "$d_rss") MiB; the whole run (exit $m_rc, ${m_done:-?} completed: $(m_sum broken) broken, $(m_sum healthy) healthy, $(m_sum inconclusive) inconclusive, $(m_sum unreachable) unreachable; $(m_sum probes_sent) probes) in $m_wall s, $(mib "$m_rss") MiB"
else
	echo "memory at $MEM_TARGETS targets ($MEM6): --dry-run $(mib "$d_rss") MiB; a real run cut at --deadline $MEM_SECONDS s (exit $m_rc, ${m_done:-?} completed) $(mib "$m_rss") MiB"
fi
echo
goal() { if awk "BEGIN { exit !($1) }" 2>/dev/null; then echo yes; else echo NO; fi; }
g1=NO
[ "$send_ratio" != - ] && g1=$(goal "$send_ratio >= 0.5")
echo "goals: send rate >= 0.5x ZMap's: $g1 ($send_ratio);" \
	"$TARGETS verdicts in < 60 s: $(goal "$e_wall < 60 && ${e_done:-0} == $TARGETS") (${e_wall} s, ${e_done:-0} completed, $FOUND right);" \
	"<= 256 MiB at $MEM_TARGETS targets: $(goal "${m_rss:-999999999} <= 262144 && ${d_rss:-999999999} <= 262144") ($(mib "$m_rss") MiB)"
