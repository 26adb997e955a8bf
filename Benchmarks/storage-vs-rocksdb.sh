#!/usr/bin/env bash
# Runs `basalt bench storage` and RocksDB's db_bench (Debian's rocksdb-tools) on the same workloads,
# one after the other on this machine, and prints Basalt/RocksDB throughput ratios and peak memory.
#
# Workloads: fillrandom, readrandom, seekrandom; NUM keys (default 1,000,000) of 16 bytes, 100-byte
# values (half compressible), Snappy on, one thread, write-ahead log on without per-write fsync.
# Both use 4 KiB blocks/chunks and an 8 MiB block/chunk cache (db_bench's defaults).
#
# After the reads both wait for compaction to finish and the script prints each engine's write
# amplification: bytes written to SSTables (flushes + compactions) per byte flushed.
#
#   Benchmarks/storage-vs-rocksdb.sh            # builds the release binary first
#   NUM=200000 SCRATCH=.build-storage Benchmarks/storage-vs-rocksdb.sh
#   NUM=5000000 BASALT_BIN=.build/release/basalt Benchmarks/storage-vs-rocksdb.sh  # no build
#   BASALT_ARGS="--memtable-mib 16 --memtable-total-mib 24" Benchmarks/storage-vs-rocksdb.sh  # more bench storage options
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
NUM="${NUM:-1000000}"
SCRATCH="${SCRATCH:-.build-release}"
command -v db_bench >/dev/null || { echo "db_bench not found: apt-get install rocksdb-tools" >&2; exit 1; }

if [ -n "${BASALT_BIN:-}" ]; then
    bin="$BASALT_BIN"
else
    swift build -c release --scratch-path "$SCRATCH" --product basalt >/dev/null
    bin="$SCRATCH/release/basalt"
fi
work="$(mktemp -d /tmp/basalt-vs-rocksdb.XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "== basalt bench storage"
/usr/bin/time -v "$bin" bench storage --num "$NUM" --chunk-kib 4 --cache-mib 8 --dir "$work/basalt" ${BASALT_ARGS:-} \
    --benchmarks fillrandom,readrandom,seekrandom,stats,waitcompaction,stats 2>"$work/basalt.time" | tee "$work/basalt.out"
echo "== db_bench"
/usr/bin/time -v db_bench --benchmarks=fillrandom,readrandom,seekrandom,waitforcompaction,stats --num="$NUM" --key_size=16 --value_size=100 \
    --compression_type=snappy --block_size=4096 --cache_size=8388608 --threads=1 --sync=0 --disable_wal=0 \
    --db="$work/rocksdb" 2>"$work/rocksdb.time" | tee "$work/rocksdb.full" | grep -E "micros/op|^Keys|^Values|^Entries|^Compression:|^ *Sum |^Flush\(GB\)|^Cumulative compaction" | tee "$work/rocksdb.out"

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
# Basalt: the last stats line (after waitcompaction). RocksDB: compaction bytes written (its level-0
# figures include the flushes) per byte flushed, from the stats printed after waitforcompaction.
ourWA="$(grep '^stats' "$work/basalt.out" | tail -1 | sed -E 's/.*write amplification ([0-9.]+).*/\1/')"
theirWA="$(awk '/^Flush\(GB\)/ { split($0, a, "cumulative "); split(a[2], b, ","); f = b[1] }
               /^Cumulative compaction/ { split($0, a, ": "); split(a[2], b, " "); w = b[1] }
               END { if (f > 0) printf "%.2f", w / f; else print "n/a" }' "$work/rocksdb.out")"
echo "write amplification after compaction (SSTable bytes per flushed byte): basalt $ourWA, rocksdb $theirWA"
