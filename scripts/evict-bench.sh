#!/usr/bin/env bash
# Eviction throughput, shoal-server vs redis-server side by side: SET of
# new keys (16-byte names, 32-byte values) into a full instance with
# maxmemory and allkeys-lru, so that every write evicts. Rounds alternate
# between the servers; reports requests/s and keys evicted per round.
#
#   scripts/evict-bench.sh                   # defaults below
#   ROUNDS=5 REQUESTS=300000 LIMIT_MB=32 scripts/evict-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
CLIENTS=${CLIENTS:-50}
LIMIT_MB=${LIMIT_MB:-32}
POLICY=${POLICY:-allkeys-lru}
SHOAL=${SHOAL_BIN:-./target/release/shoal-server}
SPORT=${SHOAL_PORT:-21721}
RPORT=${REDIS_PORT:-21722}
OUT=$(mktemp -d)

. scripts/bench-pair.sh
start_pair
for p in "$SPORT" "$RPORT"; do
  redis-cli -p "$p" config set maxmemory-policy "$POLICY" >/dev/null
  redis-cli -p "$p" config set maxmemory "${LIMIT_MB}mb" >/dev/null
  # Fill to the limit first, so the measured rounds evict on every write.
  redis-benchmark -p "$p" -t set -n $((LIMIT_MB * 12000)) -c "$CLIENTS" -r 100000000 -d 32 -q >/dev/null 2>&1
done

evicted() { redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '$1=="evicted_keys"{print $2}'; }
run() { # name port
  local e0 e1 rps
  e0=$(evicted "$2")
  rps=$(redis-benchmark -p "$2" -t set -n "$REQUESTS" -c "$CLIENTS" -r 100000000 -d 32 --csv 2>/dev/null |
    tail -n 1 | tr -d '"' | cut -d, -f2)
  e1=$(evicted "$2")
  echo "$1 $rps $((e1 - e0))"
}
echo "server rps evicted"
for _ in $(seq 1 "$ROUNDS"); do
  run shoal "$SPORT"
  run redis "$RPORT"
done
for p in "$SPORT" "$RPORT"; do
  redis-cli -p "$p" info memory | tr -d '\r' | grep -E '^(used_memory|maxmemory):' | tr '\n' ' '
  echo
done
