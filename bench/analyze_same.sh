#!/bin/bash
# Does a changed ecntrace analyze report what a reference build reported?
#
#   bench/analyze_same.sh REF [NEW]
#
# REF and NEW are ecntrace binaries (NEW defaults to ./ecntrace). Runs
# `analyze --json`, `analyze --json --all` and `analyze` (text, no colour)
# with each on: a generated bench capture (bench/pcap_gen, BENCH_PACKETS,
# default 1000000), the pcapng seeds (tests/fuzz/corpus_pcapng), the
# analyze fuzz seeds (tests/fuzz/corpus_analyze) and, if present, a
# fuzzing corpus (ANALYZE_CORPUS, default
# /work/main/build/fuzz/fuzz_analyze.corpus). Standard output, standard
# error and the exit code must be byte-identical; prints each file that
# differs and exits 1, else prints how many runs matched and exits 0.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${1:?usage: bench/analyze_same.sh REF [NEW]}
NEW=${2:-$ROOT/ecntrace}
PACKETS=${BENCH_PACKETS:-1000000}
CORPUS=${ANALYZE_CORPUS:-/work/main/build/fuzz/fuzz_analyze.corpus}

TMP=$(mktemp -d /tmp/ecntrace-analyze-same.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

"${CC:-cc}" -std=c11 -D_GNU_SOURCE -O2 -o "$TMP/pcap_gen" "$ROOT/bench/pcap_gen.c" ||
	{ echo "analyze_same: cannot build pcap_gen" >&2; exit 1; }
"$TMP/pcap_gen" -n "$PACKETS" -o "$TMP/bench.pcap" -c "$TMP/counts" ||
	{ echo "analyze_same: pcap_gen failed" >&2; exit 1; }

# run BIN OUT FILE ARGS...: one run, its output, errors and exit code.
run() {
	local bin=$1 out=$2 file=$3
	shift 3
	NO_COLOR=1 "$bin" analyze "$@" "$file" >"$out.out" 2>"$out.err" </dev/null
	echo "exit $?" >>"$out.err"
}

files=("$TMP/bench.pcap" "$ROOT"/tests/fuzz/corpus_pcapng/* \
	"$ROOT"/tests/fuzz/corpus_analyze/*)
[ -d "$CORPUS" ] && files+=("$CORPUS"/*)
n=0 bad=0
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	for mode in "--json" "--json --all" "--all" ""; do
		# shellcheck disable=SC2086
		run "$REF" "$TMP/ref" "$f" $mode
		# shellcheck disable=SC2086
		run "$NEW" "$TMP/new" "$f" $mode
		n=$((n + 1))
		if ! cmp -s "$TMP/ref.out" "$TMP/new.out" ||
		   ! cmp -s "$TMP/ref.err" "$TMP/new.err"; then
			echo "DIFFERS: analyze $mode $f"
			bad=$((bad + 1))
		fi
	done
done
if [ $bad -gt 0 ]; then
	echo "analyze_same: $bad of $n runs differ" >&2
	exit 1
fi
echo "analyze_same: $n runs identical ($((n / 4)) files, 4 modes each)"
