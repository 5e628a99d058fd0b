#!/bin/bash
# The truth suite: `ecntrace HOST` against every lab scenario, both
# families, several hash seeds and lab conditions, N diagnoses per cell,
# each classified from how the lab was built (`ecnlab env`) as right,
# inconclusive, missed or false accusation. Prints one table line per cell
# and exits 1 if any run made a false accusation. See bench/README.md for
# the cells and the classification rules.
#
#   sudo bench/truth.sh
#   sudo TRUTH_RUNS=3 TRUTH_CELLS="seed:4:1:clean seed:6:1:silentbal" bench/truth.sh
#   sudo TRUTH_SCENARIOS="seed deep" TRUTH_CONDITIONS="clean loss3" bench/truth.sh
#
# Environment (defaults in brackets):
#   TRUTH_RUNS        diagnoses per cell [20]
#   TRUTH_CELLS       cells to run, SCENARIO:FAMILY:SEED:CONDITION; a word with
#                     * or ? picks from the default matrix, any other word is
#                     run as it is [the default matrix]
#   TRUTH_SCENARIOS, TRUTH_FAMILIES, TRUTH_SEEDS, TRUTH_CONDITIONS
#                     keep only the matrix cells with these values [all]
#   TRUTH_LIST=1      print the chosen cells and exit
#   TRUTH_TAP=1       one TAP line per cell (not ok on a false accusation),
#                     the table as comments
#   TRUTH_OUT         directory for runs.tsv and the JSON of every run that was
#                     not right [a temporary one, removed at exit]
#   ECNTRACE          the binary [./ecntrace, built if missing]
#   TRUTH_ARGS        more options for every diagnosis, e.g. "--fields all";
#                     the truth follows them (ttl-hash, flowlabel-hash) []
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
RUNS=${TRUTH_RUNS:-20}
TAP=${TRUTH_TAP:-0}

die() { echo "bench/truth.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets)"
for t in jq nft ip; do command -v "$t" >/dev/null 2>&1 || die "$t is not installed"; done
case $RUNS in '' | *[!0-9]*) die "TRUTH_RUNS must be a number";; esac
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 150 ] || die "TRUTH_RUNS must be 1..150"
BIN=${ECNTRACE:-$ROOT/ecntrace}
if [ ! -x "$BIN" ]; then
	[ -z "${ECNTRACE:-}" ] && make -s ecntrace >/dev/null 2>&1 || die "no ecntrace binary at $BIN"
fi

TMP=$(mktemp -d /tmp/truth.XXXXXX)
OUT=${TRUTH_OUT:-$TMP/out}
mkdir -p "$OUT" || die "cannot create $OUT"
# A private copy of the lab and the binary: the tree may change during a
# long run.
cp -r lab "$TMP/lab" && cp "$BIN" "$TMP/ecntrace" || die "cannot copy lab/ and ecntrace"
ECNLAB=$TMP/lab/ecnlab ECNTRACE=$TMP/ecntrace
LABNAME=tr$$
cleanup() {
	trap '' INT TERM
	ECNLAB_NAME=$LABNAME "$ECNLAB" down >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- scenarios

# Scenario directories: the lab's own, then the tests'.
DIRS="$ROOT/lab/scenarios $ROOT/tests/lab/scenarios"
scen_dir() { local d; for d in $DIRS; do [ -f "$d/$1.sh" ] && { echo "$d"; return 0; }; done; return 1; }
all_scenarios() { local d f; for d in $DIRS; do for f in "$d"/*.sh; do [ -e "$f" ] && basename "$f" .sh; done; done; }
# scen_show SCENARIO: `ecnlab show` of the plan (nothing is built).
scen_show() { ECNLAB_NAME=$LABNAME-plan ECNLAB_SCENARIOS=$(scen_dir "$1") "$ECNLAB" show "$1" 2>/dev/null; }
# From the plan: the hash policy, the balancing router, the first router.
scen_hash() { scen_show "$1" | sed -n 's/^balancing: .* policy \([a-z]*\):.*/\1/p'; }
scen_balancer() { scen_show "$1" | awk '$1 ~ /^[0-9]+$/ && $3 == "balancer" { print $2; exit }'; }
scen_first() { scen_show "$1" | awk '$1 == 1 { print $2; exit }'; }

# cond_env SCENARIO CONDITION: the ECNLAB_ variables of a condition, one per
# line; fails if the condition does not apply to the scenario.
cond_env() {
	local b
	case $2 in
	clean) ;;
	loss3) printf '%s\n' ECNLAB_LOSS=3 ECNLAB_RATELIMIT=1;;
	ratelimit) echo ECNLAB_RATELIMIT=1;;
	silentbal) b=$(scen_balancer "$1"); [ -n "$b" ] || return 1; echo "ECNLAB_SILENT=$b";;
	nat) echo ECNLAB_NAT=1;;
	slow) echo ECNLAB_SLOW_SERVER=1;;
	decline) echo ECNLAB_DECLINE_ECN=1;;
	asym) echo ECNLAB_ASYM=1;;
	gro) echo ECNLAB_GRO=1;;
	rst5) echo "ECNLAB_MODIFY=$(scen_first "$1") rst-random 5";;
	flowlabel | random | ttl) [ -n "$(scen_balancer "$1")" ] || return 1; echo "ECNLAB_HASH=$2";;
	*) return 1;;
	esac
}
CONDITIONS_ALL="clean loss3 ratelimit silentbal nat slow decline asym gro rst5 flowlabel random ttl"

