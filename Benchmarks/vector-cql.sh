#!/usr/bin/env bash
# Vector search through CQL: the real Python cassandra-driver (3.30, the repo's .venv) against real
# `basalt server` processes started with cluster/up, first a 1-node cluster, then a 3-node cluster
# (replication factor = nodes, or RF, SimpleStrategy), each on loopback addresses 127.0.9.1…N in a scratch
# BASALT_CLUSTER_DIR that is removed at the end. Every node is stopped on exit, also on failure or
# Ctrl-C.
#
# Data (made by Benchmarks/vector_cql.py with numpy's default_rng and a fixed seed): COUNT rows
# (default 50,000) of DIM dimensions (default 128), each a uniformly chosen one of 100 centres
# (4 * standard normal) plus standard normal noise, float32; 200 queries from the same distribution;
# the exact 10 nearest rows of each query by brute force (squared euclidean in float64).
#
# For each cluster:
# 1. Inserts. `CREATE TABLE vcql.t (id int PRIMARY KEY, v vector<float, DIM>)` and
#    `CREATE CUSTOM INDEX … USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function':
#    'euclidean'}` before any row (the default graph: M 16, ef_construction 100), then every row with
#    a prepared INSERT through execute_concurrent_with_args, 64 requests in flight (INSERT_WINDOW),
#    at ONE on 1 node and QUORUM on 3 nodes. Reported: rows/s over the wall time of all inserts.
# 2. recall@10 at ONE, and at QUORUM on 3 nodes: each of the 200 queries once through the prepared
#    `SELECT id FROM vcql.t ORDER BY v ANN OF ? LIMIT 10` (8 in flight); recall@10 = the returned ids
#    that are among the exact 10 nearest, over 10 * 200. This pass is also the level's warm-up.
# 3. ANN queries/second at the same levels: a closed loop keeping C of those queries in flight (C = 1
#    and 16, CONCURRENCY), each completion issuing the next (cycling over the 200 queries) for
#    LOOP_SECONDS (default 10) seconds; qps = completed queries / wall time, p50/p99 latency from
#    execute_async to the completion callback.
# The driver uses token-aware routing over round robin (the ANN queries have no routing key, so they
# go round robin over the nodes), no retries (a failure is counted, never hidden), tuple rows.
#
# Who is the bottleneck: the driver is Python and costs CPU on the same machine as the nodes. For
# each insert phase and each closed loop the script also reports the CPU time of the client process
# (getrusage), of the nodes (/proc/PID/stat) and of the rest of the machine (/proc/stat minus
# both), as %core = CPU seconds / wall seconds * 100 (100 = one core busy). A client near 100 %core
# is limited by Python (one interpreter, one core at a time), not by Basalt. The driver opens one
# connection to each node, and Basalt runs one connection's statements on that connection's event
# loop thread (docs/cql.md), so a 1-node run exercises one server core whatever C is; more client
# processes would use more.
#
# Output: progress on stderr, then a summary table and lines such as
#   vector-cql: nodes=3 insert_rows_per_s=R cl=QUORUM rows=… failures=… client_cpu_pct=… nodes_cpu_pct=…
#   vector-cql: nodes=3 cl=QUORUM concurrency=16 qps=Q p50_ms=… p99_ms=… recall@10=… errors=… …
#
#   Benchmarks/vector-cql.sh [BASALT]   # default .build/release/basalt, built when missing
#   COUNT=50000 DIM=128 QUERIES=200 LOOP_SECONDS=10 CONCURRENCY=1,16 INSERT_WINDOW=64 CLUSTERS="1 3"
#   RUN_TIMEOUT=3600 (seconds for one client run; inserts alone stop after 1800 s)
#   RF=1: the keyspace's replication factor for every cluster (default: its number of nodes); at
#   RF 1 only ONE is measured, and the rows are split between the nodes.
#   ROUTINGS="per_replica per_range" ROUNDS=2: after its own run, each multi-node cluster is
#   restarted ROUNDS times with each vector_search_routing in turn and queried again on the same
#   rows (steps 2 and 3, no inserts), so the routings are compared on the same data and indexes,
#   interleaved in time; the summary labels those runs by routing.
# The driver and numpy come from the repo's .venv (scripts/deps --python makes it when missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

COUNT="${COUNT:-50000}"
DIM="${DIM:-128}"
QUERIES="${QUERIES:-200}"
LOOP_SECONDS="${LOOP_SECONDS:-10}"
CONCURRENCY="${CONCURRENCY:-1,16}"
INSERT_WINDOW="${INSERT_WINDOW:-64}"
CLUSTERS="${CLUSTERS:-1 3}"
RUN_TIMEOUT="${RUN_TIMEOUT:-3600}"
ROUTINGS="${ROUTINGS:-}"
ROUNDS="${ROUNDS:-1}"
[[ -z "${RF:-}" || "$RF" =~ ^[1-9]$ ]] || { echo "RF must be a replication factor 1…9, not '$RF'" >&2; exit 2; }
for routing in $ROUTINGS; do
    [[ "$routing" == per_replica || "$routing" == per_range ]] || { echo "ROUTINGS lists per_replica and per_range, not '$routing'" >&2; exit 2; }
