#!/bin/sh
# Run the ring fuzzer for a bounded time (default 30 s) from its corpus and
# report it as one test: a crash, leak or sanitizer report fails it.
set -u
bin=$1 corpus=$2 secs=${3:-30}
[ -n "$secs" ] || secs=30
mkdir -p "$corpus"
log=$(mktemp)
if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$corpus" >"$log" 2>&1; then
	grep -E '^stat::number_of_executed_units|^Done' "$log"
	echo "ok fuzz-ring"
	echo "1 passed, 0 failed"
	rm -f "$log"
	exit 0
fi
tail -n 60 "$log"
echo "not ok fuzz-ring (crashing input saved beside the log above)"
echo "0 passed, 1 failed"
rm -f "$log"
exit 1
