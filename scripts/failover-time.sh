#!/usr/bin/env bash
# Failover time, Shoal versus redis-server, side by side in alternating rounds:
# start 6 nodes (3 masters + 3 replicas, redis-cli --cluster create
# --cluster-replicas 1), write keys and WAIT 1, SIGKILL one master, then
# measure the time until its replica is a master AND every surviving node
# reports cluster_state:ok. Also checks that the acknowledged keys survived.
#
#   scripts/failover-time.sh                # ROUNDS=3 TIMEOUT=2000 BASE=13600
#   SHOAL_BIN=target/release/shoal-server REDIS_BIN=redis-server scripts/failover-time.sh
#
# Prints one line per round and the median per server.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOAL_BIN=${SHOAL_BIN:-./target/release/shoal-server}
REDIS_BIN=${REDIS_BIN:-$(command -v redis-server || true)}
ROUNDS=${ROUNDS:-3}
TIMEOUT=${TIMEOUT:-2000}
BASE=${BASE:-13600}
KEYS=${KEYS:-100}
WORK=$(mktemp -d /tmp/failover-time.XXXXXX)

cleanup() {
  for f in "$WORK"/*/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

start_node() { # bin port dir (in a subshell: no job-control noise on SIGKILL)
  (
    "$1" --port "$2" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$3/nodes-$2.conf" --cluster-node-timeout "$TIMEOUT" \
      --dir "$3" --dbfilename "dump-$2.rdb" --save "" --appendonly no \
      --logfile "$3/$2.log" --daemonize no </dev/null >/dev/null 2>&1 &
    echo $! >"$3/$2.pid"
  )
}

wait_ok() { # port... ; all report cluster_state:ok
  for _ in $(seq 1 600); do
    local all=1
    for p in "$@"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || all=0
    done
    [ $all = 1 ] && return 0
    sleep 0.05
  done
  return 1
}

one_round() { # name bin base round
  local name=$1 bin=$2 base=$3 dir="$WORK/$1-$4" ports=() p
  mkdir -p "$dir"
  for i in 1 2 3 4 5 6; do ports+=($((base + i))); start_node "$bin" $((base + i)) "$dir"; done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 \
    --cluster-yes >"$dir/create.log" 2>&1
  wait_ok "${ports[@]}"
  # The master that owns {ft}, and its replica.
  local slot owner master_id replica
  slot=$(redis-cli -p "${ports[0]}" cluster keyslot '{ft}')
  owner=$(redis-cli -p "${ports[0]}" cluster nodes | awk -v s="$slot" '
    $3 ~ /master/ { for (i = 9; i <= NF; i++) { split($i, r, "-"); if (r[2] == "") r[2] = r[1];
      if (s + 0 >= r[1] + 0 && s + 0 <= r[2] + 0) { split($2, a, "[:@]"); print a[2] " " $1 } } }')
  master_id=${owner#* }; owner=${owner% *}
  replica=""
  for _ in $(seq 1 200); do # gossip may not have spread the replica's role yet
    replica=$(redis-cli -p "${ports[0]}" cluster nodes | awk -v m="$master_id" '$4 == m { split($2, a, "[:@]"); print a[2] }' | head -1)
    [ -n "$replica" ] && break
    sleep 0.1
  done
  # Wait for the replica link, write keys, WAIT 1.
  for _ in $(seq 1 200); do
    redis-cli -p "$replica" info replication | grep -q 'master_link_status:up' && break
    sleep 0.1
  done
  for i in $(seq 1 "$KEYS"); do echo "SET {ft}k$i v$i"; done | redis-cli -p "$owner" >/dev/null
  local acked
  acked=$(redis-cli -p "$owner" wait 1 5000)
  local t0 t1 survivors=()
  for p in "${ports[@]}"; do [ "$p" != "$owner" ] && survivors+=("$p"); done
  t0=$(now_ms)
  kill -9 "$(cat "$dir/$owner.pid")"
  for _ in $(seq 1 1200); do
    if redis-cli -p "$replica" role 2>/dev/null | head -1 | grep -q master; then
      wait_ok "${survivors[@]}" && break
    fi
    sleep 0.02
  done
  t1=$(now_ms)
  local present
  present=$(for i in $(seq 1 "$KEYS"); do echo "GET {ft}k$i"; done | redis-cli -p "$replica" | grep -c '^v' || true)
  echo "$name round: failover_ms=$((t1 - t0)) wait1_acked=$acked keys_present=$present/$KEYS"
  echo "$name $((t1 - t0))" >>"$WORK/results"
  for p in "${ports[@]}"; do kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null || true; done
  sleep 0.5
}

for r in $(seq 1 "$ROUNDS"); do
  one_round shoal "$SHOAL_BIN" $((BASE + (r % 2) * 10)) "$r"
  if [ -n "$REDIS_BIN" ]; then one_round redis "$REDIS_BIN" $((BASE + 20 + (r % 2) * 10)) "$r"; fi
done
echo "--- cluster-node-timeout $TIMEOUT ms, median failover time (SIGKILL -> replica master + cluster_state:ok everywhere)"
for name in shoal redis; do
  vals=$(awk -v n=$name '$1 == n { print $2 }' "$WORK/results" | sort -n)
  [ -z "$vals" ] && continue
  count=$(echo "$vals" | wc -l)
  median=$(echo "$vals" | sed -n "$(((count + 1) / 2))p")
  echo "$name median_ms=$median rounds=$count all=[$(echo $vals | tr '\n' ' ')]"
done
