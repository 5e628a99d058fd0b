#!/bin/bash
# UDP and QUIC targets. The lab's QUIC Version Negotiation responder
# (lab/quic_vn_responder.py, UDP 443 of every site) answers a 1200-byte
# long header of an unknown version with the client's CIDs swapped and the
# site's own reserved version first, and stays silent to short datagrams;
# `down` stops it. `ecntrace trace --quic` reaches the site its branch
# leads to, which the Version Negotiation names; `ecntrace --quic` finds
# the ECN hash at the balancer on seed and deep (IPv4 and IPv6) and proves
# it with flows whose Not-ECT and ECT(0) probes reach different sites;
# fixed and single stay healthy; unicast (one server behind the split) is
# latent; on equidistant (both sites 4 hops back) only the Version
# Negotiation tells the sites apart: --quic proves the split, -U cannot
# and says latent; `-U` (closed UDP port, port unreachable) finds seed's; under 3% loss and with the kernel's ICMP rate limits
# no healthy path is accused and no wrong hop is named. Nonsense
# combinations are refused with exit 64. Expected answers come from
# `ecnlab env` (BALANCER_HOP, BALANCER4/6, BRANCH_HOPS, BRANCH_SITES,
# SITE_NODES, QUIC_SITE_VERSIONS).
#
# QUIC_SPORT sets the first source port (default 36000); QUIC_SCENARIOS
# picks the scenarios of the main part (default "seed fixed single deep").
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
[ -x "$LAB_ROOT/ecntrace" ] || skip_all "ecntrace is not built (make)"
cp "$LAB_ROOT/ecntrace" "$TMP/ecntrace" && cp -r "$LAB_ROOT/lab" "$TMP/lab" ||
	skip_all "cannot copy ecntrace and lab/"
ECNTRACE=$TMP/ecntrace ECNLAB=$TMP/lab/ecnlab

SPORT=${QUIC_SPORT:-36000}
SCENARIOS=${QUIC_SCENARIOS:-"seed fixed single deep unicast equidistant"}

target() { [ "$1" = 6 ] && echo "$TARGET6" || echo "$TARGET4"; }
balancer() { [ "$1" = 6 ] && echo "$BALANCER6" || echo "$BALANCER4"; }
OUT=$TMP/out.json
q() { jq -r "$1" "$OUT" 2>/dev/null; }
causes() { q '[.verdict.causes[]?.kind] | join(",")'; }
has() { case ",$1," in *",$2,"*) return 0;; esac; return 1; }
cause_hop() { q "[.verdict.causes[]? | select(.kind == \"$1\")][0].hop"; }
cause_addr() { q "[.verdict.causes[]? | select(.kind == \"$1\")][0].addr"; }
# The reserved version that names the site a branch (1-based) leads to.
branch_version() {
	local site k
	site=$(nth "$BRANCH_SITES" "$1")
	k=$(index_of "$site" "$SITE_NODES")
	nth "$QUIC_SITE_VERSIONS" "$k"
}

# run FAMILY SPORT ARGS...: ecntrace ARGS --json in the client, to $OUT.
run() {
	local fam=$1 sp=$2; shift 2
	ip netns exec "$CLIENT_NS" timeout 90 "$ECNTRACE" -q --json -"$fam" --sport "$sp" "$@" \
		"$(target "$fam")" >"$OUT" 2>"$TMP/err"
	RC=$?
	jq -e . "$OUT" >/dev/null 2>&1 || { diag "no JSON (exit $RC): $(head -c 300 "$TMP/err")"; echo '{}' >"$OUT"; }
	schema_ok
}
# schema_ok: $OUT validates against the schema, strict (every member
# documented), when python3-jsonschema is there.
N_DOC=0
schema_ok() {
	local v
	HAVE_JSONSCHEMA=${HAVE_JSONSCHEMA:-$(/usr/bin/python3 -c 'import jsonschema' 2>/dev/null && echo 1 || echo 0)}
	[ "$HAVE_JSONSCHEMA" = 1 ] || return 0
	N_DOC=$((N_DOC + 1))
	cp "$OUT" "$TMP/doc$N_DOC.json"
	v=$(/usr/bin/python3 "$LAB_ROOT/tests/schema_validate.py" --strict "$LAB_ROOT/doc/ecntrace-schema.json" "$OUT" 2>&1)
	check "JSON document $N_DOC ($(q .command) $(q .protocol // .flow.proto)) validates, strict${v:+: $(echo "$v" | head -c 300)}" [ -z "$v" ]
}
summary() {
	diag "$LAB_SCENARIO${LAB_COND:+ $LAB_COND} IPv$1 $2: exit $RC, $(q .protocol) $(q .verdict.status)," \
		"causes [$(causes)] at $(cause_hop ecn-hash), notes [$(q '[.verdict.notes[]?.kind] | join(",")')]," \
		"sites $(q .anycast.sites), moved $(q '.sites | "\(.ecn_moved)/\(.ecn_trials) vs \(.control_moved)/\(.control_trials)"'), $(q .stats.path_probes) probes"
}

