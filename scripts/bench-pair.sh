# Sourced by the side-by-side benchmarks: start shoal-server ($SHOAL on
# $SPORT) and redis-server (on $RPORT) without persistence, data in $OUT,
# stop both and remove $OUT on exit, and wait until both answer PING.
start_pair() {
  "$SHOAL" --port "$SPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" >"$OUT/shoal.log" 2>&1 &
  SPID=$!
  redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" >"$OUT/redis.log" 2>&1 &
  RPID=$!
  trap 'kill $SPID $RPID 2>/dev/null || true; wait $SPID $RPID 2>/dev/null || true; rm -rf "$OUT"' EXIT
  for p in "$SPORT" "$RPORT"; do
    for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
