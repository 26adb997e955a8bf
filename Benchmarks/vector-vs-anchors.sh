#!/usr/bin/env bash
# Basalt's HNSW vector index (`basalt bench vector`) against three anchors from PyPI: hnswlib,
# faiss-cpu (IndexHNSWFlat) and usearch, on the same data, the same graph parameters and one thread.
#
# Data: made here with numpy's default_rng and a fixed seed: 100 centres drawn as 4 * standard normal,
# each vector a uniformly chosen centre plus standard normal noise; 1,000 queries from the same
# distribution; exact top-100 neighbours by brute force in float64. Stored as .fvecs/.ivecs under
# ${TMPDIR:-/tmp}/basalt-vector-bench/ and reused while their parameters match.
#   run 1: 384 dimensions, cosine (the size of common sentence embeddings), 100,000 vectors.
#   run 2: 128 dimensions, euclidean (L2), 100,000 vectors.
# Build: M = 16, ef_construction = 200, one thread, timed. Memory per vector: the serialized index
# size / count (hnswlib index_file_size, faiss serialize_index, usearch serialized_length), beside the
# process's RSS growth during the build (approximate: the allocator may reuse freed pages); Basalt's
# is the bytes_per_vector it reports. usearch stores f32 (left to itself it picks bf16 on CPUs with
# AVX-512 BF16). Cosine: hnswlib space 'cosine', faiss inner product on L2-normalised vectors,
# usearch 'cos', Basalt --metric cosine.
# Search: k = 10, ef_search 10, 20, 40, 80, 120, 160. The anchors are timed with their batch search
# of all 1,000 queries restricted to one thread (a Python loop of single queries would time Python's
# call overhead, not the library); queries/second = 1000 / seconds of the fastest batch (at least 3
# batches, more up to 20 while they add up to under 1 s: the fastest is the one least disturbed by
# anything else on the machine). Basalt's recall and qps are what `basalt bench vector` prints.
# recall@10 is against the exact top 10.
# Each side's QPS at recall@10 = 0.95 is interpolated linearly on its own sweep (0 when it never gets
# there, its fastest point when every point is above); the last lines are the Basalt/anchor ratios,
# the 128-dimension L2 ones last of all:
#   vector: basalt/hnswlib qps at recall@10>=0.95 = R     (also basalt/faiss, basalt/usearch)
#
#   Benchmarks/vector-vs-anchors.sh [BASALT]   # default .build/release/basalt, built when missing
#   RUNS=l2|cosine (default both)  COUNT=20000 (vectors per run, for a quick check)
#   BASALT_EXTRA="--quantization int8" (options added to basalt bench vector)
# The anchors live in a virtualenv at .venv-bench (made, or completed, when a package is missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
RUNS="${RUNS:-both}"
case "$RUNS" in both | l2 | cosine) ;; *) echo "RUNS must be l2, cosine or both, not '$RUNS'" >&2; exit 2 ;; esac
if [[ -n "${COUNT:-}" && ! "$COUNT" =~ ^[1-9][0-9]*$ ]]; then echo "COUNT must be a positive integer" >&2; exit 2; fi

if [[ $# -ge 1 ]]; then
    basalt="$1"
    [[ -x "$basalt" ]] || { echo "$basalt: not an executable" >&2; exit 2; }
else
    basalt=".build/release/basalt"
    [[ -x "$basalt" ]] || swift build -c release --product basalt >&2
fi
basalt="$(cd "$(dirname "$basalt")" && pwd)/$(basename "$basalt")"

venv="$root/.venv-bench"
packages=(hnswlib faiss-cpu usearch numpy)
installed() { "$venv/bin/python" -c 'import importlib.metadata as m, sys; [m.version(p) for p in sys.argv[1:]]' "$@" 2>/dev/null; }
missing=()
for package in "${packages[@]}"; do
    [[ -x "$venv/bin/python" ]] && installed "$package" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    echo "# installing ${missing[*]} into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${missing[@]}" >&2
fi

work="${TMPDIR:-/tmp}/basalt-vector-bench"
mkdir -p "$work"
versions="$("$venv/bin/python" -c 'import importlib.metadata as m, sys; print(", ".join(p + " " + m.version(p) for p in sys.argv[1:]))' "${packages[@]}")"
echo "$versions" >"$work/versions.txt"
echo "anchors: $versions (python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'))"
echo "basalt: $basalt"

compare() { # PREFIX DIMENSIONS METRIC COUNT
    "$venv/bin/python" "$root/Benchmarks/vector_anchors.py" run --basalt "$basalt" --work "$work" \
        --prefix "$1" --dims "$2" --metric "$3" --count "$4" --queries 1000 \
        --m 16 --ef-construction 200 --ef-search 10,20,40,80,120,160 --k 10
}
# The 384-dimension cosine run goes first so that the three `vector:` lines end the output.
if [[ "$RUNS" != l2 ]]; then compare vector-384-cosine 384 cosine "${COUNT:-100000}"; fi
if [[ "$RUNS" != cosine ]]; then compare vector 128 euclidean "${COUNT:-100000}"; fi
