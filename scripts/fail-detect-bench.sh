#!/usr/bin/env bash
# Time from SIGKILL of a master to FAIL agreement (every surviving master
# shows the victim as "fail"), shoal-server vs redis-server, in alternating
# rounds on a 3-master cluster.
#   scripts/fail-detect-bench.sh [path/to/shoal-server]
# Env: ROUNDS (3), BASE port (15200; BASE+1..BASE+3), TIMEOUT node timeout ms (1000).
set -euo pipefail
SHOAL=${1:-./target/release/shoal-server}
ROUNDS=${ROUNDS:-3}; BASE=${BASE:-15200}; TIMEOUT=${TIMEOUT:-1000}
WORK=$(mktemp -d /tmp/fail-bench.XXXXXX)
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap 'stop_all; rm -rf "$WORK"' EXIT

round() { # kind
  local bin=$SHOAL; [ "$1" = redis ] && bin=$(command -v redis-server)
  for i in 1 2 3; do
    local p=$((BASE + i)) d="$WORK/$1-$i"; rm -rf "$d"; mkdir -p "$d"
    "$bin" --port "$p" --bind 127.0.0.1 --save "" --appendonly no --dir "$d" \
      --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout "$TIMEOUT" --logfile "$d/log" >/dev/null 2>&1 &
    PIDS+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 100); do redis-cli -p $((BASE + i)) ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create 127.0.0.1:$((BASE + 1)) 127.0.0.1:$((BASE + 2)) \
    127.0.0.1:$((BASE + 3)) --cluster-yes >/dev/null
  for _ in $(seq 200); do
    ok=1
    for i in 1 2 3; do redis-cli -p $((BASE + i)) cluster info | grep -q 'cluster_state:ok' || ok=0; done
    [ $ok = 1 ] && break; sleep 0.1
  done
  sleep 1
  local victim; victim=$(redis-cli -p $((BASE + 3)) cluster myid)
  local t0 t1; t0=$(date +%s%N)
  kill -9 "${PIDS[2]}"
  while :; do
    n=0
    for i in 1 2; do
      redis-cli -p $((BASE + i)) cluster nodes | grep "^$victim" | grep -qw fail && n=$((n + 1))
    done
    [ $n = 2 ] && break
    [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt $((TIMEOUT * 10)) ] && { echo "$1: no agreement"; break; }
    sleep 0.01
  done
  t1=$(date +%s%N)
  echo "$1: FAIL agreed $(( (t1 - t0) / 1000000 )) ms after SIGKILL (node timeout $TIMEOUT ms)"
  stop_all
  sleep 0.5
}

for _ in $(seq "$ROUNDS"); do round redis; round shoal; done