# ---------------------------------------------------------------- refusals
"$LAB_ROOT/ecntrace" trace --quic -T 203.0.113.80 >/dev/null 2>"$TMP/err"; RC=$?
check "trace --quic -T: exit 64, one line ($RC: $(head -c 100 "$TMP/err"))" \
	all '[ "$RC" = 64 ]' '[ "$(wc -l <"$TMP/err")" = 1 ]'
"$LAB_ROOT/ecntrace" --quic -U 203.0.113.80 >/dev/null 2>"$TMP/err"; RC=$?
check "diagnose --quic -U: exit 64, one line ($RC: $(head -c 100 "$TMP/err"))" \
	all '[ "$RC" = 64 ]' '[ "$(wc -l <"$TMP/err")" = 1 ]'
for m in --quic -U; do
	"$LAB_ROOT/ecntrace" $m --fields ttl 203.0.113.80 >/dev/null 2>"$TMP/err"; RC=$?
	check "diagnose $m --fields ttl: exit 64, one line ($RC: $(head -c 100 "$TMP/err"))" \
		all '[ "$RC" = 64 ]' '[ "$(wc -l <"$TMP/err")" = 1 ]'
done
"$LAB_ROOT/ecntrace" connect --quic 203.0.113.80 >/dev/null 2>"$TMP/err"; RC=$?
check "connect --quic: exit 64, one line ($RC)" all '[ "$RC" = 64 ]' '[ "$(wc -l <"$TMP/err")" = 1 ]'

# ----------------------------------------------------- the responder itself
# vn.py FAMILY ADDR LEN VERSION: one long header of LEN bytes from the
# client; prints the answer's version-0 check, echoed CIDs and versions,
# or "none" after 1 s.
cat >"$TMP/vn.py" <<'PY'
import os, socket, struct, sys
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
n, ver = int(sys.argv[3]), int(sys.argv[4], 0)
dcid, scid = os.urandom(8), os.urandom(5)
pkt = bytes([0xc0]) + struct.pack("!I", ver) + bytes([8]) + dcid + bytes([5]) + scid
pkt += bytes(n - len(pkt))
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.sendto(pkt, (sys.argv[2], 443))
try:
    r = s.recv(2048)
except socket.timeout:
    print("none"); sys.exit(0)
ok = r[0] & 0x80 and r[1:5] == b"\0\0\0\0" and r[5] == 5 and r[6:11] == scid and r[11] == 8 and r[12:20] == dcid
vs = [struct.unpack("!I", r[i:i + 4])[0] for i in range(20, len(r), 4)]
print("echo" if ok else "bad", " ".join("0x%08x" % v for v in vs))
PY

if lab_up qr$$ single; then
	for fam in 4 6; do
		a=$(ip netns exec "$CLIENT_NS" python3 "$TMP/vn.py" $fam "$(target $fam)" 1200 0x1a2a3a4a)
		check "responder IPv$fam: a 1200-byte unknown version gets a VN echoing the CIDs, listing $QUIC_SITE_VERSIONS and 0x00000001 ($a)" \
			[ "$a" = "echo $QUIC_SITE_VERSIONS 0x00000001" ]
		a=$(ip netns exec "$CLIENT_NS" python3 "$TMP/vn.py" $fam "$(target $fam)" 1199 0x1a2a3a4a)
		check "responder IPv$fam: a 1199-byte datagram gets nothing ($a)" [ "$a" = none ]
		a=$(ip netns exec "$CLIENT_NS" python3 "$TMP/vn.py" $fam "$(target $fam)" 1200 0x00000001)
		check "responder IPv$fam: version 1 (supported) gets no VN ($a)" [ "$a" = none ]
	done
	st=/run/ecnlab/qr$$
	lab qr$$ down >/dev/null
	left=$(pgrep -f -- "quic_vn_responder.py.*--ready $st/" | wc -l)
	check "down stops every QUIC responder ($left left)" [ "$left" = 0 ]
else
	nok "single lab comes up"
fi

