#!/bin/bash
# Benchmark: the field screen (--fields) and the UDP/QUIC targets, N
# diagnoses per scenario and family, each classified against the lab's
# truth (`ecnlab env`) as right, inconclusive, missed or false accusation.
# Prints one line per row (runs, right, inconclusive, missed, false, median
# path probes, median wall time) and the path probes of --fields all on a
# healthy path against the ECN screen alone, measured alternately in the
# same lab. Figures only: it asserts nothing and exits 0 unless it could
# not run.
#
#   sudo bench/fields.sh
#   sudo FIELDS_RUNS=5 FIELDS_ROWS="ttlhash cehash" FIELDS_OUT=/tmp/f bench/fields.sh
#
# Environment (defaults in brackets):
#   FIELDS_RUNS      diagnoses per row and family [20]
#   FIELDS_ROWS      lab groups to run, from: ttlhash twostage cehash
#                    flowlabel fixed seed deep single [all of them]
#   FIELDS_FAMILIES  4 and/or 6 [4 6]
#   FIELDS_OUT       keep runs.tsv and the JSON of every run that was not
#                    right there [a temporary directory, removed at exit]
#
# The truth of each row (bench/README.md, "fields.sh"):
#   ttlhash --fields all        latent ttl-hash, an interval from BALANCER_HOP
#                               (hop_first = BALANCER_HOP < hop_last), no hop named
#   twostage (ECNLAB_HASH=ttl) --fields ttl   the same from the edge (hop 4),
#                               never the 5-tuple front (FRONT_HOP)
#   cehash                      broken ce-hash at BALANCER_HOP, no ect-reset or
#                               ecn-hash, not latent, ce_only_flows >= 4
#   flowlabel -6 --fields all   latent flowlabel-hash at BALANCER_HOP
#                               (fragment-path there allowed, not required,
#                               where FRAG_PATH6 is parted)
#   flowlabel -4 --fields flowlabel   healthy, the flow label does not apply
#   fixed --fields frag         latent fragment-path at BALANCER_HOP where the
#                               lab measured fragments parted, else healthy
#   seed, deep --quic           broken ecn-hash at BALANCER_HOP
#   seed -U                     latent ecn-hash at BALANCER_HOP, no flow moved
#   fixed, single --quic, -U    healthy
#   single --fields all, and without --fields: healthy
# A false accusation: a cause of another kind (ce-marking at the modifier's
# hop allowed in cehash), one naming another hop or router or an interval
# without the balancer's hop, or broken where the truth is not.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
RUNS=${FIELDS_RUNS:-20}
ROWS=${FIELDS_ROWS:-"ttlhash twostage cehash flowlabel fixed seed deep single"}
FAMILIES=${FIELDS_FAMILIES:-"4 6"}

die() { echo "bench/fields.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets)"
command -v jq >/dev/null 2>&1 || die "jq is not installed"
case $RUNS in '' | *[!0-9]*) die "FIELDS_RUNS must be a number";; esac
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 100 ] || die "FIELDS_RUNS must be 1..100"
for f in $FAMILIES; do case $f in 4 | 6) ;; *) die "FIELDS_FAMILIES: 4 and/or 6";; esac; done
[ -x ./ecntrace ] || make -s ecntrace >/dev/null || die "cannot build ecntrace"

