#!/usr/bin/env bash
# Resharding throughput, shoal-server vs redis-server on the same workload:
# a 3-master cluster of one kind, KEYS string keys spread over all slots,
# then `redis-cli --cluster reshard` moves all of node 1's slots (5461) to
# node 2; we time it and report keys/s. Kinds alternate for ROUNDS rounds
# (the machine is shared: compare the ratio, not the absolute numbers).
#   scripts/reshard-bench.sh [path/to/shoal-server]
# Env: KEYS (100000), ROUNDS (2), BASE port (15100; uses BASE+1..BASE+3 and
# their bus ports +10000), TIMEOUT node timeout ms (5000), PIPELINE (10).
set -euo pipefail
SHOAL=${1:-./target/release/shoal-server}
KEYS=${KEYS:-100000}; ROUNDS=${ROUNDS:-2}; BASE=${BASE:-15100}
TIMEOUT=${TIMEOUT:-5000}; PIPELINE=${PIPELINE:-10}
WORK=$(mktemp -d /tmp/reshard-bench.XXXXXX)
PIDS=()
cleanup() { stop_cluster 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

start_cluster() { # kind
  local bin=$SHOAL; [ "$1" = redis ] && bin=$(command -v redis-server)
  PIDS=()
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
  for _ in $(seq 100); do
    redis-cli -p $((BASE + 1)) cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1
  done
}

load_keys() { # one pipe per node, keys routed by slot
  python3 - "$KEYS" "$BASE" "$WORK" <<'PY'
import sys
n, base, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def crc16(b):
    c = 0
    for x in b:
        c ^= x << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
            c &= 0xFFFF
    return c
out = {i: open(f"{work}/load-{i}.resp", "wb") for i in (1, 2, 3)}
for k in range(n):
    key = b"key:%d" % k
    slot = crc16(key) % 16384
    node = 1 if slot <= 5460 else (2 if slot <= 10922 else 3)
    val = b"value-%d" % k
    out[node].write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))
for f in out.values():
    f.close()
PY
  for i in 1 2 3; do redis-cli -p $((BASE + i)) --pipe < "$WORK/load-$i.resp" >/dev/null; done
}

one_round() { # kind
  start_cluster "$1"
  load_keys
  local moved from to t0 t1
  moved=$(redis-cli -p $((BASE + 1)) dbsize)
  from=$(redis-cli -p $((BASE + 1)) cluster myid); to=$(redis-cli -p $((BASE + 2)) cluster myid)
  t0=$(date +%s.%N)
  redis-cli --cluster reshard 127.0.0.1:$((BASE + 1)) --cluster-from "$from" --cluster-to "$to" \
    --cluster-slots 5461 --cluster-yes --cluster-pipeline "$PIPELINE" >"$WORK/reshard.out" 2>&1
  t1=$(date +%s.%N)
  local left; left=$(redis-cli -p $((BASE + 1)) dbsize)
  [ "$left" = 0 ] || { echo "$1: $left keys left on the source"; tail "$WORK/reshard.out"; exit 1; }
  python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); print(f'$1 moved $moved keys / 5461 slots in {t:.2f} s: {$moved/t:.0f} keys/s')" "$t0" "$t1"
  stop_cluster
}

stop_cluster() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=(); sleep 0.5
}

for r in $(seq "$ROUNDS"); do
  one_round redis
  one_round shoal
done
