#!/usr/bin/env bash
# Instructions per request of shoal-server under callgrind: start the
# server under valgrind, zero the counters once it is up, run a fixed
# redis-benchmark load, dump, and print Ir / request. Deterministic enough
# to compare hot-path changes on a busy machine (wall-clock is not).
#
#   scripts/callgrind.sh                         # SET+GET, -P 16
#   PIPE=1 TESTS=get REQUESTS=50000 scripts/callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHOAL=${SHOAL_BIN:-./target/release/shoal-server}
PORT=${PORT:-16500}
REQUESTS=${REQUESTS:-200000}
PIPE=${PIPE:-16}
TESTS=${TESTS:-set,get}
CLIENTS=${CLIENTS:-50}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
  "$SHOAL" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" \
  >"$OUT/shoal.log" 2>&1 &
VPID=$!
trap 'kill $VPID 2>/dev/null || true; wait $VPID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
callgrind_control -z "$VPID" >/dev/null
redis-benchmark -p "$PORT" -t "$TESTS" -n "$REQUESTS" -c "$CLIENTS" -P "$PIPE" -r 100000 -q >"$OUT/bench.txt" 2>&1
callgrind_control -d "$VPID" >/dev/null
sleep 1
ntests=$(echo "$TESTS" | tr ',' '\n' | wc -l)
total=$(for f in "$OUT"/callgrind.out.*; do callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}'; done | awk '{s+=$1} END{print s}')
echo "dump: $OUT  Ir total: $total  Ir/request: $(awk -v t="$total" -v n="$REQUESTS" -v k="$ntests" 'BEGIN{printf "%.0f", t/(n*k)}')"