LAB=bf$$
TMP=$(mktemp -d /tmp/bench_fields.XXXXXX)
OUT=${FIELDS_OUT:-$TMP/out}
mkdir -p "$OUT" || die "cannot create $OUT"
cleanup() { trap '' INT TERM; ECNLAB_NAME=$LAB "$TMP/lab/ecnlab" down >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cp ecntrace "$TMP/ecntrace" && cp -r lab "$TMP/lab" || die "cannot copy ecntrace and lab/"
BIN=$TMP/ecntrace ECNLAB=$TMP/lab/ecnlab

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The classifier. $e: {status, kind, how (located|bounded|none), hop, addr,
# allow: [{kind, hop}], front, extra}. Output: CLASS.
CLASSIFY='
def n(x): if x == null then 0 else x end;
def names_other($c):
	(n($c.hop) != 0 and $c.hop != $e.hop)
	or ($c.addr != null and $c.addr != $e.addr)
	or ($c.first_addr != null and $c.first_addr != $e.addr)
	or ($c.hop_first != null and $c.hop_last != null and ($c.hop_first > $e.hop or $c.hop_last < $e.hop));
def allowed($c): any($e.allow[]; .kind == $c.kind and n($c.hop) == .hop);
def false_cause($c): (allowed($c) | not) and ($c.kind != $e.kind or names_other($c));
def located($c): $c.kind == $e.kind and $c.hop == $e.hop and $c.addr == $e.addr;
def bounded($c): $c.kind == $e.kind and $c.hop == null and $c.hop_first == $e.hop
	and n($c.hop_last) > $e.hop and $c.first_addr == $e.addr;
def extra:
	if $e.extra == "cehash" then
		(.verdict.causes[0].latent == false) and (n(.verdict.causes[0].facts.ce_only_flows) >= 4)
	elif $e.extra == "fl4" then
		([.paths.fields[]? | select(.field == "flowlabel") | .applies] == [false])
	elif $e.extra == "udp" then (.sites.ecn_moved == 0)
	elif $e.extra == "healthy" then
		([.paths.fields[]? | select(.applies and .moves_path)] | length) == 0
	else true end;
(.verdict.status // "none") as $s
| (.verdict.causes // []) as $cs
| [$cs[] | select(false_cause(.))] as $false
| ([$cs[] | select(allowed(.) | not)]) as $own
| if ($false | length) > 0 or ($s == "broken" and $e.status != "broken") then "false"
  elif $s == $e.status and extra and
	(if $e.how == "none" then ($own | length) == 0
	 elif $e.how == "bounded" then ($own | length) == 1 and bounded($own[0])
	 else ($own | length) == 1 and located($own[0]) end) then "right"
  elif $s == "inconclusive" then "inconclusive"
  else "missed" end
'

printf '%s\n' "row	family	run	sport	exit	status	class	path_probes	ms	causes" >"$OUT/runs.tsv"
printf '%-34s %-4s %4s %5s %5s %6s %5s %7s %8s\n' row fam runs right incon missed false probes wall_ms
SP=20000

# run ROW FAMILY EXPECT ARGS...: one diagnosis; appends "CLASS PROBES MS"
# to $TMP/row.
run() {
	local row=$1 fam=$2 e=$3 t rc t0 ms class pp
	shift 3
	if [ "$fam" = 6 ]; then t=$TARGET6; else t=$TARGET4; fi
	SP=$((SP + 100)); [ $SP -gt 60000 ] && SP=20000
	t0=$(date +%s%N)
	ip netns exec "$CLIENT_NS" timeout 120 "$BIN" -q --json -"$fam" --sport $SP "$@" "$t" \
		>"$TMP/d.json" 2>"$TMP/d.err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	jq -e . "$TMP/d.json" >/dev/null 2>&1 || echo '{}' >"$TMP/d.json"
	class=$(jq -r --argjson e "$e" "$CLASSIFY" "$TMP/d.json" 2>/dev/null || echo missed)
	pp=$(jq -r '.stats.path_probes // "-"' "$TMP/d.json")
	echo "$class $pp $ms" >>"$TMP/row"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$fam" "$(wc -l <"$TMP/row")" $SP $rc \
		"$(jq -r '.verdict.status // "none"' "$TMP/d.json")" "$class" "$pp" "$ms" \
		"$(jq -r '[(.verdict.causes // [])[] | "\(.kind)@\(.hop // 0)[\(.hop_first // "")-\(.hop_last // "")]\(.addr // .first_addr // "")"] | join(" ")' "$TMP/d.json")" \
		>>"$OUT/runs.tsv"
	[ "$class" = right ] || jq --argjson e "$e" '. + {fields_bench: {expected: $e}}' "$TMP/d.json" \
		>"$OUT/${row// /_}.$fam.$SP.json" 2>/dev/null
}
# summary ROW FAMILY: the table line of $TMP/row; the medians into PM, TM.
summary() {
	local c
	for c in right inconclusive missed false; do eval "n_$c=\$(grep -c \"^$c \" \"\$TMP/row\")"; done
	PM=$(awk '$2 != "-" { print $2 }' "$TMP/row" | median)
	TM=$(awk '{ print $3 }' "$TMP/row" | median)
	printf '%-34s %-4s %4s %5s %5s %6s %5s %7s %8s\n' "$1" "IPv$2" "$(wc -l <"$TMP/row")" \
		"$n_right" "$n_inconclusive" "$n_missed" "$n_false" "$PM" "$TM"
}
# expect STATUS KIND HOW [EXTRA [ALLOW]]: the expectation for this lab.
expect() {
	local bal=$BALANCER4
	[ "$FAM" = 6 ] && bal=$BALANCER6
	jq -nc --arg s "$1" --arg k "$2" --arg h "$3" --argjson hop "${BALANCER_HOP:-0}" --arg a "$bal" \
		--arg x "${4:-}" --argjson allow "${5:-[]}" \
		'{status: $s, kind: $k, how: $h, hop: $hop, addr: $a, extra: $x, allow: $allow}'
}
# fragallow FAMILY: fragment-path at the balancer's hop, as a JSON allow
# list, if the lab measured that fragments part from whole datagrams
# (FRAG_PATH4, FRAG_PATH6: it turns on the kernel's hash seed), else [].
fragallow() {
	local v=FRAG_PATH$1
	if [ "${!v:-}" = parted ]; then jq -nc --argjson h "$BALANCER_HOP" '[{kind: "fragment-path", hop: $h}]'
	else echo '[]'; fi
}
# row NAME EXPECT ARGS...: RUNS diagnoses of family $FAM and their line.
row() {
	local name=$1 e=$2 i
	shift 2
	: >"$TMP/row"
	for ((i = 0; i < RUNS; i++)); do run "$name" "$FAM" "$e" "$@"; done
	summary "$name" "$FAM"
}
up() { # SCENARIO [ENV...]
	local s=$1
	shift
	ECNLAB_NAME=$LAB "$ECNLAB" down >/dev/null 2>&1
	env "$@" ECNLAB_NAME=$LAB "$ECNLAB" up "$s" >"$TMP/up.err" 2>&1 || { echo "$s: lab does not come up: $(head -c 200 "$TMP/up.err")"; return 1; }
	eval "$(ECNLAB_NAME=$LAB "$ECNLAB" env)"
}

RATIO=""
for g in $ROWS; do
	case $g in
	ttlhash) up ttlhash || continue
		for FAM in $FAMILIES; do row "ttlhash --fields all" "$(expect latent ttl-hash bounded)" --fields all; done;;
	twostage) up twostage ECNLAB_HASH=ttl || continue
		for FAM in $FAMILIES; do row "twostage(hash=ttl) --fields ttl" "$(expect latent ttl-hash bounded)" --fields ttl; done;;
	cehash) up cehash || continue
		allow=$(jq -nc --argjson h "${MODIFIER_HOP:-1}" '[{kind: "ce-marking", hop: $h}, {kind: "ce-marking", hop: 0}]')
		for FAM in $FAMILIES; do row "cehash" "$(expect broken ce-hash located cehash "$allow")"; done;;
	flowlabel) up flowlabel || continue
		for FAM in $FAMILIES; do
			if [ "$FAM" = 6 ]; then row "flowlabel --fields all" "$(expect latent flowlabel-hash located "" "$(fragallow 6)")" --fields all
			else row "flowlabel --fields flowlabel" "$(expect healthy - none fl4)" --fields flowlabel; fi
		done;;
	fixed) up fixed || continue
		for FAM in $FAMILIES; do
			if [ "$(fragallow "$FAM")" != "[]" ]; then
				row "fixed --fields frag" "$(expect latent fragment-path located)" --fields frag
			else row "fixed --fields frag" "$(expect healthy - none)" --fields frag; fi
			row "fixed --quic" "$(expect healthy - none)" --quic
			row "fixed -U" "$(expect healthy - none)" -U
		done;;
	seed) up seed || continue
		for FAM in $FAMILIES; do
			row "seed --quic" "$(expect broken ecn-hash located)" --quic
			row "seed -U" "$(expect latent ecn-hash located udp)" -U
		done;;
	deep) up deep || continue
		for FAM in $FAMILIES; do row "deep --quic" "$(expect broken ecn-hash located)" --quic; done;;
	single) up single || continue
		for FAM in $FAMILIES; do
			row "single --quic" "$(expect healthy - none)" --quic
			row "single -U" "$(expect healthy - none)" -U
			# --fields all and the ECN screen alone, alternately
			: >"$TMP/all" ; : >"$TMP/ecn"
			for ((i = 0; i < RUNS; i++)); do
				: >"$TMP/row"; run "single --fields all" "$FAM" "$(expect healthy - none healthy)" --fields all
				cat "$TMP/row" >>"$TMP/all"
				: >"$TMP/row"; run "single (ECN screen)" "$FAM" "$(expect healthy - none)"
				cat "$TMP/row" >>"$TMP/ecn"
			done
			cp "$TMP/all" "$TMP/row"; summary "single --fields all" "$FAM"; pa=$PM
			cp "$TMP/ecn" "$TMP/row"; summary "single (ECN screen)" "$FAM"; pe=$PM
			RATIO="$RATIO$(printf 'IPv%s path probes, median: --fields all %s, ECN screen %s, ratio %s' "$FAM" "$pa" "$pe" \
				"$(awk -v a="$pa" -v b="$pe" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')")
"
		done;;
	*) echo "unknown row group '$g'";;
	esac
done
ECNLAB_NAME=$LAB "$ECNLAB" down >/dev/null 2>&1
printf '%s' "$RATIO"
exit 0
