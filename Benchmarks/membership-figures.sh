#!/usr/bin/env bash
# Membership figures of real `basalt server` processes started with cluster/up: time from start to
# every node seeing every node up and normal (fresh cluster, then a restart of the whole cluster),
# gossip traffic per node in the steady state, time for every survivor to mark a SIGKILLed node
# down, and time until a restarted node is seen up again (new generation, same host id and tokens).
#
# Usage: Benchmarks/membership-figures.sh [NODES] [ROUNDS] [STEADY_SECONDS]
#   (defaults 5, 1, 60). BASALT_BIN picks the binary (default: the release build, built when
#   missing); nodes run on ${BASALT_CLUSTER_PREFIX:-127.0.0.}1…N in a scratch BASALT_CLUSTER_DIR
#   that is removed at the end. Every node is stopped on exit, also on failure or Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nodes="${1:-5}"
rounds="${2:-1}"
steady="${3:-60}"
export BASALT_CLUSTER_DIR="$(mktemp -d "${TMPDIR:-/tmp}/basalt-figures.XXXXXX")"
cleanup() { "$root/cluster/down" >/dev/null 2>&1 || true; rm -rf "$BASALT_CLUSTER_DIR"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 "$root/Benchmarks/membership_figures.py" "$root" "$nodes" "$rounds" "$steady"
