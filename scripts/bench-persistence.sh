#!/usr/bin/env bash
# Persistence side by side, shoal-server vs redis-server on this machine:
#  1. SET throughput (redis-benchmark -c CLIENTS) with appendonly yes and
#     appendfsync always, then everysec; rounds alternate between servers.
#  2. With KEYS keys loaded (DEBUG POPULATE in Redis, a pipelined SET load
#     in Shoal, same key/value sizes): BGSAVE time and BGREWRITEAOF time
#     (wall clock from the command until INFO says the child is done).
#  3. Start-up load time of the dump.rdb and of the appendonly dir (time
#     from process start until PING answers, minus an empty start).
# Prints one line per figure and the shoal/redis ratio.
#
#   scripts/bench-persistence.sh
#   ROUNDS=3 REQUESTS=100000 CLIENTS=50 KEYS=1000000 PORT_BASE=14100 scripts/bench-persistence.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
KEYS=${KEYS:-1000000}
PORT_BASE=${PORT_BASE:-14100}
SHOAL=${SHOAL_BIN:-./target/release/shoal-server}
REDIS=${REDIS_BIN:-redis-server}
[ -x "$SHOAL" ] || cargo build --release
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# start NAME BIN PORT DIR ARGS... ; sets LAST_PID
start() {
  local name=$1 bin=$2 port=$3 dir=$4
  shift 4
  mkdir -p "$dir"
  "$bin" --port "$port" --bind 127.0.0.1 --save "" --dir "$dir" --enable-debug-command yes "$@" \
    >"$dir/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  for _ in $(seq 1 3000); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.01
  done
  echo "$name did not start" >&2
  exit 1
}

stop() { # port pid
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
  wait "$2" 2>/dev/null || true
}

wait_field() { # port field value
  for _ in $(seq 1 60000); do
    redis-cli -p "$1" info persistence | tr -d '\r' | grep -q "^$2:$3\$" && return 0
    sleep 0.01
  done
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# 1. Write throughput.
for policy in always everysec; do
  for name in shoal redis; do : >"$OUT/$name-$policy.rps"; done
  for r in $(seq 1 "$ROUNDS"); do
    for name in shoal redis; do
      bin=$SHOAL; port=$PORT_BASE
      [ "$name" = redis ] && bin=$REDIS && port=$((PORT_BASE + 1))
      dir="$OUT/tp-$name-$policy-$r"
      start "$name" "$bin" "$port" "$dir" --appendonly yes --appendfsync "$policy"
      pid=$LAST_PID
      redis-benchmark -p "$port" -t set -n "$REQUESTS" -c "$CLIENTS" -r 100000 --csv 2>/dev/null |
        tail -n +2 | tr -d '"' | cut -d, -f2 >>"$OUT/$name-$policy.rps"
      stop "$port" "$pid"
      rm -rf "$dir"
    done
  done
  s=$(median <"$OUT/shoal-$policy.rps"); r=$(median <"$OUT/redis-$policy.rps")
  echo "SET -c $CLIENTS appendfsync $policy: shoal $s rps, redis $r rps, ratio $(ratio "$s" "$r")"
done

# 2. BGSAVE and BGREWRITEAOF of KEYS keys; 3. load times.
empty_start() { # name bin port
  local t0 dir="$OUT/empty-$1"
  t0=$(now_ms)
  start "$1" "$2" "$3" "$dir"
  echo $(($(now_ms) - t0))
  stop "$3" "$LAST_PID"
}
declare -A FIG
for name in shoal redis; do
  bin=$SHOAL; port=$((PORT_BASE + 2))
  [ "$name" = redis ] && bin=$REDIS && port=$((PORT_BASE + 3))
  dir="$OUT/big-$name"
  start "$name" "$bin" "$port" "$dir" --appendonly yes --appendfsync everysec
  pid=$LAST_PID
  # Same data for both: key:N -> value:N (DEBUG POPULATE's shape).
  awk -v n="$KEYS" 'BEGIN { for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\nvalue:%d\r\n", length("key:" i), i, length("value:" i), i }' |
    redis-cli -p "$port" --pipe >/dev/null
  t0=$(now_ms); redis-cli -p "$port" bgsave >/dev/null
  sleep 0.05; wait_field "$port" rdb_bgsave_in_progress 0
  FIG[$name-bgsave]=$(($(now_ms) - t0))
  t0=$(now_ms); redis-cli -p "$port" bgrewriteaof >/dev/null
  sleep 0.05; wait_field "$port" aof_rewrite_in_progress 0
  FIG[$name-rewrite]=$(($(now_ms) - t0))
  stop "$port" "$pid"
  base=$(empty_start "$name" "$bin" "$port")
  t0=$(now_ms); start "$name" "$bin" "$port" "$dir" --appendonly no
  FIG[$name-loadrdb]=$(($(now_ms) - t0 - base))
  redis-cli -p "$port" dbsize | grep -q "^$KEYS\$" || echo "warning: $name loaded $(redis-cli -p "$port" dbsize) keys from the RDB" >&2
  stop "$port" "$LAST_PID"
  t0=$(now_ms); start "$name" "$bin" "$port" "$dir" --appendonly yes
  FIG[$name-loadaof]=$(($(now_ms) - t0 - base))
  stop "$port" "$LAST_PID"
  # Start-up from an AOF made of commands only (no RDB preamble).
  rm -rf "$dir/appendonlydir"
  start "$name" "$bin" "$port" "$dir" --appendonly no
  redis-cli -p "$port" config set aof-use-rdb-preamble no >/dev/null
  redis-cli -p "$port" config set appendonly yes >/dev/null
  sleep 0.05; wait_field "$port" aof_rewrite_in_progress 0
  stop "$port" "$LAST_PID"
  t0=$(now_ms); start "$name" "$bin" "$port" "$dir" --appendonly yes
  FIG[$name-loadaofcmds]=$(($(now_ms) - t0 - base))
  stop "$port" "$LAST_PID"
  rm -rf "$dir"
done
for f in bgsave rewrite loadrdb loadaof loadaofcmds; do
  echo "$KEYS keys $f: shoal ${FIG[shoal-$f]} ms, redis ${FIG[redis-$f]} ms, ratio $(ratio "${FIG[shoal-$f]}" "${FIG[redis-$f]}")"
done
