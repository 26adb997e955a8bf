#!/usr/bin/env bash
# Coordination figures on a local 3-node cluster (${PREFIX}1-3, default 127.0.9.1-3, release build): write and read
# throughput and latency percentiles at ONE and QUORUM through `basalt bench cql` (RF 3, token-aware
# BasaltClient), then the hint replay rate: node 3 is killed, HINT_KEYS writes at ONE are hinted on
# nodes 1 and 2, node 3 is restarted and the time until no hint is pending is measured.
#
#   Benchmarks/cluster-coordination.sh                  # 10 s per run
#   SECONDS_PER_RUN=20 HINT_KEYS=200000 Benchmarks/cluster-coordination.sh
#   THROTTLE_KIB=1048576 PARTS=hints Benchmarks/cluster-coordination.sh   # hint replay only, without the default throttle
#   PREFIX=127.0.14. BASALT_BIN=.build-x/release/basalt Benchmarks/cluster-coordination.sh  # other addresses, no build
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
SCRATCH="${SCRATCH:-.build}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
HINT_KEYS="${HINT_KEYS:-100000}"
THROTTLE_KIB="${THROTTLE_KIB:-1024}"
KEYS="${KEYS:-100000}"
CONCURRENCY="${CONCURRENCY:-128}"
PARTS="${PARTS:-throughput,hints}"
PREFIX="${PREFIX:-127.0.9.}"

if [ -n "${BASALT_BIN:-}" ]; then
    export BASALT_BIN="$(cd "$(dirname "$BASALT_BIN")" && pwd)/$(basename "$BASALT_BIN")"
else
    swift build -c release --scratch-path "$SCRATCH" --product basalt >/dev/null
    export BASALT_BIN="$root/$SCRATCH/release/basalt"
fi
export BASALT_CLUSTER_PREFIX="$PREFIX"
export BASALT_CLUSTER_DIR="$(mktemp -d /tmp/basalt-coordination-bench.XXXXXX)"
export BASALT_CLUSTER_EXTRA_CONFIG="hinted_handoff_throttle_in_kb: $THROTTLE_KIB"
trap 'cluster/down >/dev/null 2>&1 || true; rm -rf "$BASALT_CLUSTER_DIR"' EXIT
hosts=${PREFIX}1,${PREFIX}2,${PREFIX}3

cluster/up 3 >/dev/null
if [[ ",$PARTS," == *",throughput,"* ]]; then
echo "== cluster of 3 on $hosts, RF 3, $KEYS keys, 100-byte values, $CONCURRENCY in flight, ${SECONDS_PER_RUN}s per run"
for cl in ONE QUORUM; do
    "$BASALT_BIN" bench cql --hosts "$hosts" --replication-factor 3 --consistency "$cl" --keys "$KEYS" \
        --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_RUN" --workloads write,read
done
fi
[[ ",$PARTS," == *",hints,"* ]] || exit 0

metric() {  # metric HOST NAME
    curl -s "http://$1:7199/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
pending() { echo $(( $(metric ${PREFIX}1 basalt_hints_pending | cut -d. -f1) + $(metric ${PREFIX}2 basalt_hints_pending | cut -d. -f1) )); }

echo "== hint replay: node 3 down, $HINT_KEYS writes at ONE, node 3 back (throttle ${THROTTLE_KIB} KiB/s per target)"
cluster/kill 3 >/dev/null
sleep 1
"$BASALT_BIN" bench cql --hosts ${PREFIX}1,${PREFIX}2 --replication-factor 3 --consistency ONE --keyspace hintbench \
    --keys "$HINT_KEYS" --ops "$HINT_KEYS" --concurrency "$CONCURRENCY" --workloads write --latency-fraction 0 --warmup-seconds 0 | grep -v '^$'
hints=$(pending)
echo "hints pending on nodes 1 and 2: $hints"
cluster/start 3 >/dev/null &
starter=$!
# Delivery starts when nodes 1 and 2 see node 3 up: time from the first delivered batch to the last.
start=""
deadline=$(( $(date +%s) + 600 ))
while :; do
    left=$(pending)
    [ -z "$start" ] && [ "$left" -lt "$hints" ] && start=$(date +%s.%N)
    [ "$left" -eq 0 ] && break
    [ "$(date +%s)" -lt "$deadline" ] || { echo "hints still pending after 600 s: $left"; exit 1; }
    sleep 0.05
done
end=$(date +%s.%N)
wait "$starter"
replayed=$(( $(metric ${PREFIX}1 basalt_hints_replayed_total | cut -d. -f1) + $(metric ${PREFIX}2 basalt_hints_replayed_total | cut -d. -f1) ))
bytes=$(( $(metric ${PREFIX}1 basalt_hints_replayed_bytes_total | cut -d. -f1) + $(metric ${PREFIX}2 basalt_hints_replayed_bytes_total | cut -d. -f1) ))
awk -v h="$replayed" -v b="$bytes" -v s="${start:-$end}" -v e="$end" 'BEGIN {
    d = e - s; if (d <= 0) d = 0.001
    printf "replayed %d hints (%.1f MB) in %.2f s: %.0f hints/s, %.2f MB/s\n", h, b / 1e6, d, h / d, b / 1e6 / d }'
