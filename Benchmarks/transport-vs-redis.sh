#!/usr/bin/env bash
# Measures `basalt bench transport` and, for scale, Redis answering redis-benchmark on the same
# machine, back to back, ROUNDS times (the machine is shared, so figures vary between rounds).
#
# Needs a release build (swift build -c release --product basalt) and, for the Redis part,
# redis-server and redis-tools (apt-get install redis-server redis-tools). The Redis server this
# script starts listens on 127.0.1.210:6390 only and is stopped on exit.
#
# Usage: Benchmarks/transport-vs-redis.sh [BASALT_BINARY] [ROUNDS] [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
basalt="${1:-$root/.build/release/basalt}"
rounds="${2:-3}"
seconds="${3:-5}"
requests=$((400000 * seconds / 5))

redis_pid=""
cleanup() { if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    redis-server --bind 127.0.1.210 --port 6390 --save '' --appendonly no --daemonize no \
        --logfile /dev/null >/dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do redis-cli -h 127.0.1.210 -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

for round in $(seq "$rounds"); do
    echo "== round $round ($(cut -d' ' -f1-3 /proc/loadavg) load average)"
    if [ -n "$redis_pid" ]; then
        echo "-- redis-benchmark GET, 32-byte values: 1 connection; 50 connections; 50 connections -P 16"
        redis-cli -h 127.0.1.210 -p 6390 set key:__rand_int__ x >/dev/null
        redis-benchmark -h 127.0.1.210 -p 6390 -c 1 -n $((requests / 4)) -d 32 -t get -q | tr '\r' '\n' | grep -v '^$' | tail -1
        redis-benchmark -h 127.0.1.210 -p 6390 -c 50 -n "$requests" -d 32 -t get -q | tr '\r' '\n' | grep -v '^$' | tail -1
        redis-benchmark -h 127.0.1.210 -p 6390 -c 50 -n $((requests * 4)) -P 16 -d 32 -t get -q | tr '\r' '\n' | grep -v '^$' | tail -1
    fi
    echo "-- basalt bench transport"
    "$basalt" bench transport --seconds "$seconds"
done