done
for name in COUNT DIM QUERIES INSERT_WINDOW RUN_TIMEOUT ROUNDS; do
    [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || { echo "$name must be a positive integer, not '${!name}'" >&2; exit 2; }
done
[[ "$LOOP_SECONDS" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "LOOP_SECONDS must be a number of seconds" >&2; exit 2; }
[[ "$CONCURRENCY" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "CONCURRENCY must be like 1,16" >&2; exit 2; }
for n in $CLUSTERS; do
    [[ "$n" =~ ^[1-9]$ ]] || { echo "CLUSTERS must list node counts 1…9, not '$n'" >&2; exit 2; }
done

if [[ $# -ge 1 ]]; then
    basalt="$1"
    [[ -x "$basalt" ]] || { echo "$basalt: not an executable" >&2; exit 2; }
else
    basalt=".build/release/basalt"
    [[ -x "$basalt" ]] || swift build -c release --product basalt >&2
fi
basalt="$(cd "$(dirname "$basalt")" && pwd)/$(basename "$basalt")"

py="$root/.venv/bin/python"
driver_ok() { "$py" -c 'import cassandra, numpy, sys; sys.exit(0 if cassandra.__version__.startswith("3.30") else 1)' 2>/dev/null; }
if ! driver_ok; then
    "$root/scripts/deps" --python >&2
    if ! "$py" -c 'import numpy' 2>/dev/null; then "$root/.venv/bin/pip" install -q --disable-pip-version-check 'numpy>=1.26' >&2; fi
    driver_ok || { echo "$root/.venv has no cassandra-driver 3.30 with numpy" >&2; exit 1; }
fi

export BASALT_BIN="$basalt"
export BASALT_CLUSTER_PREFIX="127.0.9."
work="$(mktemp -d "${TMPDIR:-/tmp}/basalt-vector-cql.XXXXXX")"
current=""  # the cluster directory whose nodes may be running
child=""    # the benchmark client while it runs
cleanup() {
    local rc=$?
    if [[ -n "$child" ]]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    if [[ -n "$current" ]]; then
        if [[ $rc -ne 0 ]]; then
            for log in "$current"/node*/basalt.log; do
                [[ -f "$log" ]] && { echo "--- last lines of $log" >&2; tail -n 15 "$log" >&2; }
            done
        fi
        BASALT_CLUSTER_DIR="$current" "$root/cluster/down" >&2 || true
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Nothing else may answer on the addresses the nodes will use.
for n in $CLUSTERS; do
    for i in $(seq 1 "$n"); do
        for port in 9042 7000 7199; do
            if (exec 3<>"/dev/tcp/${BASALT_CLUSTER_PREFIX}$i/$port") 2>/dev/null; then
                echo "${BASALT_CLUSTER_PREFIX}$i:$port is already in use; stop whatever listens there first" >&2
                exit 1
            fi
        done
    done
done

# One run of the client against the running n-node cluster: run_client N OUT [ARGS…]. In the
# background and waited for, so that a signal to this script stops it at once (the trap sends
# `timeout` SIGTERM, which passes it on to the client).
run_client() {
    local n="$1" out="$2"
    shift 2
    timeout --kill-after=30 "$RUN_TIMEOUT" \
        "$py" "$root/Benchmarks/vector_cql.py" run --nodes "$n" --addresses "$addresses" --cluster-dir "$current" \
        --count "$COUNT" --dim "$DIM" --queries "$QUERIES" --seconds "$LOOP_SECONDS" --concurrency "$CONCURRENCY" \
        --insert-window "$INSERT_WINDOW" --replication-factor "${RF:-$n}" --out "$out" "$@" &
    child=$!
    local rc=0
    wait "$child" || rc=$?
    child=""
    [[ $rc -eq 0 ]] || { echo "the $n-node run failed (exit $rc)" >&2; exit "$rc"; }
    results+=("$out")
}

echo "# basalt: $basalt" >&2
echo "# machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
results=()
for n in $CLUSTERS; do
    current="$work/cluster$n"
    mkdir -p "$current"
    export BASALT_CLUSTER_DIR="$current"
    echo "# starting a $n-node cluster on ${BASALT_CLUSTER_PREFIX}1…$n" >&2
    "$root/cluster/up" "$n" >&2
    addresses="$(seq -s, -f "${BASALT_CLUSTER_PREFIX}%g" 1 "$n")"
    run_client "$n" "$work/result$n.json" --label "${ROUTINGS:+default}"
    for round in $(seq 1 "$ROUNDS"); do
        [[ $n -gt 1 ]] || break
        for routing in $ROUTINGS; do
            echo "# restarting the $n-node cluster with vector_search_routing: $routing (round $round)" >&2
            "$root/cluster/down" >&2
            BASALT_CLUSTER_EXTRA_CONFIG="${BASALT_CLUSTER_EXTRA_CONFIG:+$BASALT_CLUSTER_EXTRA_CONFIG
}vector_search_routing: $routing" "$root/cluster/up" "$n" >&2
            run_client "$n" "$work/result$n-$routing-$round.json" --reuse --label "$routing"
        done
    done
    problems="$(cat "$current"/node*/basalt.log | grep -ciE '\b(error|critical|fatal)\b' || true)"
    echo "# $n-node cluster: $problems log lines mention an error" >&2
    "$root/cluster/down" >&2
    current=""
done
"$py" "$root/Benchmarks/vector_cql.py" summary "${results[@]}"
