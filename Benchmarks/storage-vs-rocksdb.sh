#!/usr/bin/env bash
# Runs `basalt bench storage` and RocksDB's db_bench (Debian's rocksdb-tools) on the same workloads,
# one after the other on this machine, and prints Basalt/RocksDB throughput ratios and peak memory.
#
# Workloads: fillrandom, readrandom, seekrandom; NUM keys (default 1,000,000) of 16 bytes, 100-byte
# values (half compressible), Snappy on, one thread, write-ahead log on without per-write fsync.
# Both use 4 KiB blocks/chunks and an 8 MiB block/chunk cache (db_bench's defaults).
#
#   Benchmarks/storage-vs-rocksdb.sh            # builds the release binary first
#   NUM=200000 SCRATCH=.build-storage Benchmarks/storage-vs-rocksdb.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
NUM="${NUM:-1000000}"
SCRATCH="${SCRATCH:-.build-release}"
command -v db_bench >/dev/null || { echo "db_bench not found: apt-get install rocksdb-tools" >&2; exit 1; }

swift build -c release --scratch-path "$SCRATCH" --product basalt >/dev/null
bin="$SCRATCH/release/basalt"
work="$(mktemp -d /tmp/basalt-vs-rocksdb.XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "== basalt bench storage"
/usr/bin/time -v "$bin" bench storage --num "$NUM" --chunk-kib 4 --cache-mib 8 --dir "$work/basalt" \
    --benchmarks fillrandom,readrandom,seekrandom,stats,waitcompaction,stats 2>"$work/basalt.time" | tee "$work/basalt.out"
echo "== db_bench"
/usr/bin/time -v db_bench --benchmarks=fillrandom,readrandom,seekrandom --num="$NUM" --key_size=16 --value_size=100 \
    --compression_type=snappy --block_size=4096 --cache_size=8388608 --threads=1 --sync=0 --disable_wal=0 \
    --db="$work/rocksdb" 2>"$work/rocksdb.time" | grep -E "micros/op|^Keys|^Values|^Entries|^Compression:" | tee "$work/rocksdb.out"

opsPerSec() { awk -v b="$1" '$1 == b && $2 == ":" { for (i = 1; i <= NF; i++) if ($(i+1) == "ops/sec") { print $i; exit } }' "$2"; }
peak() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }

echo "== Basalt / RocksDB (ops/sec ratio; >= 1.0 means Basalt is at least as fast)"
printf "%-12s %14s %14s %8s\n" benchmark basalt rocksdb ratio
for b in fillrandom readrandom seekrandom; do
    ours="$(opsPerSec "$b" "$work/basalt.out")"
    theirs="$(opsPerSec "$b" "$work/rocksdb.out")"
    printf "%-12s %14s %14s %8s\n" "$b" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')"
done
echo "peak RSS: basalt $(peak "$work/basalt.time") MiB, rocksdb $(peak "$work/rocksdb.time") MiB"
