#!/usr/bin/env bash
# YCSB workloads on local clusters (release build): for each cluster size and workload, the load
# phase, a closed-loop run for the peak rate, then an open-loop run at half of that peak with latency
# taken from each operation's intended start (no coordinated omission). One node at ONE (RF 1), three
# nodes at QUORUM (RF 3); nodes on ${PREFIX}1…3.
#
#   Benchmarks/ycsb.sh                                   # workloads a,c; 100,000 records; 20 s runs
#   WORKLOADS=a,b,c,f RECORDS=500000 SECONDS_PER_RUN=30 Benchmarks/ycsb.sh
#   SIZES=3 Benchmarks/ycsb.sh                            # only the 3-node cluster
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
SCRATCH="${SCRATCH:-.build}"
PREFIX="${PREFIX:-127.0.15.}"
WORKLOADS="${WORKLOADS:-a,c}"
RECORDS="${RECORDS:-100000}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
CONCURRENCY="${CONCURRENCY:-64}"
SIZES="${SIZES:-1,3}"

swift build -c release --scratch-path "$SCRATCH" --product basalt >/dev/null
export BASALT_BIN="$root/$SCRATCH/release/basalt"
export BASALT_CLUSTER_PREFIX="$PREFIX"
work="$(mktemp -d /tmp/basalt-ycsb-bench.XXXXXX)"
export BASALT_CLUSTER_DIR="$work/cluster"
trap 'cluster/down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

field() {  # field JSON PHASE-INDEX EXPR: a figure of one phase of a summary
    python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); p = s["phases"][int(sys.argv[2])]; print(eval(sys.argv[3], {}, {"p": p}))' "$@"
}

echo "== YCSB on $(nproc) cores, $(date -u +%Y-%m-%d), $RECORDS records, $CONCURRENCY in flight at peak, ${SECONDS_PER_RUN} s runs"
printf '%-7s %-8s %-7s %12s %12s %9s %9s %9s\n' nodes workload level "peak ops/s" "half ops/s" p50 p99 p99.9
for n in ${SIZES//,/ }; do
    rf=$(( n < 3 ? n : 3 ))
    level=$([ "$n" -ge 3 ] && echo QUORUM || echo ONE)
    hosts="$(seq -s, -f "${PREFIX}%g" 1 "$n")"
    cluster/up "$n" >/dev/null
    for w in ${WORKLOADS//,/ }; do
        ks="ycsb_${w}_$n"
        common=(--hosts "$hosts" --workload "$w" --records "$RECORDS" --keyspace "$ks" --replication-factor "$rf"
                --read-consistency "$level" --write-consistency "$level" --concurrency "$CONCURRENCY" --quiet)
        "$BASALT_BIN" bench ycsb "${common[@]}" --phases load,run --seconds "$SECONDS_PER_RUN" \
            --json-file "$work/peak.json" > "$work/peak.txt"
        peak=$(field "$work/peak.json" 1 'round(p["opsPerSecond"])')
        half=$(( peak / 2 ))
        "$BASALT_BIN" bench ycsb "${common[@]}" --phases run --seconds "$SECONDS_PER_RUN" --target "$half" \
            --json-file "$work/half.json" > "$work/half.txt"
        read -r done p50 p99 p999 errors < <(field "$work/half.json" 0 \
            '"%.0f %.2f %.2f %.2f %d" % (p["opsPerSecond"], p["overall"]["p50"], p["overall"]["p99"], p["overall"]["p999"], p["overall"]["errors"])')
        printf '%-7s %-8s %-7s %12s %12s %7sms %7sms %7sms%s\n' "$n" "$w" "$level" "$peak" "$done" "$p50" "$p99" "$p999" \
            "$([ "$errors" -gt 0 ] && echo "  ($errors errors)" || true)"
    done
    cluster/down >/dev/null
    rm -rf "$BASALT_CLUSTER_DIR"
done
