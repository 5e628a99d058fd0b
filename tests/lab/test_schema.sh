#!/bin/bash
# JSON as a contract: real outputs of ecntrace trace (TCP, UDP, ICMP over
# IPv4 and IPv6), connect (classic, ce, accecn, l4s, plain), diagnose
# (seed, fixed, ectdrop, synreset, bleach; IPv4 and IPv6; also without the
# connection replay), analyze (a tcpdump capture of the story's failing
# connections, faults only and --all) and watch (the same, live) validate against doc/ecntrace-schema.json, both as
# published (open objects) and strict (every object closed, so a member the
# writers emit without documenting it fails). Then the schema must reject
# each real document with one required member deleted, top level and nested,
# one at a time, and with a value outside a closed set. Diagnose's exit
# status must be the one its verdict.status names.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
	skip_all "python3-jsonschema is not installed"
ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"

SCHEMA=$LAB_ROOT/doc/ecntrace-schema.json
OUT=$TMP/docs
mkdir -p "$OUT"

# validate [--strict] [--each] FILE...: 0 valid, 1 invalid (errors on
# stdout), 2 bad schema or file; --each: a "valid|invalid FILE" line each.
validate() {
	local flags=
	while [ "$1" = --strict ] || [ "$1" = --each ]; do flags="$flags $1"; shift; done
	/usr/bin/python3 "$LAB_ROOT/tests/schema_validate.py" $flags "$SCHEMA" "$@"
}

check "the schema is a valid JSON Schema draft 2020-12 document" \
	/usr/bin/python3 -c '
import json, sys, jsonschema
s = json.load(open(sys.argv[1]))
c = jsonschema.validators.validator_for(s, default=None)
assert c is jsonschema.Draft202012Validator, c
c.check_schema(s)' "$SCHEMA"

# run NAME CMD ARGS...: ecntrace CMD ARGS --json from the client into
# $OUT/NAME.json; RC gets the exit status. ok if it is one JSON document.
run() {
	local name=$1
	shift
	RC=0
	on client timeout 120 "$ECNTRACE" "$@" --json >"$OUT/$name.json" 2>"$OUT/$name.err" || RC=$?
	echo "$RC" >"$OUT/$name.rc"
	if [ "$(jq -s length "$OUT/$name.json" 2>/dev/null)" = 1 ]; then
		return 0
	fi
	nok "$name: $* --json writes one JSON document (exit $RC: $(head -c 200 "$OUT/$name.err"))"
	rm -f "$OUT/$name.json"
	return 1
}

# conforms NAME: the document validates, open and strict.
conforms() {
	local f=$OUT/$1.json msg
	[ -f "$f" ] || return 0
	if msg=$(validate "$f") && msg=$(validate --strict "$f"); then
		ok "$1 conforms to the schema (strict too)"
	else
		nok "$1 conforms to the schema"
		echo "$msg" | head -5 | sed 's/^/# /'
		mv "$f" "$f.bad"
	fi
}