# ------------------------------------------------------- trace and diagnose
i=0
for s in $SCENARIOS; do
	i=$((i + 1))
	name=qq$$s$i
	lab_up "$name" "$s" >/dev/null || { nok "$s lab comes up"; continue; }
	for fam in 4 6; do
		sp=$((SPORT + fam * 1000 + i * 100))
		if [ "$s" = seed ]; then
			# trace --quic: the site at the end is the one whose branch
			# the trace took, and the VN names it.
			ip netns exec "$CLIENT_NS" timeout 60 "$ECNTRACE" trace --quic --quiet --json -q 1 -n \
				-$fam --sport $sp "$(target $fam)" >"$OUT" 2>"$TMP/err"
			RC=$?
			schema_ok
			d=$(q .dest_ttl)
			last=$(q '.hops[-1].udp_reply') v=$(q '.hops[-1].quic_versions[0]')
			b=$(index_of "$d" "$BRANCH_HOPS")
			check "seed IPv$fam trace --quic: reaches the target (hop $d), version-negotiation listing its branch's site version ($last, $v, branch ${b:-?} -> $(branch_version "${b:-1}"))" \
				all '[ "$RC" = 0 ]' '[ "$last" = version-negotiation ]' '[ -n "$b" ]' \
				'[ "$v" = "$(branch_version "$b")" ]' '[ "$(q .flow.quic)" = true ]' '[ "$(q .flow.dport)" = 443 ]'
		fi
		run $fam $sp --quic
		summary $fam --quic
		check "$s IPv$fam --quic: protocol quic, dport 443 ($(q .protocol) $(q .dport))" \
			all '[ "$(q .protocol)" = quic ]' '[ "$(q .dport)" = 443 ]'
		case $s in
		seed|deep)
			check "$s IPv$fam --quic: exit 1, ecn-hash at hop $BALANCER_HOP ($(balancer $fam)) (exit $RC, [$(causes)] at $(cause_hop ecn-hash) $(cause_addr ecn-hash))" \
				all '[ "$RC" = 1 ]' '[ "$(cause_hop ecn-hash)" = "$BALANCER_HOP" ]' \
				'[ "$(cause_addr ecn-hash)" = "$(balancer $fam)" ]'
			m=$(q '[.verdict.causes[]? | select(.kind == "ecn-hash")][0].facts | "\(.comparison) \(.ecn_failed) \(.control_failed)"')
			check "$s IPv$fam --quic: proven by site-moved, ECT(0) moved flows, no control did ($m)" \
				all '[ "$(nth "$m" 1)" = site-moved ]' '[ "$(nth "$m" 2)" -gt 0 ]' '[ "$(nth "$m" 3)" = 0 ]'
			vs=$(q '[.anycast.endpoints[]?.quic_version] | sort | join(" ")')
			check "$s IPv$fam --quic: $SITES endpoints, named by their QUIC versions ($vs; lab: $QUIC_SITE_VERSIONS)" \
				all '[ "$(q .anycast.sites)" = "$SITES" ]' \
				'[ "$vs" = "$(echo $QUIC_SITE_VERSIONS | tr " " "\n" | sort | tr "\n" " " | sed "s/ $//")" ]';;
		fixed|single)
			check "$s IPv$fam --quic: exit 0, healthy, no cause (exit $RC, $(q .verdict.status), [$(causes)])" \
				all '[ "$RC" = 0 ]' '[ "$(q .verdict.status)" = healthy ]' '[ -z "$(causes)" ]';;
		unicast)
			check "$s IPv$fam --quic: exit 3, latent ecn-hash at hop $BALANCER_HOP, 1 endpoint, no flow moved (exit $RC, [$(causes)] at $(cause_hop ecn-hash), sites $(q .anycast.sites), moved $(q .sites.ecn_moved))" \
				all '[ "$RC" = 3 ]' '[ "$(cause_hop ecn-hash)" = "$BALANCER_HOP" ]' \
				'[ "$(q .anycast.sites)" = 1 ]' '[ "$(q .sites.ecn_moved)" = 0 ]';;
		equidistant)
			hops=$(q '[.anycast.endpoints[]?.return_hops] | unique | length')
			check "$s IPv$fam --quic: exit 1, ecn-hash at hop $BALANCER_HOP, 2 endpoints at one distance told apart by their QUIC versions (exit $RC, at $(cause_hop ecn-hash), sites $(q .anycast.sites), distances $hops)" \
				all '[ "$RC" = 1 ]' '[ "$(cause_hop ecn-hash)" = "$BALANCER_HOP" ]' \
				'[ "$(q .anycast.sites)" = 2 ]' '[ "$hops" = 1 ]'
			run $fam $((sp + 50)) -U
			summary $fam -U
			check "$s IPv$fam -U: the sites look alike, so no flow is shown moved: exit 3, latent, not broken (exit $RC, [$(causes)])" \
				all '[ "$RC" = 3 ]' '[ "$(cause_hop ecn-hash)" = "$BALANCER_HOP" ]';;
		esac
		if [ "$s" = seed ]; then
			run $fam $((sp + 50)) -U
			summary $fam -U
			check "seed IPv$fam -U: protocol udp, dport 33434, exit 1, ecn-hash at hop $BALANCER_HOP (exit $RC, $(q .protocol) $(q .dport), [$(causes)] at $(cause_hop ecn-hash))" \
				all '[ "$RC" = 1 ]' '[ "$(q .protocol)" = udp ]' '[ "$(q .dport)" = 33434 ]' \
				'[ "$(cause_hop ecn-hash)" = "$BALANCER_HOP" ]' '[ "$(cause_addr ecn-hash)" = "$(balancer $fam)" ]'
			ip netns exec "$CLIENT_NS" timeout 90 "$ECNTRACE" -q -$fam --sport $((sp + 70)) --quic "$(target $fam)" >"$TMP/text" 2>&1
			RC=$?
			check "seed IPv$fam --quic text: QUIC port 443 in the header, the QUIC advice last (exit $RC)" \
				all '[ "$RC" = 1 ]' 'head -n 1 "$TMP/text" | grep -q "QUIC port 443: BROKEN"' \
				'tail -n 1 "$TMP/text" | grep -q "not marking its packets ECT"'
			[ "$RC" = 1 ] || sed 's/^/# | /' "$TMP/text"
			# The HTML report says QUIC, draws each site with its
			# version, and loads nothing.
			ip netns exec "$CLIENT_NS" timeout 90 "$ECNTRACE" -q -$fam --sport $((sp + 80)) --quic \
				--report "$TMP/r.html" "$(target $fam)" >/dev/null 2>&1
			RC=$?
			f=$(/usr/bin/python3 "$LAB_ROOT/tests/lab/report_check.py" facts "$TMP/r.html" 2>/dev/null)
			nv=$(echo "$f" | grep -c "QUIC, lists 0x")
			check "seed IPv$fam --quic --report: QUIC port 443, a site box per site with its QUIC version ($nv), the two-probe section, nothing loaded (exit $RC)" \
				all '[ "$RC" = 1 ]' 'grep -q "QUIC port 443" "$TMP/r.html"' '[ "$nv" -ge "$SITES" ]' \
				'grep -q "A QUIC flow, Not-ECT then ECT(0)" "$TMP/r.html"' \
				'/usr/bin/python3 "$LAB_ROOT/tests/lab/report_check.py" external "$TMP/r.html" >/dev/null'
		fi
	done
	lab "$name" down >/dev/null
