#!/bin/sh
# Fuzz every target: each libFuzzer target is built with ASan+UBSan and run
# for FUZZ_SECS seconds (default 10, what make check uses; make fuzz runs
# longer) over its seed corpus and the corpus grown by earlier runs in
# build/fuzz/. TAP output, one line per target with its number of
# executions ("ok 1 - fuzz_cli: 1234567 executions in 60 s, 0 findings"),
# repeated as comments at the end; skips when clang's fuzzer runtime is
# missing.
cd "$(dirname "$0")/../.." || exit 1
secs=${FUZZ_SECS:-10}
out=build/fuzz
n=0
fail=0
summaries=""
if ! command -v clang >/dev/null 2>&1; then
	echo "ok 1 # skip clang is not installed"
	exit 0
fi
mkdir -p "$out"
src=$(find src -name '*.c' ! -path src/cmd/main.c | sort)
inc=$(find src -type d | sort | sed 's/^/-I/')
for f in tests/fuzz/fuzz_*.c; do
	t=$(basename "$f" .c)
	n=$((n + 1))
	# shellcheck disable=SC2086
	if ! clang -std=c11 -D_GNU_SOURCE $inc -g -O1 \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o "$out/$t" "$f" $src -lpcap -lnftables -lcap -lpthread -lm \
		>"$out/$t.build.log" 2>&1; then
		if grep -q "libclang_rt.fuzzer\|cannot find -l" "$out/$t.build.log"; then
			echo "ok $n # skip $t: no fuzzer runtime (libclang-rt-14-dev)"
		else
			echo "not ok $n - $t builds"
			sed 's/^/# /' "$out/$t.build.log" | tail -20
			fail=1
		fi
		continue
	fi
	seeds=tests/fuzz/corpus_${t#fuzz_}
	[ -d "$seeds" ] || seeds=tests/fuzz/corpus
	mkdir -p "$out/$t.corpus"
	# A fixed seed: the same build explores the same inputs in the same
	# order; findings land in build/fuzz/, not in the tree.
	start=$(date +%s)
	if "$out/$t" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
		-seed=1 -artifact_prefix="$out/$t-" \
		"$out/$t.corpus" "$seeds" >"$out/$t.log" 2>&1; then
		found=0
	else
		found=1
	fi
	took=$(( $(date +%s) - start ))
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$')
	# One summary line per target, on the TAP line (what tests/run.sh
	# shows) and as a comment (what a direct run shows).
	summary="$t: ${runs:-?} executions in $took s, $found finding$([ $found = 1 ] || echo s)"
	if [ $found = 0 ]; then
		echo "ok $n - $summary (no crash, leak or UB)"
	else
		echo "not ok $n - $summary (see $out/$t.log)"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$out/$t.log" | head -5 | sed 's/^/# /'
		fail=1
	fi
	summaries="$summaries# $summary
"
done
printf %s "$summaries"
exit $fail