# The story's network: every trace method and family, every connect mode.
if lab_up sc$$ seed; then
	ok "seed lab comes up"
	for fam in 4 6; do
		dst=$TARGET4
		[ $fam = 6 ] && dst=$TARGET6
		for m in T U I; do
			run trace_$m$fam trace -$fam -$m -n -q 2 -w 1 -m 8 "$dst" && conforms trace_$m$fam
		done
		run connect_classic$fam connect -$fam --flows 4 -p "$HTTP_PORT" "$dst" &&
			conforms connect_classic$fam
		run connect_accecn$fam connect -$fam --mode accecn --flows 3 -p "$HTTP_PORT" "$dst" &&
			conforms connect_accecn$fam
		run diagnose_seed$fam diagnose -$fam -q -p "$HTTP_PORT" "$dst" && conforms diagnose_seed$fam
	done
	run trace_tos4 trace -4 -n -q 1 -w 1 -m 8 --ecn ce --dscp af11 "$TARGET4" && conforms trace_tos4
	run connect_ce4 connect -4 --mode ce --flows 3 -p "$HTTP_PORT" "$TARGET4" && conforms connect_ce4
	run connect_l4s6 connect -6 --mode l4s --flows 2 -p "$HTTP_PORT" "$TARGET6" && conforms connect_l4s6
	run connect_plain4 connect -4 --mode plain --flows 2 -p "$HTTP_PORT" "$TARGET4" && conforms connect_plain4
	# scan: NDJSON, one document a line (a broken target each family, an
	# unreachable one, the summary).
	on client timeout 120 "$ECNTRACE" scan -q --wait 0.3 -p "$HTTP_PORT" -o "$OUT/scan.ndjson" \
		"$TARGET4" "$TARGET6" "${TARGET4%.*}.81" >"$OUT/scan.out" 2>"$OUT/scan.err"
	echo $? >"$OUT/scan.rc"
	jq -c 'select(.target == "'"$TARGET4"'")' "$OUT/scan.ndjson" >"$OUT/scan_broken4.json" 2>/dev/null
	jq -c 'select(.target == "'"$TARGET6"'")' "$OUT/scan.ndjson" >"$OUT/scan_broken6.json" 2>/dev/null
	jq -c 'select(.target == "'"${TARGET4%.*}.81"'")' "$OUT/scan.ndjson" >"$OUT/scan_unreach.json" 2>/dev/null
	jq -c 'select(.summary)' "$OUT/scan.ndjson" >"$OUT/scan_summary.json" 2>/dev/null
	for d in scan_broken4 scan_broken6 scan_unreach scan_summary; do
		if [ "$(jq -s length "$OUT/$d.json" 2>/dev/null)" = 1 ]; then
			conforms $d
		else
			nok "$d: scan -o writes one line for it (exit $(cat "$OUT/scan.rc"): $(head -c 200 "$OUT/scan.err"))"
			rm -f "$OUT/$d.json"
		fi
	done
	# The kernel's own ECN connections, captured by tcpdump and watched
	# live: about half are reset by the other site.
	on client timeout 60 "$ECNTRACE" watch -i "$CLIENT_IF" --duration 5 --json \
		>"$OUT/watch.json" 2>"$OUT/watch.err" &
	WATCH_PID=$!
	BG_PIDS="$BG_PIDS $WATCH_PID"
	if capture_pcap_start client "$CLIENT_IF" tcp "$TMP/story.pcap"; then
		sleep 1
		for i in $(seq 1 12); do
			http 4 $((43000 + i)) >/dev/null
			http 6 $((43000 + i)) >/dev/null
		done
		capture_stop
		run analyze analyze "$TMP/story.pcap" && conforms analyze
		run analyze_all analyze --all "$TMP/story.pcap" && conforms analyze_all
		check "analyze finds reset-by-other-endpoint connections in the capture (exit $(cat "$OUT/analyze.rc"))" \
			all '[ "$(jq ".summary.results[\"reset-by-other-endpoint\"] // 0" "$OUT/analyze_all.json" 2>/dev/null)" -gt 0 ]'
	else
		nok "tcpdump starts in the client"
	fi
	wait "$WATCH_PID"
	echo $? >"$OUT/watch.rc"
	if [ "$(jq -s length "$OUT/watch.json" 2>/dev/null)" = 1 ]; then
		conforms watch
	else
		nok "watch --json writes one JSON document: $(head -c 200 "$OUT/watch.err")"
	fi
	lab sc$$ down >/dev/null 2>&1
else
	nok "seed lab comes up"
fi

# A diagnosis per scenario whose verdict differs in shape.
for sc in fixed ectdrop synreset bleach; do
	if ! lab_up sc$$ "$sc"; then
		nok "$sc lab comes up"
		continue
	fi
	for fam in 4 6; do
		dst=$TARGET4
		[ $fam = 6 ] && dst=$TARGET6
		run diagnose_$sc$fam diagnose -$fam -q -p "$HTTP_PORT" "$dst" && conforms diagnose_$sc$fam
	done
	if [ "$sc" = fixed ]; then
		run diagnose_noconn4 diagnose -4 -q --flows 0 -p "$HTTP_PORT" "$TARGET4" &&
			conforms diagnose_noconn4
	fi
	lab sc$$ down >/dev/null 2>&1
done

# Diagnose: exit status 0 healthy, 1 broken, 2 inconclusive.
bad=""
n=0
for f in "$OUT"/diagnose_*.json; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	st=$(jq -r .verdict.status "$f")
	rc=$(cat "${f%.json}.rc")
	case "$st:$rc" in healthy:0|broken:1|inconclusive:2) ;; *) bad="$bad $(basename "$f" .json)=$st/$rc";; esac
done
check "diagnose's exit status is its verdict.status in $n runs${bad:+ (wrong:$bad)}" \
	all '[ $n -gt 0 ]' '[ -z "$bad" ]'

