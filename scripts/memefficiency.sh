#!/usr/bin/env bash
# Bytes per key/element of shoal-server vs redis-server, side by side:
#   strings: N keys of 16 bytes ("k:" + 14 digits) with 32-byte values
#   hash:    H hashes of 1000 fields (field 16 B, value 32 B)  -> B/field
#   zset:    H sorted sets of 1000 members (16 B, integer score) -> B/member
#   set:     H sets of 1000 members (16 B)                     -> B/member
# Each figure is (used_memory or RSS after loading - before) / count,
# loaded with redis-cli --pipe into a fresh server.
#
# With SMALL=1 it measures small collections instead: hash, zset, set and
# intset (integer members 0, 1000, ...) keys of 1, 10 and 100 elements (200,000 / 200,000 / 10,000 keys), the
# sizes where Redis uses listpack/intset-style encodings (key counts K1,
# K10, K100 override those defaults).
#
#   scripts/memefficiency.sh                 # N=1000000 H=100
#   N=200000 scripts/memefficiency.sh
#   SMALL=1 scripts/memefficiency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
H=${H:-100}
SHOAL=${SHOAL_BIN:-./target/release/shoal-server}
SPORT=${SHOAL_PORT:-21711}
RPORT=${REDIS_PORT:-21712}
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$OUT"' EXIT

gen() { # kind [elements per key] -> RESP on stdout
  python3 - "$1" "$N" "$H" "${2:-1000}" <<'EOF'
import sys
kind, n, h, e = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
out = sys.stdout.buffer
def cmd(*a):
    b = [b"*%d\r\n" % len(a)]
    for x in a:
        b.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(b)
val = b"v" * 32
if kind == "strings":
    for i in range(n):
        out.write(cmd(b"SET", b"k:%014d" % i, val))
else:
    for k in range(h):
        key = b"%s:%06d" % (kind.encode(), k)
        for base in range(0, e, 100):
            args = []
            for i in range(base, min(base + 100, e)):
                f = b"f:%014d" % i
                if kind == "hash":
                    args += [f, val]
                elif kind == "zset":
                    args += [b"%d" % i, f]
                elif kind == "intset":
                    args.append(b"%d" % (i * 1000))
                else:
                    args.append(f)
            op = {"hash": b"HSET", "zset": b"ZADD", "set": b"SADD", "intset": b"SADD"}[kind]
            out.write(cmd(op, key, *args))
EOF
}

field() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: -v k="$2" '$1==k{print $2}'; }

measure() { # name binary port kind count [elements per key]
  local dir="$OUT/$1-$4"
  mkdir -p "$dir"
  "$2" --port "$3" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 50); do redis-cli -p "$3" ping >/dev/null 2>&1 && break; sleep 0.1; done
  local u0 r0 u1 r1
  u0=$(field "$3" used_memory); r0=$(field "$3" used_memory_rss)
  gen "$4" "${6:-1000}" | redis-cli -p "$3" --pipe >/dev/null
  sleep ${SETTLE:-1}
  u1=$(field "$3" used_memory); r1=$(field "$3" used_memory_rss)
  printf '%-6s %-8s x%-5s used %7.1f B  rss %7.1f B  (count %d, used_memory %d)\n' "$1" "$4" "${6:-1000}" \
    "$(echo "($u1-$u0)/$5" | bc -l)" "$(echo "($r1-$r0)/$5" | bc -l)" "$5" "$u1"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

if [ -n "${SMALL:-}" ]; then
  for kind in hash zset set intset; do
    for e in 1 10 100; do
      H=${K1:-200000}
      [ "$e" = 10 ] && H=${K10:-200000}
      [ "$e" = 100 ] && H=${K100:-10000}
      measure shoal "$SHOAL" "$SPORT" "$kind" $((H * e)) "$e"
      measure redis redis-server "$RPORT" "$kind" $((H * e)) "$e"
    done
  done
  exit 0
fi

for kind in strings hash zset set; do
  count=$N
  [ "$kind" = strings ] || count=$((H * 1000))
  measure shoal "$SHOAL" "$SPORT" "$kind" "$count"
  measure redis redis-server "$RPORT" "$kind" "$count"
done
