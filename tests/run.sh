#!/bin/sh
# Run test programs that speak TAP ("ok N - name", "not ok N - name",
# "ok N # skip why"), show each result, and close with the one line
# "N passed, N failed, N skipped". Exit 1 if anything failed.
#
# A unit test binary is a cmocka program (CMOCKA_MESSAGE_OUTPUT=TAP); a lab
# test is a shell script. A program that exits non-zero without reporting a
# failure counts as one failure, so a crash never passes.
set -u
CMOCKA_MESSAGE_OUTPUT=TAP
export CMOCKA_MESSAGE_OUTPUT
pass=0 fail=0 skip=0
logdir=${TEST_LOGDIR:-build/test-logs}
mkdir -p "$logdir"

for t in "$@"; do
	name=$(echo "$t" | sed 's|^build/||; s|/|_|g')
	log="$logdir/$name.log"
	echo "== $t"
	start=$(date +%s)
	if [ -x "$t" ] && [ "${t%.sh}" = "$t" ]; then
		"$t" >"$log" 2>&1; rc=$?
	else
		timeout 1200 sh "$t" >"$log" 2>&1; rc=$?
	fi
	p=$(grep -c '^ok ' "$log" | head -1)
	s=$(grep -c '^ok .*# *[Ss][Kk][Ii][Pp]' "$log" | head -1)
	f=$(grep -c '^not ok ' "$log" | head -1)
	p=$((p - s))
	grep -E '^(not ok|ok) ' "$log" | sed 's/^/   /'
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "   not ok - $t exited $rc without reporting a failure"
		f=1
	fi
	if [ "$f" != 0 ]; then
		echo "   --- last lines of $log:"
		tail -n 25 "$log" | sed 's/^/   | /'
	fi
	echo "   ($(( $(date +%s) - start ))s)"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
