#!/bin/bash
# The smoke test of bench/analyze.sh: its short mode (20000 packets, no
# timing) generates a capture and finds analyze's JSON counts equal to what
# was generated; told to expect one reset too many (BENCH_SKEW=1), the same
# check fails loudly, so a count analyze gets wrong cannot pass unseen. No
# root, no lab: files in a temporary directory.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
command -v "${CC:-cc}" >/dev/null 2>&1 || skip_all "no C compiler"
ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"
export ECNTRACE

rc=0
BENCH_PACKETS=20000 BENCH_CHECK_ONLY=1 bash "$LAB_ROOT/bench/analyze.sh" \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
check "bench/analyze.sh, 20000 packets: the counts match, exit 0 ($rc: $(head -1 "$TMP/out"))" \
	all '[ $rc = 0 ]' 'grep -q "^counts match (bench.pcap, [0-9]* bytes): 2[0-9]\{4\} packets, [0-9]* connections" "$TMP/out"' \
	'[ ! -s "$TMP/err" ]'
rc=0
BENCH_PACKETS=20000 BENCH_CHECK_ONLY=1 BENCH_SKEW=1 bash "$LAB_ROOT/bench/analyze.sh" \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
check "with one reset too many expected: exit 1, the difference named ($(cut -c1-120 "$TMP/err"))" \
	all '[ $rc = 1 ]' 'grep -q "^COUNTS DIFFER.*reset-by-other-endpoint.*analyze [0-9]*, generated [0-9]*" "$TMP/err"'
exit $TAP_FAILED
