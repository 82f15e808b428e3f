#!/usr/bin/env bash
# Side-by-side throughput and p99 of shoal-server vs redis-server with
# redis-benchmark, on the same machine: SET and GET at pipeline 1 and 16.
# Rounds alternate between the servers; the medians are compared.
#
#   scripts/bench.sh                      # defaults below
#   ROUNDS=5 REQUESTS=200000 CLIENTS=50 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-200000}
CLIENTS=${CLIENTS:-50}
SHOAL=${SHOAL_BIN:-./target/release/shoal-server}
SPORT=${SHOAL_PORT:-21701}
RPORT=${REDIS_PORT:-21702}
OUT=$(mktemp -d)
[ -x "$SHOAL" ] || cargo build --release

. scripts/bench-pair.sh
start_pair

run() { # server port pipeline round
  redis-benchmark -p "$2" -t set,get -n "$REQUESTS" -c "$CLIENTS" -P "$3" -r 100000 --csv 2>/dev/null |
    tail -n +2 | tr -d '"' | while IFS=, read -r test rps _avg _min _p50 _p95 p99 _max; do
      echo "$1 $test P$3 $rps $p99"
    done >>"$OUT/results.txt"
}
for r in $(seq 1 "$ROUNDS"); do
  for p in 1 16; do
    run shoal "$SPORT" "$p" "$r"
    run redis "$RPORT" "$p" "$r"
  done
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-8s %-4s %14s %14s %8s %10s %10s %8s\n' test pipe shoal_rps redis_rps ratio shoal_p99 redis_p99 p99_ok
for t in SET GET; do
  for p in P1 P16; do
    s_rps=$(awk -v t=$t -v p=$p '$1=="shoal"&&$2==t&&$3==p{print $4}' "$OUT/results.txt" | median)
    r_rps=$(awk -v t=$t -v p=$p '$1=="redis"&&$2==t&&$3==p{print $4}' "$OUT/results.txt" | median)
    s_p99=$(awk -v t=$t -v p=$p '$1=="shoal"&&$2==t&&$3==p{print $5}' "$OUT/results.txt" | median)
    r_p99=$(awk -v t=$t -v p=$p '$1=="redis"&&$2==t&&$3==p{print $5}' "$OUT/results.txt" | median)
    ratio=$(awk -v a="$s_rps" -v b="$r_rps" 'BEGIN{printf "%.2f", a/b}')
    ok=$(awk -v a="$s_p99" -v b="$r_p99" 'BEGIN{print (a<=b ? "yes" : "no")}')
    printf '%-8s %-4s %14s %14s %8s %10s %10s %8s\n' "$t" "$p" "$s_rps" "$r_rps" "${ratio}x" "$s_p99" "$r_p99" "$ok"
  done
done
