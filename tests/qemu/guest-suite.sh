#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest suite (busybox sh, run by /init from /tests): runs every
# executable given, shows its per-test lines, and closes with one line over
# all of them, "N passed, M failed, K skipped". Exit 0 when nothing failed.
# A program that fails without a closing line counts as one failure.

passed=0 failed=0 skipped=0
closing='^[0-9]+ passed, [0-9]+ failed'

for t in "$@"; do
	[ -x "$t" ] || continue
	name=${t##*/}
	# Live output minus the program's own closing line, which is summed.
	{ "./$name" 2>&1; echo $? > /tmp/suite.rc; } | tee /tmp/suite.out |
		grep -vE "$closing"
	rc=$(cat /tmp/suite.rc)
	line=$(grep -E "$closing" /tmp/suite.out | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
		s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
		[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || {
			echo "not ok $name: exited with status $rc"
			failed=$((failed + 1))
		}
	elif [ "$rc" -eq 0 ]; then
		echo "ok $name"
		passed=$((passed + 1))
	elif [ "$rc" -eq 77 ]; then
		echo "skip $name: exited with status 77"
		skipped=$((skipped + 1))
	else
		echo "not ok $name: exited with status $rc"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ $((passed + skipped)) -gt 0 ]
