#!/usr/bin/env bash
# Lua scripting throughput and p99, shoal-server vs redis-server, with
# redis-benchmark: EVALSHA of a read script (GET) and of a write script
# (INCR + EXPIRE), at pipeline 1 and 16. Rounds alternate between the
# servers; medians are compared.
#
#   scripts/eval-bench.sh
#   ROUNDS=5 REQUESTS=100000 CLIENTS=50 scripts/eval-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
SHOAL=${SHOAL_BIN:-./target/release/shoal-server}
SPORT=${SHOAL_PORT:-21711}
RPORT=${REDIS_PORT:-21712}
OUT=$(mktemp -d)
[ -x "$SHOAL" ] || cargo build --release

. scripts/bench-pair.sh
start_pair

READ="return redis.call('get', KEYS[1])"
WRITE="local n = redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], 100) return n"
for p in "$SPORT" "$RPORT"; do
  RSHA=$(redis-cli -p "$p" script load "$READ")
  WSHA=$(redis-cli -p "$p" script load "$WRITE")
done

run() { # server port pipeline name sha
  redis-benchmark -p "$2" -n "$REQUESTS" -c "$CLIENTS" -P "$3" -r 100000 --csv \
    EVALSHA "$5" 1 "key:__rand_int__" 2>/dev/null |
    tail -n +2 | tr -d '"' | while IFS=, read -r _test rps _avg _min _p50 _p95 p99 _max; do
      echo "$1 $4 P$3 $rps $p99"
    done >>"$OUT/results.txt"
}
for _ in $(seq 1 "$ROUNDS"); do
  for p in 1 16; do
    for s in "shoal $SPORT" "redis $RPORT"; do
      set -- $s
      run "$1" "$2" "$p" read "$RSHA"
      run "$1" "$2" "$p" write "$WSHA"
    done
  done
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-8s %-4s %14s %14s %8s %10s %10s\n' script pipe shoal_rps redis_rps ratio shoal_p99 redis_p99
for t in read write; do
  for p in P1 P16; do
    col() { awk -v s="$1" -v t=$t -v p=$p -v c="$2" '$1==s&&$2==t&&$3==p{print $c}' "$OUT/results.txt" | median; }
    s_rps=$(col shoal 4); r_rps=$(col redis 4); s_p99=$(col shoal 5); r_p99=$(col redis 5)
    ratio=$(awk -v a="$s_rps" -v b="$r_rps" 'BEGIN{printf "%.2f", a/b}')
    printf '%-8s %-4s %14s %14s %8s %10s %10s\n' "$t" "$p" "$s_rps" "$r_rps" "${ratio}x" "$s_p99" "$r_p99"
  done
done