# The minimum each issue promised must stay among the schema's required
# members; the deletions below then take care of the rest.
required_of() { jq -r "$1 | .required[]" "$SCHEMA" | sort -u | tr '\n' ' '; }
promised() { # desc schema-path members...
	local d=$1 p=$2 req miss="" m
	shift 2
	req=" $(required_of "$p")"
	for m in "$@"; do
		case "$req" in *" $m "*) ;; *) miss="$miss $m";; esac
	done
	check "schema requires what was promised: $d${miss:+ (missing:$miss)}" all '[ -z "$miss" ]'
}
promised "trace" '."$defs".trace' schema command target flow hops reached
promised "trace hops[]" '."$defs".hop' ttl addr rtt_ms reply_ttl quoted_tos quoted_ecn
promised "connect" '."$defs".connect' schema command target flows summary
promised "connect flows[]" '."$defs".conn_flow' sport mode result synack_ttl rst_ttl
promised "diagnose" '."$defs".diagnose' schema command target family verdict paths anycast connection stats
promised "diagnose verdict" '."$defs".diagnose.properties.verdict' status summary causes notes
promised "diagnose causes[]" '."$defs".finding' kind hop addr confidence
promised "diagnose paths" '."$defs".paths' load_balancing ecn_dependent divergence_hop
promised "diagnose anycast" '."$defs".diagnose.properties.anycast' sites
promised "diagnose stats" '."$defs".diagnose.properties.stats' probes_sent path_probes duration_ms
promised "scan target" '."$defs".scan_target' schema command target port ecn_setup plain_setup ecn_dependent confidence machines split status
promised "scan split" '."$defs".scan_split' hop hop_first hop_last addr
promised "scan summary" '."$defs".scan_summary' schema command summary routers
promised "scan summary counts" '."$defs".scan_summary.properties.summary' targets completed dependent inconclusive probes_sent seconds

