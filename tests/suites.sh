#!/bin/bash
# Run each suite command given as an argument, show its output, and close
# with one line summing the suites' "N passed, M failed, K skipped" lines.
# A suite that exits non-zero without such a line counts as one failure.
set -u
passed=0 failed=0 skipped=0 rc=0
for cmd in "$@"; do
	echo "=== $cmd"
	out=$(mktemp)
	bash -c "$cmd" 2>&1 | tee "$out"
	status=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	if [ -n "$line" ]; then
		read -r p f s <<<"$(sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/' <<<"$line")"
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
	fi
	if [ "$status" -ne 0 ]; then
		rc=1
		[ -n "$line" ] && [ "${f:-0}" -gt 0 ] || failed=$((failed + 1))
	fi
done
echo "==="
echo "check: $passed passed, $failed failed, $skipped skipped"
exit $rc
