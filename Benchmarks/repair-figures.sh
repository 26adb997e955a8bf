#!/usr/bin/env bash
# Repair figures on a local 3-node cluster (127.0.5.191-193, release build, RF 3, hinted handoff
# off): KEYS rows of VALUE_BYTES are written at ALL and flushed; node 3 is killed, its SSTables and
# commit log deleted (identity kept) and restarted; then `basalt admin repair` through node 3 is
# timed: validation on the three nodes, then the differing ranges streamed to node 3 from both
# others. Prints the repair's last report and the streaming rate over the whole repair.
#
#   Benchmarks/repair-figures.sh                      # 100,000 rows of 1,000 bytes
#   KEYS=300000 Benchmarks/repair-figures.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
SCRATCH="${SCRATCH:-.build}"
KEYS="${KEYS:-100000}"
VALUE_BYTES="${VALUE_BYTES:-1000}"

swift build -c release --scratch-path "$SCRATCH" --product basalt >/dev/null
export BASALT_BIN="${BASALT_BIN:-$root/$SCRATCH/release/basalt}"
export BASALT_CLUSTER_PREFIX=127.0.5.19
export BASALT_CLUSTER_DIR="$(mktemp -d /tmp/basalt-repair-bench.XXXXXX)"
export BASALT_CLUSTER_EXTRA_CONFIG="hinted_handoff_enabled: false"
trap 'cluster/down >/dev/null 2>&1 || true; rm -rf "$BASALT_CLUSTER_DIR"' EXIT
n1=127.0.5.191 n2=127.0.5.192 n3=127.0.5.193

cluster/up 3 >/dev/null
echo "== $KEYS writes of $VALUE_BYTES bytes at ALL (RF 3)"
"$BASALT_BIN" bench cql --hosts "$n1,$n2,$n3" --replication-factor 3 --consistency ALL --keys "$KEYS" --ops "$KEYS" \
    --value-bytes "$VALUE_BYTES" --workloads write --latency-fraction 0 --warmup-seconds 0 | grep -E "write|ops" | head -3
for n in $n1 $n2 $n3; do "$BASALT_BIN" admin flush --host "$n" >/dev/null; done
echo "== node 3 loses its data"
cluster/kill 3 >/dev/null
rm -rf "$BASALT_CLUSTER_DIR/node3/data/data/bench" "$BASALT_CLUSTER_DIR/node3/data/commitlog"
cluster/start 3 >/dev/null
echo "== repair through node 3"
start=$(date +%s.%N)
out=$("$BASALT_BIN" admin repair bench --host "$n3")
end=$(date +%s.%N)
echo "$out" | tail -2
bytes=$(echo "$out" | tail -1 | sed -E 's/.* ([0-9]+) bytes streamed.*/\1/')
awk -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN { t = e - s; printf "repair: %.1f s, %.1f MB streamed, %.1f MB/s over the whole repair\n", t, b / 1e6, b / 1e6 / t }'