# rejects DOC DESC JQ-FILTER: the document changed by the filter must fail
# validation. The mutants are queued and judged together by judge_mutants
# (one validator run for all of them).
MUT=$TMP/mutants
mkdir -p "$MUT"
NMUT=0
rejects() {
	local f=$OUT/$1.json m
	NMUT=$((NMUT + 1))
	m=$MUT/$(printf '%04d' $NMUT).json
	if ! jq "$3" "$f" >"$m" 2>/dev/null || [ ! -s "$m" ]; then
		rm -f "$m"
		nok "$1: cannot apply $3"
		return
	fi
	echo "$1 $2" >"$m.desc"
}
judge_mutants() {
	local line v m
	ls "$MUT"/*.json >/dev/null 2>&1 || return 0
	validate --each "$MUT"/*.json >"$MUT/verdicts" 2>&1 ||
		{ nok "the validator runs on the mutants: $(head -c 200 "$MUT/verdicts")"; return; }
	for m in "$MUT"/*.json; do
		v=$(awk -v f="$m" '$2 == f { print $1 }' "$MUT/verdicts")
		check "$(cat "$m.desc") fails validation" all '[ "$v" = invalid ]'
	done
}
# rejects_each_required DOC [DEF]: delete each required top-level member of
# the command's definition, one at a time.
rejects_each_required() {
	local f=$OUT/$1.json m passed="" n=0 dir=$TMP/req-$1
	mkdir -p "$dir"
	for m in $(jq -r ".\"\$defs\".${2:-${1%%_*}}.required[]" "$SCHEMA"); do
		n=$((n + 1))
		jq "del(.\"$m\")" "$f" >"$dir/$m.json"
	done
	validate --each "$dir"/*.json >"$dir/verdicts" 2>&1
	for m in $(jq -r ".\"\$defs\".${2:-${1%%_*}}.required[]" "$SCHEMA"); do
		grep -qx "invalid $dir/$m.json" "$dir/verdicts" || passed="$passed $m"
	done
	check "$1 without any one of its $n required members fails validation${passed:+ (accepted without:$passed)}" \
		all '[ $n -ge 9 ]' '[ -z "$passed" ]'
}

for d in trace_T4 connect_classic4 diagnose_seed4 analyze watch scan_broken4; do
	if [ ! -f "$OUT/$d.json" ]; then
		nok "$d: no valid real document to mutate"
		continue
	fi
	case $d in analyze|watch) def=capture;; scan_broken4) def=scan_target;; *) def=${d%%_*};; esac
	rejects_each_required "$d" "$def"
	jq '.x_unknown = 1' "$OUT/$d.json" >"$TMP/mut.json"
	rc_open=0 rc_strict=0
	validate "$TMP/mut.json" >/dev/null || rc_open=$?
	validate --strict "$TMP/mut.json" >/dev/null || rc_strict=$?
	check "$d with an unknown member: the open schema accepts it, strict rejects it" \
		all '[ $rc_open = 0 ]' '[ $rc_strict = 1 ]'
done

# Nested required members, and values outside closed sets.
if [ -f "$OUT/scan_broken4.json" ]; then
	for p in .split.hop .split.addr .split.hop_first .ecn_setup.ece .plain_setup.dropped; do
		rejects scan_broken4 "without $p" "del($p)"
	done
	rejects scan_broken4 "with status \"fine\"" '.status = "fine"'
	rejects scan_broken4 "with reason \"bad-luck\"" '.reason = "bad-luck"'
fi
if [ -f "$OUT/scan_summary.json" ]; then
	for p in .summary .routers .summary.blocked .summary.rate '.routers[0].targets' '.routers[0].hop'; do
		rejects scan_summary "without $p" "del($p)"
	done
fi
if [ -f "$OUT/trace_T4.json" ]; then
	for p in .hops[0].ttl .hops[0].addr .hops[0].rtt_ms .hops[0].quoted_ecn \
		 .hops[0].quoted_dscp '.hops[-1].reply' .hops[0].probes \
		 .hops[0].probes[0].reply .hops[0].probes[0].rtt_ms \
		 .flow.proto .flow.sport .stats.probes_sent; do
		rejects trace_T4 "without $p" "del($p)"
	done
	rejects trace_T4 "with quoted_ecn \"ect2\"" '.hops[0].quoted_ecn = "ect2"'
	rejects trace_T4 "with an unanswered hop's addr as \"\"" '.hops[0].addr = ""'
	rejects trace_T4 "with schema ecntrace/2" '.schema = "ecntrace/2"'
	rejects trace_T4 "with reached false and a dest_ttl" '.reached = false'
fi
if [ -f "$OUT/trace_T6.json" ]; then
	rejects trace_T6 "without flow.flowlabel (IPv6)" 'del(.flow.flowlabel)'
fi
if [ -f "$OUT/trace_I4.json" ]; then
	rejects trace_I4 "without flow.icmp_id" 'del(.flow.icmp_id)'
fi
if [ -f "$OUT/connect_classic4.json" ]; then
	for p in .flows[0].sport .flows[0].mode .flows[0].result .flows[0].synack_ttl \
		 .flows[0].rst_ttl .flows[0].data_acked .flows[0].synack_flags \
		 .summary.control_ok .summary.results .stats.duration_ms; do
		rejects connect_classic4 "without $p" "del($p)"
	done
	rejects connect_classic4 "with result \"fine\"" '.flows[0].result = "fine"'
	rejects connect_classic4 "with mode \"dctcp\"" '.mode = "dctcp"'
	rejects connect_classic4 "with a results key that is no result" '.summary.results.fine = 1'
fi
if [ -f "$OUT/connect_accecn4.json" ]; then
	rejects connect_accecn4 "without flows[0].accecn_syn_arrived" 'del(.flows[0].accecn_syn_arrived)'
fi
if [ -f "$OUT/diagnose_seed4.json" ]; then
	for p in .verdict.status .verdict.summary .verdict.causes .verdict.notes \
		 .verdict.causes[0].kind .verdict.causes[0].hop .verdict.causes[0].confidence \
		 .paths.load_balancing .paths.ecn_dependent .paths.divergence_hop \
		 .paths.split_sport .paths.balancer .paths.flows[0].sport \
		 .trace.hops .trace.hops[0].ttl .anycast.sites .anycast.endpoints[0].return_hops \
		 .connection.flows .connection.flows[0].result .stats.path_probes; do
		rejects diagnose_seed4 "without $p" "del($p)"
	done
	rejects diagnose_seed4 "with status \"ok\"" '.verdict.status = "ok"'
	rejects diagnose_seed4 "broken with no cause" '.verdict.causes = []'
	rejects diagnose_seed4 "with cause kind \"dscp-hash\" (a note)" '.verdict.causes[0].kind = "dscp-hash"'
	rejects diagnose_seed4 "with load_balancing \"ecmp\"" '.paths.load_balancing = "ecmp"'
	rejects diagnose_seed4 "with family 5" '.family = 5'
	rejects diagnose_seed4 "with confidence 99" '.verdict.causes[0].confidence = 99'
fi
if [ -f "$OUT/analyze.json" ]; then
	for p in .connections[0].result .connections[0].client .connections[0].synack_ttl \
		 .connections[0].rst_ttl .connections[0].rst_after .connections[0].data_ecn \
		 .summary.faults .summary.results .summary.reset_ttls[0].rst_ttl; do
		rejects analyze "without $p" "del($p)"
	done
	rejects analyze "with result \"fine\"" '.connections[0].result = "fine"'
	rejects analyze "with ecn_setup \"l4s\"" '.connections[0].ecn_setup = "l4s"'
fi
if [ -f "$OUT/watch.json" ]; then
	rejects watch "without summary.drops" 'del(.summary.drops)'
fi
judge_mutants
