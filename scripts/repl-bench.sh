#!/usr/bin/env bash
# repl-bench.sh SHOAL_BINARY [KEYS] [ROUNDS]
#
# Full-sync time and streaming throughput, Shoal master -> Shoal replica
# versus redis-server -> redis-server, in alternating rounds (the machine
# is shared, so compare the ratio, not the absolute figures).
#
# Per round and per pair:
#   1. the master is filled with KEYS string keys (redis-cli --pipe);
#   2. full sync: time from REPLICAOF on a fresh replica until its link is
#      up and DBSIZE equals KEYS (diskless, repl-diskless-sync-delay 0, and
#      disk-based);
#   3. streaming: redis-benchmark sends 200k pipelined SETs to the master;
#      time until the replica's offset equals the master's.
# Ports: BASE (default 13400) .. BASE+3. Every server started is killed by pid.
set -euo pipefail
SHOAL=${1:?shoal-server binary}
KEYS=${2:-1000000}
ROUNDS=${3:-3}
BASE=${BASE:-13400}
REDIS=${REDIS:-redis-server}
WORK=$(mktemp -d /tmp/repl-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

start() { # bin port dir extra...
  local bin=$1 port=$2 dir=$3; shift 3
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && exec "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
     --repl-diskless-sync-delay 0 "$@" >log 2>&1) &
  PIDS+=($!)
  for _ in $(seq 400); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done
  echo "server on $port did not start" >&2; exit 1
}
stop_port() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true; sleep 0.3; }
field() { redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
now() { date +%s.%N; }

python3 - "$KEYS" > "$WORK/fill.resp" <<'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%d" % i
    v = b"value:%010d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
EOF

one_pair() { # name bin diskless(yes|no)
  local name=$1 bin=$2 diskless=$3 mp=$BASE rp=$((BASE + 1))
  start "$bin" "$mp" "$WORK/$name-m" --repl-diskless-sync "$diskless"
  redis-cli -p "$mp" --pipe < "$WORK/fill.resp" >/dev/null
  start "$bin" "$rp" "$WORK/$name-r"
  local t0 t1
  t0=$(now)
  redis-cli -p "$rp" replicaof 127.0.0.1 "$mp" >/dev/null
  local deadline=$((SECONDS + 300))
  while [ $SECONDS -lt $deadline ]; do
    if [ "$(field "$rp" replication master_link_status)" = up ] &&
       [ "$(redis-cli -p "$rp" dbsize)" = "$KEYS" ]; then break; fi
    sleep 0.02
  done
  t1=$(now)
  local sync_s; sync_s=$(echo "$t1 - $t0" | bc -l)
  t0=$(now)
  redis-benchmark -p "$mp" -t set -n 200000 -P 16 -r 1000000 -q >/dev/null 2>&1
  deadline=$((SECONDS + 300))
  while [ $SECONDS -lt $deadline ] &&
        [ "$(field "$mp" replication master_repl_offset)" != "$(field "$rp" replication slave_repl_offset)" ]; do
    sleep 0.01
  done
  t1=$(now)
  local stream_s; stream_s=$(echo "$t1 - $t0" | bc -l)
  printf "%-6s diskless=%-3s full_sync_s=%.3f keys_per_s=%.0f stream_200k_set_s=%.3f sets_per_s=%.0f\n" \
    "$name" "$diskless" "$sync_s" "$(echo "$KEYS / $sync_s" | bc -l)" "$stream_s" "$(echo "200000 / $stream_s" | bc -l)"
  stop_port "$rp"; stop_port "$mp"
}

for r in $(seq "$ROUNDS"); do
  echo "# round $r"
  for d in yes no; do
    one_pair shoal "$SHOAL" "$d"
    one_pair redis "$REDIS" "$d"
  done
done