# The default matrix (bench/README.md): every scenario clean, both families,
# seeds 1 2 3 where the balancer's jhash takes a seed; the conditions on a
# few scenarios with seed 1; two other balancing policies on seed.
matrix() {
	local s h seeds f x c
	for s in $(all_scenarios); do
		h=$(scen_hash "$s")
		case $h in tos | ecn | dscp) seeds="1 2 3";; *) seeds=1;; esac
		for x in $seeds; do for f in 4 6; do echo "$s:$f:$x:clean"; done; done
	done
	for s in seed deep fixed twostage unicast single; do
		scen_dir "$s" >/dev/null || continue
		for c in loss3 silentbal nat slow decline asym gro rst5; do
			cond_env "$s" "$c" >/dev/null || continue
			for f in 4 6; do echo "$s:$f:1:$c"; done
		done
	done
	for c in flowlabel random; do for f in 4 6; do echo "seed:$f:1:$c"; done; done
}

in_list() { [ -z "$2" ] && return 0; case " $2 " in *" $1 "*) return 0;; esac; return 1; }
cells() {
	local w c
	if [ -n "${TRUTH_CELLS:-}" ]; then
		for w in $TRUTH_CELLS; do
			case $w in
			*[*?]*) matrix | while read -r c; do [[ $c == $w ]] && echo "$c"; done;;
			*) echo "$w";;
			esac
		done
	else
		matrix
	fi | while IFS=: read -r s f x c; do
		in_list "$s" "${TRUTH_SCENARIOS:-}" && in_list "$f" "${TRUTH_FAMILIES:-}" &&
			in_list "$x" "${TRUTH_SEEDS:-}" && in_list "$c" "${TRUTH_CONDITIONS:-}" && echo "$s:$f:$x:$c"
	done | awk '!seen[$0]++'
}

mapfile -t CELLS < <(cells)
[ "${#CELLS[@]}" -gt 0 ] || die "no cell chosen"
for c in "${CELLS[@]}"; do
	IFS=: read -r s f x cond <<<"$c"
	scen_dir "$s" >/dev/null || die "cell $c: unknown scenario '$s'"
	case $f in 4 | 6) ;; *) die "cell $c: family must be 4 or 6";; esac
	[[ $x =~ ^[0-9]{1,10}$ ]] || die "cell $c: bad seed '$x'"
	cond_env "$s" "$cond" >/dev/null || die "cell $c: condition '$cond' does not apply (one of: $CONDITIONS_ALL)"
done
if [ "${TRUTH_LIST:-0}" = 1 ]; then printf '%s\n' "${CELLS[@]}"; exit 0; fi

# ------------------------------------------------------------- truth

