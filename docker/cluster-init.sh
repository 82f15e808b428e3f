#!/bin/sh
# One-shot cluster creation for docker-compose.yml (runs in the shoal image).
#   cluster-init.sh REPLICAS ip:port ip:port ...
# Waits until every node answers PING, then runs redis-cli --cluster create
# unless the cluster already exists (a restarted compose project keeps its
# nodes.conf in the volumes, so creating again would fail), and finally
# waits for cluster_state:ok and prints redis-cli --cluster check.
set -e
replicas=$1
shift
first=$1
for node in "$@"; do
  tries=0
  until [ "$(redis-cli -h "${node%:*}" -p "${node##*:}" ping 2>/dev/null)" = PONG ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 240 ]; then echo "cluster-init: $node does not answer" >&2; exit 1; fi
    sleep 0.5
  done
done
info=$(redis-cli -h "${first%:*}" -p "${first##*:}" cluster info)
case "$info" in
  *cluster_slots_assigned:0[!0-9]*)
    echo "cluster-init: creating the cluster ($# nodes, $replicas replica(s) per master)"
    redis-cli --cluster create "$@" --cluster-replicas "$replicas" --cluster-yes
    ;;
  *) echo "cluster-init: slots already assigned, cluster exists" ;;
esac
tries=0
until case "$(redis-cli -h "${first%:*}" -p "${first##*:}" cluster info)" in *cluster_state:ok*) true ;; *) false ;; esac; do
  tries=$((tries + 1))
  if [ "$tries" -gt 120 ]; then echo "cluster-init: cluster_state is not ok" >&2; exit 1; fi
  sleep 0.5
done
redis-cli --cluster check "$first"
echo "cluster-init: cluster ready"