done

# ------------------------------------------- loss and rate limits: no false accusation
# cond_checks KIND FAMILY: on a healthy path no cause, never broken; on
# seed any ecn-hash at the balancer's hop.
cond_checks() {
	local what="$LAB_SCENARIO $LAB_COND IPv$2 $1"
	case $LAB_SCENARIO in
	seed)
		check "$what: no cause but ecn-hash, at hop $BALANCER_HOP if named (exit $RC, [$(causes)] at $(cause_hop ecn-hash))" \
			all '[ "$RC" != 0 ]' '[ -z "$(causes)" ] || [ "$(causes)" = ecn-hash ]' \
			'[ -z "$(causes)" ] || [ "$(cause_hop ecn-hash)" = "$BALANCER_HOP" ] || [ "$(cause_hop ecn-hash)" = null ]';;
	*)
		check "$what: not broken, no cause (exit $RC, $(q .verdict.status), [$(causes)])" \
			all '[ "$RC" = 0 ] || [ "$RC" = 2 ]' '[ -z "$(causes)" ]';;
	esac
}
i=0
for c in "LOSS=3 seed" "LOSS=3 fixed" "LOSS=3 single" "RATELIMIT=1 seed" "RATELIMIT=1 fixed" "RATELIMIT=1 single"; do
	i=$((i + 1))
	set -- $c
	name=qc$$$i
	LAB_NAMES="$LAB_NAMES $name"
	env "ECNLAB_$1" ECNLAB_NAME=$name "$ECNLAB" up "$2" >/dev/null || { nok "$c lab comes up"; continue; }
	eval "$(lab "$name" env)"
	LAB_COND=$1
	for fam in 4 6; do
		for m in --quic -U; do
			sp=$((SPORT + 10000 + i * 200 + fam * 20 + (${#m} == 2 ? 10 : 0)))
			run $fam $sp $m
			summary $fam $m
			cond_checks $m $fam
		done
	done
	LAB_COND=
	lab "$name" down >/dev/null
done
exit $TAP_FAILED