# truth_json FAMILY: what the running lab is, from `ecnlab env` alone:
# {status, expected: [{kind, hop, addr}]}. Every cause kind that the lab
# does not contain is a false accusation; so is a broken verdict on a lab
# that is healthy or latent.
truth_json() {
	local fam=$1 status=healthy exp="" allow="" bal m node kind hop a4 a6 a base="" ecnfaults="" k
	local fields=" ${TRUTH_ARGS:-} "
	if [ "$fam" = 6 ]; then bal=$BALANCER6; else bal=$BALANCER4; fi
	add() { exp="$exp$(jq -nc --arg k "$1" --argjson h "$2" --arg a "$3" '{kind: $k, hop: $h, addr: $a}'),"; }
	case $HASH in
	tos | ecn)
		add ecn-hash "$BALANCER_HOP" "$bal"
		# Two or more machines behind an ECN-dependent split break
		# connections, unless the servers never negotiate ECN; one
		# machine (unicast) answers every branch: latent.
		if [ "$SITES" -ge 2 ] && [ "$DECLINE_ECN" != 1 ]; then status=broken; else status=latent; fi;;
	packet | random)
		add per-packet-lb "$BALANCER_HOP" "$bal"
		status=broken;;
	ce)
		add ce-hash "$BALANCER_HOP" "$bal"
		status=latent;;
	ttl)
		case $fields in *" --fields "*ttl* | *" --fields "*all*)
			add ttl-hash "$BALANCER_HOP" "$bal"; status=latent;; esac;;
	flowlabel)
		case $fields in *" --fields "*flowlabel* | *" --fields "*all*)
			[ "$fam" = 6 ] && { add flowlabel-hash "$BALANCER_HOP" "$bal"; status=latent; };; esac;;
	esac
	# Whether the kernel's multipath sends a flow's fragments to another
	# site than its whole datagrams (policy 1 hashes a fragment without
	# its ports, policy 0 hashes its next header) turns on the hash seed:
	# the lab measured it (FRAG_PATH4, FRAG_PATH6).
	local fp=FRAG_PATH$fam
	case $fields in *" --fields "*frag* | *" --fields "*all*)
		if [ "${!fp:-}" = parted ]; then
			add fragment-path "$BALANCER_HOP" "$bal"
			[ "$status" = healthy ] && status=latent
		elif [ -z "${!fp:-}" ]; then
			# not measured (too few datagrams arrived both ways): allowed
			allow="$allow$(jq -nc --argjson h "${BALANCER_HOP:-0}" '{kind: "fragment-path", hop: $h}'),"
		fi
		# A FRONT stage does the same, but its paths rejoin: allowed.
		[ -n "${FRONT_HOP:-}" ] && allow="$allow$(jq -nc --argjson h "$FRONT_HOP" '{kind: "fragment-path", hop: $h}'),";;
	esac
	for m in $MODIFIERS; do
		IFS=, read -r node kind hop a4 a6 <<<"$m"
		if [ "$fam" = 6 ]; then a=$a6; else a=$a4; fi
		case $kind in
		bleach) k=bleaching;; ce) k=ce-marking;; drop-ect) k=ect-blackhole;;
		rst-ecn-syn) k=syn-ecn-reset;; rst-ect) k=ect-reset;;
		rst-random) continue;; # resets unrelated to ECN: no ECN cause is right
		ce-data)
			# CE on the data, seen only in the replay's ECEs (no hop):
			# ce-marking is true, not required; the resets of CE data
			# behind a ce hash break connections.
			allow="$allow$(jq -nc --arg h "$hop" '{kind: "ce-marking", hop: ($h | tonumber)}'),"
			[ "$HASH" = ce ] && [ "$SITES" -ge 2 ] && status=broken
			continue;;
		*) continue;;
		esac
		add "$k" "$hop" "$a"
		# An ECN-setup SYN reset breaks whatever the server does; the
		# others hurt only connections that negotiate ECN.
		if [ "$kind" = rst-ecn-syn ] || [ "$DECLINE_ECN" != 1 ]; then status=broken
		elif [ "$status" != broken ]; then status=latent; fi
	done
	jq -nc --arg s "$status" "{status: \$s, expected: [${exp%,}], allowed: [${allow%,}]}"
}

# The classifier (bench/README.md). Input: the diagnosis; $t: the truth.
# Output: "CLASS PATH_PROBES".
CLASSIFY='
def n(x): if x == null then 0 else x end;
def bounds($c; $h): ($c.hop_first != null and $c.hop_last != null and $c.hop_first <= $h and $h <= $c.hop_last);
def located($c; $t): (n($c.hop) != 0 and $c.hop == $t.hop) or (n($c.hop) == 0 and bounds($c; $t.hop));
def matches($c; $t): $c.kind == $t.kind and located($c; $t) and ($c.addr == null or $c.addr == $t.addr);
def names_other($c; $t):
	(n($c.hop) != 0 and $c.hop != $t.hop)
	or ($c.addr != null and $c.addr != $t.addr)
	or ($c.hop_first != null and $c.hop_last != null and ($c.hop_first > $t.hop or $c.hop_last < $t.hop));
