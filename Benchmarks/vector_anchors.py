"""Driver of Benchmarks/vector-vs-anchors.sh: makes the data set, builds and sweeps each anchor
(hnswlib, faiss-cpu, usearch) in a child process of its own, runs `basalt bench vector` on the same
files, and prints the tables and the Basalt/anchor QPS ratios at recall@10 = 0.95.

Subcommands:
  run     one whole comparison (data set, Basalt, the three anchors, the summary)
  anchor  build and sweep one anchor on files made by `run`; prints one JSON line (used by `run`)
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np

SEED = 20240917
CENTRES = 100
CENTRE_SCALE = 4.0
TRUTH_K = 100
TARGET_RECALL = 0.95
ANCHORS = ("hnswlib", "faiss", "usearch")
CHILD_TIMEOUT = 3600  # seconds for one side's build and sweep
MAX_REPEATS = 20  # batch searches per ef_search at most
REPEAT_SECONDS = 1.0  # ... going on past --repeats while they took less than this in all
GENERATION_BLOCK = 10_000
TRUTH_BLOCK = 10_000

BUILD_LINE = re.compile(
    r"^vector build: vectors=(?P<vectors>\d+) dimensions=(?P<dimensions>\d+) metric=(?P<metric>\S+) "
    r"m=(?P<m>\d+) ef_construction=(?P<efc>\d+) seconds=(?P<seconds>[0-9.eE+-]+) "
    r"bytes_per_vector=(?P<bpv>[0-9.eE+-]+)(?:\s.*)?$"
)
PERSIST_LINE = re.compile(
    r"^vector persist: .*heap_bytes_per_vector=(?P<heap>[0-9.eE+-]+) mapped_bytes_per_vector=(?P<mapped>[0-9.eE+-]+)"
)
SEARCH_LINE = re.compile(
    r"^vector search: ef_search=(?P<ef>\d+) recall@(?P<k>\d+)=(?P<recall>[0-9.eE+-]+) qps=(?P<qps>[0-9.eE+-]+)\s*$"
)


def log(message):
    print(f"# {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- .fvecs / .ivecs


def write_vecs(path, rows, dtype):
    """Each row as int32 little-endian length, then its components (float32 or int32), little-endian."""
    rows = np.ascontiguousarray(rows, dtype=dtype)
    framed = np.empty((rows.shape[0], rows.shape[1] + 1), dtype="<i4")
    framed[:, 0] = rows.shape[1]
    framed[:, 1:] = rows.view("<i4")
    tmp = path + ".partial"
    framed.tofile(tmp)
    os.replace(tmp, path)


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype="<i4")
    if raw.size == 0:
        raise SystemExit(f"{path}: empty")
    width = int(raw[0])
    if raw.size % (width + 1) != 0:
        raise SystemExit(f"{path}: {raw.size * 4} bytes is not a whole number of {width}-wide rows")
    framed = raw.reshape(-1, width + 1)
    if not np.all(framed[:, 0] == width):
        raise SystemExit(f"{path}: rows of differing width")
    return np.ascontiguousarray(framed[:, 1:]).view(dtype)


# ---------------------------------------------------------------- data set


def gaussian_clusters(rng, centres, count):
    """`count` vectors, each a uniformly chosen centre plus standard normal noise, made in blocks."""
    out = np.empty((count, centres.shape[1]), dtype=np.float32)
    for start in range(0, count, GENERATION_BLOCK):
        stop = min(count, start + GENERATION_BLOCK)
        labels = rng.integers(0, centres.shape[0], size=stop - start)
        out[start:stop] = centres[labels] + rng.standard_normal((stop - start, centres.shape[1]))
    return out


def normalised(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_neighbours(base, queries, metric, k):
    """Exact top-k ids by brute force in float64, TRUTH_BLOCK base vectors at a time."""
    q = normalised(queries) if metric == "cosine" else queries.astype(np.float64)
    best_score = np.full((q.shape[0], 0), np.inf)
    best_id = np.zeros((q.shape[0], 0), dtype=np.int64)
    for start in range(0, base.shape[0], TRUTH_BLOCK):
        stop = min(base.shape[0], start + TRUTH_BLOCK)
        if metric == "cosine":
            score = -(q @ normalised(base[start:stop]).T)
        else:
            b = base[start:stop].astype(np.float64)
            score = (b * b).sum(axis=1)[None, :] - 2.0 * (q @ b.T)  # |q|^2 is the same for every row
        score = np.concatenate([best_score, score], axis=1)
        ids = np.concatenate([best_id, np.broadcast_to(np.arange(start, stop), (q.shape[0], stop - start))], axis=1)
        keep = min(k, score.shape[1])
        part = np.argpartition(score, keep - 1, axis=1)[:, :keep]
        best_score = np.take_along_axis(score, part, axis=1)
        best_id = np.take_along_axis(ids, part, axis=1)
    order = np.argsort(best_score, axis=1, kind="stable")
    return np.take_along_axis(best_id, order, axis=1).astype(np.int32)


def prepare_data(work_root, name, count, queries, dims, metric):
    """Makes (or reuses) base.fvecs, queries.fvecs and truth.ivecs in work_root/name."""
    directory = os.path.join(work_root, name)
    os.makedirs(directory, exist_ok=True)
    params = {"seed": SEED, "centres": CENTRES, "centre_scale": CENTRE_SCALE, "count": count,
              "queries": queries, "dimensions": dims, "metric": metric, "truth_k": TRUTH_K, "format": 1}
    paths = {part: os.path.join(directory, f"{part}.{ext}")
             for part, ext in (("base", "fvecs"), ("queries", "fvecs"), ("truth", "ivecs"))}
    expected_size = {"base": count * (dims + 1) * 4, "queries": queries * (dims + 1) * 4,
                     "truth": queries * (TRUTH_K + 1) * 4}
    meta_path = os.path.join(directory, "params.json")
    try:
        with open(meta_path) as f:
            reusable = json.load(f) == params and all(
                os.path.getsize(paths[p]) == expected_size[p] for p in paths)
    except (OSError, ValueError):
        reusable = False
    if reusable:
        log(f"reusing the data set in {directory}")
        return directory, paths
    if os.path.exists(meta_path):
        os.remove(meta_path)
    started = time.monotonic()
    rng = np.random.default_rng(SEED)
    centres = CENTRE_SCALE * rng.standard_normal((CENTRES, dims))
    base = gaussian_clusters(rng, centres, count)
    query_rows = gaussian_clusters(rng, centres, queries)
    write_vecs(paths["base"], base, "<f4")
    write_vecs(paths["queries"], query_rows, "<f4")
    write_vecs(paths["truth"], exact_neighbours(base, query_rows, metric, TRUTH_K), "<i4")
    with open(meta_path, "w") as f:
        json.dump(params, f, indent=1)
    log(f"made the data set in {directory} in {time.monotonic() - started:.1f} s")
    return directory, paths


# ---------------------------------------------------------------- one anchor (child process)


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def recall_at(found, truth, k):
    found = np.asarray(found, dtype=np.int64)[:, :k]
    hits = (found[:, :, None] == truth[:, None, :k].astype(np.int64)).any(axis=2)
    return float(hits.sum()) / (truth.shape[0] * k)


def timed_batch(search, repeats):
    """Best of at least `repeats` runs of one batch search, more (up to MAX_REPEATS) while they
    add up to less than REPEAT_SECONDS; returns (wall seconds, CPU seconds, ids) of the fastest."""
    best, best_cpu, ids, spent = math.inf, math.inf, None, 0.0
    for run in range(max(repeats, MAX_REPEATS)):
        if run >= repeats and spent >= REPEAT_SECONDS:
            break
        started, started_cpu = time.perf_counter(), time.process_time()
        ids = search()
        seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if seconds < best:
            best, best_cpu = seconds, cpu
        spent += seconds
    return best, best_cpu, ids


def run_anchor(args):
    base = read_vecs(args.base, "<f4")
    queries = read_vecs(args.queries, "<f4")
    truth = read_vecs(args.truth, "<i4")
    count, dims = base.shape
    cosine = args.metric == "cosine"
    result = {"lib": args.lib, "points": []}

    if args.lib == "hnswlib":
        import hnswlib
        rss_before = rss_bytes()
        started = time.perf_counter()
        index = hnswlib.Index(space="cosine" if cosine else "l2", dim=dims)
        index.init_index(max_elements=count, ef_construction=args.ef_construction, M=args.m, random_seed=100)
        index.set_num_threads(1)
        index.add_items(base, np.arange(count), num_threads=1)
        result["build_seconds"] = time.perf_counter() - started
        result["rss_bytes_per_vector"] = (rss_bytes() - rss_before) / count
        result["serialized_bytes_per_vector"] = index.index_file_size() / count
        result["serialized_by"] = "index_file_size() (= save_index file)"

        def search_at(ef):
            index.set_ef(ef)
            return lambda: index.knn_query(queries, k=args.k, num_threads=1)[0]

    elif args.lib == "faiss":
        import faiss
        faiss.omp_set_num_threads(1)
        if cosine:
            base = normalised(base).astype(np.float32)
            queries = normalised(queries).astype(np.float32)
        rss_before = rss_bytes()
        started = time.perf_counter()
        metric = faiss.METRIC_INNER_PRODUCT if cosine else faiss.METRIC_L2
        index = faiss.IndexHNSWFlat(dims, args.m, metric)
        index.hnsw.efConstruction = args.ef_construction
        index.add(base)
        result["build_seconds"] = time.perf_counter() - started
        result["rss_bytes_per_vector"] = (rss_bytes() - rss_before) / count
        result["serialized_bytes_per_vector"] = faiss.serialize_index(index).nbytes / count
        result["serialized_by"] = "serialize_index()"

        def search_at(ef):
            index.hnsw.efSearch = ef
            return lambda: index.search(queries, args.k)[1]

    elif args.lib == "usearch":
        from usearch.index import Index
        rss_before = rss_bytes()
        started = time.perf_counter()
        # dtype f32 on purpose: left unset, usearch stores bf16 on CPUs with AVX-512 BF16.
        index = Index(ndim=dims, metric="cos" if cosine else "l2sq", dtype="f32",
                      connectivity=args.m, expansion_add=args.ef_construction)
        index.add(np.arange(count, dtype=np.uint64), base, threads=1)
        result["build_seconds"] = time.perf_counter() - started
        result["rss_bytes_per_vector"] = (rss_bytes() - rss_before) / count
        result["serialized_bytes_per_vector"] = index.serialized_length / count
        result["serialized_by"] = "serialized_length"
        result["memory_usage_bytes_per_vector"] = index.memory_usage / count
        result["dtype"] = str(index.dtype).split(".")[-1].lower()

        def search_at(ef):
            index.expansion_search = ef
            return lambda: np.asarray(index.search(queries, args.k, threads=1).keys)

    else:
        raise SystemExit(f"unknown anchor {args.lib}")

    log(f"{args.lib}: built {count} vectors in {result['build_seconds']:.1f} s; sweeping ef_search")
    for ef in args.ef_search:
        seconds, cpu, ids = timed_batch(search_at(ef), args.repeats)
        result["points"].append({"ef_search": ef, "recall": recall_at(ids, truth, args.k),
                                 "qps": queries.shape[0] / seconds, "cpu_qps": queries.shape[0] / max(cpu, 1e-9)})
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------- the comparison


def child_environment():
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = "1"
    return env


def measure_anchor(lib, paths, args):
    command = [sys.executable, os.path.abspath(__file__), "anchor", "--lib", lib,
               "--base", paths["base"], "--queries", paths["queries"], "--truth", paths["truth"],
               "--metric", args.metric, "--m", str(args.m), "--ef-construction", str(args.ef_construction),
               "--ef-search", ",".join(map(str, args.ef_search)), "--k", str(args.k),
               "--repeats", str(args.repeats)]
    log(f"{lib}: building (one thread)")
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=child_environment(),
                              timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{lib} took more than {CHILD_TIMEOUT} s and was stopped")
    if done.returncode != 0:
        raise SystemExit(f"{lib} failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_basalt(paths, args, directory):
    command = [args.basalt, "bench", "vector", "--base", paths["base"], "--queries", paths["queries"],
               "--truth", paths["truth"], "--metric", args.metric, "--m", str(args.m),
               "--ef-construction", str(args.ef_construction),
               "--ef-search", ",".join(map(str, args.ef_search)), "--k", str(args.k)]
    # BASALT_EXTRA adds options, e.g. "--quantization int8".
    command += os.environ.get("BASALT_EXTRA", "").split()
    log("basalt: " + " ".join(command))
    transcript = os.path.join(directory, "basalt.out")
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"basalt bench vector took more than {CHILD_TIMEOUT} s and was stopped")
    with open(transcript, "w") as f:
        f.write(done.stdout)
    tail = "\n".join(done.stdout.splitlines()[-20:])
    if done.returncode != 0:
        raise SystemExit(f"basalt bench vector failed with exit status {done.returncode}; "
                         f"its output ends:\n{tail}")
    result = {"lib": "basalt", "points": [], "serialized_by": "bytes_per_vector as basalt reports it"}
    for line in done.stdout.splitlines():
        if m := BUILD_LINE.match(line):
            asked = (args.count, args.dims, args.metric, args.m, args.ef_construction)
            if (int(m["vectors"]), int(m["dimensions"]), m["metric"], int(m["m"]), int(m["efc"])) != asked:
                raise SystemExit(f"basalt built something else than asked: {line}")
            result["build_seconds"] = float(m["seconds"])
            result["reported_bytes_per_vector"] = float(m["bpv"])
        elif m := PERSIST_LINE.match(line):
            # A graph written and read back (int8 keeps its float vectors in the mapped file):
            # what it holds in memory is the heap figure; the mapped file pages are reported beside it.
            result["reported_bytes_per_vector"] = float(m["heap"])
            result["serialized_by"] = f"heap bytes after reload (+ {float(m['mapped']):.1f} B/v in the mapped file)"
        elif m := SEARCH_LINE.match(line):
            if int(m["k"]) != args.k:
                raise SystemExit(f"basalt reported recall at another k: {line}")
            result["points"].append({"ef_search": int(m["ef"]), "recall": float(m["recall"]),
                                     "qps": float(m["qps"])})
    missing = sorted(set(args.ef_search) - {p["ef_search"] for p in result["points"]})
    if "build_seconds" not in result or missing:
        raise SystemExit(f"basalt bench vector printed no 'vector build:' line or no 'vector search:' line "
                         f"for ef_search {missing}; its output ends:\n{tail}")
    return result


def qps_at_recall(points, target=TARGET_RECALL):
    """QPS at `target` recall by linear interpolation on the sweep sorted by recall.

    Returns (qps, how): 0 when no point reaches the target; the fastest point's QPS when every point
    is at or above it; otherwise the line between the best point below and the first point at or above.
    """
    if not points:
        return 0.0, "no sweep points"
    ordered = sorted(points, key=lambda p: (p["recall"], -p["qps"]))
    if ordered[-1]["recall"] < target:
        return 0.0, f"never reaches recall {target} (best {ordered[-1]['recall']:.4f})"
    if ordered[0]["recall"] >= target:
        fastest = max(points, key=lambda p: p["qps"])
        return fastest["qps"], f"every point is at or above {target}: fastest (ef_search={fastest['ef_search']})"
    above = next(i for i, p in enumerate(ordered) if p["recall"] >= target)
    low, high = ordered[above - 1], ordered[above]
    # Among equal recalls below the target take the fastest point.
    low = max((p for p in ordered[:above] if p["recall"] == low["recall"]), key=lambda p: p["qps"])
    if high["recall"] == low["recall"]:
        return high["qps"], "exact"
    share = (target - low["recall"]) / (high["recall"] - low["recall"])
    qps = low["qps"] + share * (high["qps"] - low["qps"])
    return qps, (f"between ef_search={low['ef_search']} ({low['recall']:.4f}) "
                 f"and ef_search={high['ef_search']} ({high['recall']:.4f})")


def ratio_text(ours, theirs):
    if theirs > 0:
        return f"{ours / theirs:.2f}"
    return "n/a" if ours <= 0 else "inf"


def run_comparison(args):
    name = f"gauss{CENTRES}-{args.metric}-d{args.dims}-n{args.count}-q{args.queries}-s{SEED}"
    directory, paths = prepare_data(args.work, name, args.count, args.queries, args.dims, args.metric)
    sides = [measure_basalt(paths, args, directory)]
    sides += [measure_anchor(lib, paths, args) for lib in ANCHORS]

    print()
    print(f"== {args.prefix} {args.dims} dimensions, {args.metric}, {args.count} vectors, {args.queries} queries, "
          f"k={args.k}, M={args.m}, ef_construction={args.ef_construction}, one thread; data in {directory}")
    print(f"{'side':<8} {'build s':>9} {'bytes/vector':>13} {'~RSS growth B/v':>15}  bytes/vector measured by")
    for side in sides:
        bpv = side.get("reported_bytes_per_vector", side.get("serialized_bytes_per_vector", 0.0))
        rss = side.get("rss_bytes_per_vector")
        extra = f", memory_usage {side['memory_usage_bytes_per_vector']:.1f} B/v, dtype {side['dtype']}" \
            if "memory_usage_bytes_per_vector" in side else ""
        print(f"{side['lib']:<8} {side['build_seconds']:>9.2f} {bpv:>13.1f} "
              f"{(f'{rss:.1f}' if rss is not None else '-'):>15}  {side['serialized_by']}{extra}")
    print(f"{'side':<8} {'ef_search':>9} {'recall@' + str(args.k):>10} {'qps':>10} {'cpu qps':>10}")
    busy = False
    for side in sides:
        for p in side["points"]:
            cpu_qps = f"{p['cpu_qps']:.1f}" if "cpu_qps" in p else "-"
            busy = busy or ("cpu_qps" in p and p["qps"] < 0.8 * p["cpu_qps"])
            print(f"{side['lib']:<8} {p['ef_search']:>9} {p['recall']:>10.4f} {p['qps']:>10.1f} {cpu_qps:>10}")
    print("(qps = queries / wall seconds, the figure compared; cpu qps = queries / CPU seconds of the same batch"
          + (": a qps well below it means something else had the CPU" if busy else "") + ")")
    interpolated = {}
    for side in sides:
        interpolated[side["lib"]], how = qps_at_recall(side["points"])
        print(f"{side['lib']:<8} qps at recall@{args.k}={TARGET_RECALL}: {interpolated[side['lib']]:.1f} ({how})")
    for lib in ANCHORS:
        print(f"{args.prefix}: basalt/{lib} qps at recall@{args.k}>={TARGET_RECALL} = "
              f"{ratio_text(interpolated['basalt'], interpolated[lib])}", flush=True)


def comma_ints(text):
    return [int(part) for part in text.split(",") if part]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("run", "anchor"):
        sub = commands.add_parser(command)
        sub.add_argument("--metric", choices=("euclidean", "cosine"), required=True)
        sub.add_argument("--m", type=int, default=16)
        sub.add_argument("--ef-construction", type=int, default=200)
        sub.add_argument("--ef-search", type=comma_ints, default=[10, 20, 40, 80, 120, 160])
        sub.add_argument("--k", type=int, default=10)
        sub.add_argument("--repeats", type=int, default=3, help="batch searches per ef_search at least; the fastest counts")
    run = commands.choices["run"]
    run.add_argument("--basalt", required=True)
    run.add_argument("--work", required=True, help="folder holding one subfolder per data set")
    run.add_argument("--prefix", required=True, help="prefix of the ratio lines, e.g. 'vector'")
    run.add_argument("--dims", type=int, required=True)
    run.add_argument("--count", type=int, required=True)
    run.add_argument("--queries", type=int, default=1000)
    anchor = commands.choices["anchor"]
    anchor.add_argument("--lib", choices=ANCHORS, required=True)
    anchor.add_argument("--base", required=True)
    anchor.add_argument("--queries", required=True)
    anchor.add_argument("--truth", required=True)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.command == "run":
        run_comparison(args)
    else:
        run_anchor(args)


if __name__ == "__main__":
    main()