def false_cause($c): [($t.expected + ($t.allowed // []))[] | select(.kind == $c.kind)] as $ts
	| (($ts | length) == 0) or all($ts[]; names_other($c; .));
(.verdict.status // "none") as $s
| [(.verdict.causes // [])[] | select(false_cause(.))] as $false
| ((.verdict.causes // []) + (if $t.status == "latent" then (.verdict.notes // []) else [] end)) as $found
| (if ($false | length) > 0 or ($s == "broken" and $t.status != "broken") then "false"
   elif $s == $t.status and all($t.expected[]; . as $e | any($found[]; matches(.; $e))) then "right"
   elif $s == "inconclusive" then "inconclusive"
   else "missed" end) + " " + ((.stats.path_probes // "-") | tostring)
'

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ------------------------------------------------------------- runs

printf '%s\n' "cell	run	sport	exit	status	class	path_probes	ms	causes" >"$OUT/runs.tsv"
FALSE_TOTAL=0 N=0 LABKEY=""
row() {
	local line
	line=$(printf '%-28s %5s %6s %6s %7s %6s %8s %9s' "$@")
	if [ "$TAP" = 1 ]; then echo "# $line"; else echo "$line"; fi
}
[ "$TAP" = 1 ] && echo "1..${#CELLS[@]}"
row cell runs right incon missed false probes wall_ms
T0=$(date +%s)

for cell in "${CELLS[@]}"; do
	IFS=: read -r s fam seed cond <<<"$cell"
	N=$((N + 1))
	key="$s:$seed:$cond"
	if [ "$key" != "$LABKEY" ]; then
		mapfile -t cenv < <(cond_env "$s" "$cond")
		LABKEY=$key
		export ECNLAB_SCENARIOS
		ECNLAB_SCENARIOS=$(scen_dir "$s")
		if ! env "${cenv[@]}" ECNLAB_NAME=$LABNAME ECNLAB_SEED="$seed" "$ECNLAB" up "$s" >"$TMP/up.err" 2>&1 ||
			! ECNLAB_NAME=$LABNAME "$ECNLAB" env >"$TMP/env.sh" 2>"$TMP/up.err"; then
			LABKEY=""
			msg="lab does not come up: $(head -c 200 "$TMP/up.err" | tr '\n' ' ')"
			if [ "$TAP" = 1 ]; then echo "not ok $N - $cell: $msg"; else echo "$cell: $msg"; fi
			UPFAIL=1
			continue
		fi
		# shellcheck source=/dev/null
		. "$TMP/env.sh"
	fi
	truth=$(truth_json "$fam")
	if [ "$fam" = 6 ]; then target=$TARGET6 base=40000; else target=$TARGET4 base=20000; fi
	right=0 incon=0 missed=0 false=0 probes="" times=""
	for ((r = 0; r < RUNS; r++)); do
		sport=$((base + 100 * r))
		t0=$(date +%s%N)
		ip netns exec "$CLIENT_NS" timeout 120 "$ECNTRACE" -q --json -"$fam" --sport "$sport" ${TRUTH_ARGS:-} "$target" \
			>"$TMP/doc.json" 2>"$TMP/doc.err"
		rc=$?
		ms=$((($(date +%s%N) - t0) / 1000000))
		jq -e . "$TMP/doc.json" >/dev/null 2>&1 || echo '{}' >"$TMP/doc.json"
		read -r class pp <<<"$(jq -r --argjson t "$truth" "$CLASSIFY" "$TMP/doc.json" 2>/dev/null || echo "missed -")"
		case $class in
		right) right=$((right + 1));; inconclusive) incon=$((incon + 1));;
		false) false=$((false + 1));; *) class=missed missed=$((missed + 1));;
		esac
		[ "$pp" != - ] && probes="$probes $pp"
		times="$times $ms"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cell" "$r" "$sport" "$rc" \
			"$(jq -r '.verdict.status // "none"' "$TMP/doc.json")" "$class" "$pp" "$ms" \
			"$(jq -r '[(.verdict.causes // [])[] | "\(.kind)@\(.hop // 0)[\(.hop_first // "")-\(.hop_last // "")]\(.addr // "")"] | join(" ")' "$TMP/doc.json")" \
			>>"$OUT/runs.tsv"
		if [ "$class" != right ]; then
			jq --argjson t "$truth" '. + {truth_suite: {truth: $t}}' "$TMP/doc.json" >"$OUT/${cell//:/_}.$r.json" 2>/dev/null
		fi
	done
	pm=$(echo $probes | tr ' ' '\n' | grep -v '^$' | median)
	tm=$(echo $times | tr ' ' '\n' | grep -v '^$' | median)
	row "$cell" "$RUNS" "$right" "$incon" "$missed" "$false" "$pm" "$tm"
	if [ "$TAP" = 1 ]; then
		st=ok
		[ "$false" = 0 ] || st="not ok"
		echo "$st $N - $cell (truth $(echo "$truth" | jq -r .status)): $RUNS runs, $right right, $incon inconclusive, $missed missed, $false false accusations; median $pm path probes, $tm ms"
	fi
	FALSE_TOTAL=$((FALSE_TOTAL + false))
done
ECNLAB_NAME=$LABNAME "$ECNLAB" down >/dev/null 2>&1
line="$N cells, $RUNS runs each, $FALSE_TOTAL false accusations, $(($(date +%s) - T0)) s"
[ -n "${TRUTH_OUT:-}" ] && line="$line; every run in $OUT/runs.tsv"
if [ "$TAP" = 1 ]; then echo "# $line"; else echo "$line"; fi
[ "$FALSE_TOTAL" = 0 ] && [ -z "${UPFAIL:-}" ]
