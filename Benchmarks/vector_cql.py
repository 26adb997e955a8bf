"""Driver of Benchmarks/vector-cql.sh: vector search through CQL with the real cassandra-driver against
a running Basalt cluster (started by the shell script with cluster/up).

Subcommands:
  run      one cluster: schema, timed inserts, recall@10 per consistency level, closed-loop ANN
           queries/second per consistency level and concurrency; writes the figures as JSON
           (--reuse: the table is there from an earlier run on the same data; queries only;
           --label names the run in the summary, e.g. the configuration it used)
  summary  the table and the `vector-cql:` lines from the JSON files that `run` wrote

Every loop here is bounded in count and in time: inserts stop at --count rows or after
--insert-timeout seconds, a recall pass issues --queries requests and waits at most
--wait-timeout seconds, a closed loop stops issuing after --seconds (or --max-requests) and waits
at most --wait-timeout seconds for what is still in flight.
"""
import argparse
import json
import os
import resource
import sys
import threading
import time

import numpy as np

SEED = 20240917
CENTRES = 100
CENTRE_SCALE = 4.0
K = 10
KEYSPACE = "vcql"
TABLE = "t"
INSERT_CHUNK = 5_000  # rows per execute_concurrent_with_args call; the insert deadline is checked between chunks
MAX_ERRORS = 100  # a closed loop stops issuing after this many failed requests
TRUTH_BLOCK = 10_000


def log(message):
    print(f"# {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def make_data(count, dim, queries):
    """`count` rows and `queries` queries: a uniformly chosen centre (4 * standard normal) plus
    standard normal noise, float32, from one generator with a fixed seed."""
    rng = np.random.default_rng(SEED)
    centres = (CENTRE_SCALE * rng.standard_normal((CENTRES, dim))).astype(np.float32)
    rows = centres[rng.integers(0, CENTRES, count)] + rng.standard_normal((count, dim)).astype(np.float32)
    qs = centres[rng.integers(0, CENTRES, queries)] + rng.standard_normal((queries, dim)).astype(np.float32)
    return rows.astype(np.float32), qs.astype(np.float32)


def exact_top_k(rows, queries, k):
    """The ids of the k nearest rows (squared euclidean, float64) of every query, nearest first."""
    q = queries.astype(np.float64)
    q_norms = (q * q).sum(axis=1)
    best_d = np.full((len(q), 0), np.inf)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for start in range(0, len(rows), TRUTH_BLOCK):
        block = rows[start:start + TRUTH_BLOCK].astype(np.float64)
        d = q_norms[:, None] - 2.0 * q @ block.T + (block * block).sum(axis=1)[None, :]
        ids = np.broadcast_to(np.arange(start, start + len(block)), d.shape)
        all_d = np.concatenate([best_d, d], axis=1)
        all_i = np.concatenate([best_i, ids], axis=1)
        keep = np.argsort(all_d, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(all_d, keep, axis=1)
        best_i = np.take_along_axis(all_i, keep, axis=1)
    return best_i


# ---------------------------------------------------------------- CPU accounting


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """User + system CPU seconds of a process (all its threads), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def machine_busy_seconds():
    """CPU seconds spent by everything on the machine (all cores, not idle nor iowait) so far."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def client_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """Wall time, this client's CPU time, each node's CPU time and the whole machine's busy CPU
    time between start() and stop()."""

    def __init__(self, pids):
        self.pids = pids

    def start(self):
        self.wall = time.perf_counter()
        self.client = client_cpu_seconds()
        self.nodes = [process_cpu_seconds(p) for p in self.pids]
        self.machine = machine_busy_seconds()
        return self

    def stop(self):
        wall = time.perf_counter() - self.wall
        client = client_cpu_seconds() - self.client
        nodes = []
        for pid, before in zip(self.pids, self.nodes):
            after = process_cpu_seconds(pid)
            nodes.append(None if before is None or after is None else after - before)
        server = sum(n for n in nodes if n is not None)
        machine = machine_busy_seconds() - self.machine
        return {
            "wall_s": wall,
            "client_cpu_s": client,
            "server_cpu_s": server,
            "node_cpu_s": nodes,
            "machine_cpu_s": machine,
            # Everything else that ran on the machine meanwhile (other users, the kernel's own threads).
            "other_cpu_s": max(0.0, machine - client - server),
            "cores": os.cpu_count(),
        }


# ---------------------------------------------------------------- driver


def connect(addresses, timeout):
    from cassandra import ConsistencyLevel
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import FallthroughRetryPolicy, RoundRobinPolicy, TokenAwarePolicy
    from cassandra.query import tuple_factory

    def profile(cl):
        # Token aware for the inserts (each row goes to one of its replicas), round robin for the ANN
        # queries (they have no routing key); no retries, so that every failure is counted.
        return ExecutionProfile(load_balancing_policy=TokenAwarePolicy(RoundRobinPolicy()), consistency_level=cl,
                                retry_policy=FallthroughRetryPolicy(), request_timeout=timeout, row_factory=tuple_factory)

    profiles = {EXEC_PROFILE_DEFAULT: profile(ConsistencyLevel.ONE), "ONE": profile(ConsistencyLevel.ONE),
                "QUORUM": profile(ConsistencyLevel.QUORUM), "ALL": profile(ConsistencyLevel.ALL)}
    cluster = Cluster(contact_points=addresses, execution_profiles=profiles)
    return cluster, cluster.connect()


def create_schema(session, rf, dim, wait_timeout):
    session.execute(f"CREATE KEYSPACE {KEYSPACE} WITH replication = "
                    f"{{'class': 'SimpleStrategy', 'replication_factor': {rf}}}", execution_profile="ALL")
    session.execute(f"CREATE TABLE {KEYSPACE}.{TABLE} (id int PRIMARY KEY, v vector<float, {dim}>)", execution_profile="ALL")
    session.execute(f"CREATE CUSTOM INDEX {TABLE}_v ON {KEYSPACE}.{TABLE} (v) USING 'StorageAttachedIndex' "
                    "WITH OPTIONS = {'similarity_function': 'euclidean'}", execution_profile="ALL")
    if not session.cluster.control_connection.wait_for_schema_agreement(wait_time=wait_timeout):
        raise SystemExit("the nodes did not agree on the schema")
    select = session.prepare(f"SELECT id FROM {KEYSPACE}.{TABLE} ORDER BY v ANN OF ? LIMIT {K}")
    # The index is usable once an ANN query on every node succeeds (an index still being built answers
    # Invalid); the table is empty, so each must answer no rows.
    probe = [0.0] * dim
    deadline = time.monotonic() + wait_timeout
    while True:
        try:
            for _ in range(6):
                rows = session.execute(select, (probe,), execution_profile="ONE").all()
                if rows:
                    raise SystemExit(f"ANN query on an empty table answered {rows}")
            break
        except SystemExit:
            raise
        except Exception as error:  # noqa: BLE001  (any failure: retried until the deadline)
            if time.monotonic() > deadline:
                raise SystemExit(f"the vector index was not usable within {wait_timeout}s: {error}")
            time.sleep(0.5)
    insert = session.prepare(f"INSERT INTO {KEYSPACE}.{TABLE} (id, v) VALUES (?, ?)")
    return insert, select


def reuse_schema(session, dim, wait_timeout):
    """The select of a table an earlier run filled (the nodes were restarted since): usable once
    an ANN query answers on every node."""
    select = session.prepare(f"SELECT id FROM {KEYSPACE}.{TABLE} ORDER BY v ANN OF ? LIMIT {K}")
    deadline = time.monotonic() + wait_timeout
    while True:
        try:
            for _ in range(6):
                if len(session.execute(select, ([0.0] * dim,), execution_profile="ONE").all()) != K:
                    raise RuntimeError("fewer rows than LIMIT: the table is not (yet) the earlier run's")
            return select
        except Exception as error:  # noqa: BLE001  (any failure: retried until the deadline)
            if time.monotonic() > deadline:
                raise SystemExit(f"the earlier run's table did not answer within {wait_timeout}s: {error}")
            time.sleep(0.5)


def insert_rows(session, insert, rows, cl, window, pids, timeout):
    """Inserts every row with execute_concurrent_with_args (`window` requests in flight), in chunks;
    stops early (and says so) when `timeout` seconds have passed."""
    from cassandra.concurrent import execute_concurrent_with_args
    # The parameters are made before the clock starts: the figures are the driver's and the server's.
    params = [(i, v) for i, v in enumerate(rows.tolist())]
    failures, first_error, done = 0, None, 0
    meter = CpuMeter(pids).start()
    deadline = time.monotonic() + timeout
    for start in range(0, len(params), INSERT_CHUNK):
        results = execute_concurrent_with_args(session, insert, params[start:start + INSERT_CHUNK], concurrency=window,
                                               raise_on_first_error=False, execution_profile=cl)
        for ok, result in results:
            if not ok:
                failures += 1
                first_error = first_error or repr(result)
        done = min(len(params), start + INSERT_CHUNK)
        elapsed = meter_elapsed(meter)
        log(f"inserted {done}/{len(params)} rows in {elapsed:.1f}s ({done / elapsed:.0f} rows/s), {failures} failed")
        if time.monotonic() > deadline and done < len(params):
            log(f"insert timeout ({timeout}s) reached: stopping at {done} rows")
            break
    cpu = meter.stop()
    return dict(cpu, rows=done, failures=failures, first_error=first_error, window=window, cl=cl,
                rows_per_s=(done - failures) / cpu["wall_s"])


def meter_elapsed(meter):
    return time.perf_counter() - meter.wall


class ClosedLoop:
    """Keeps `concurrency` prepared ANN queries in flight (each completion issues the next, from the
    driver's event loop thread) until `seconds` have passed or `max_requests` were issued; query i is
    queries[i % len(queries)]. Latency is from execute_async to the completion callback."""

    def __init__(self, session, select, queries, cl, concurrency, seconds, max_requests, keep_rows=False):
        self.session, self.select, self.queries, self.cl = session, select, queries, cl
        self.concurrency, self.seconds, self.max_requests = concurrency, seconds, max_requests
        self.keep = {} if keep_rows else None
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.issued = self.in_flight = self.errors = self.short = 0
        self.first_error = None
        self.latencies = []

    def run(self, wait_timeout):
        self.start = time.perf_counter()
        self.deadline = self.start + self.seconds
        for _ in range(self.concurrency):
            self._issue()
        if not self.finished.wait(self.seconds + wait_timeout):
            raise SystemExit(f"{self.in_flight} ANN queries still in flight {wait_timeout}s after the loop ended")
        self.wall = self.end - self.start
        return self

    def _issue(self):
        with self.lock:
            if (time.perf_counter() >= self.deadline or self.issued >= self.max_requests or self.errors >= MAX_ERRORS):
                if self.in_flight == 0:
                    self.end = time.perf_counter()
                    self.finished.set()
                return
            i = self.issued
            self.issued += 1
            self.in_flight += 1
        t0 = time.perf_counter()
        future = self.session.execute_async(self.select, (self.queries[i % len(self.queries)],), execution_profile=self.cl)
        future.add_callbacks(self._done, self._failed, callback_args=(i, t0), errback_args=(i, t0))

    def _done(self, rows, i, t0):
        latency = time.perf_counter() - t0
        with self.lock:
            self.in_flight -= 1
            self.latencies.append(latency)
            if len(rows) != K:
                self.short += 1
            if self.keep is not None:
                self.keep[i] = [r[0] for r in rows]
        self._issue()

    def _failed(self, error, i, t0):
        with self.lock:
            self.in_flight -= 1
            self.errors += 1
            self.first_error = self.first_error or repr(error)
        self._issue()

    def figures(self):
        lat = np.array(self.latencies) * 1000.0 if self.latencies else np.array([np.nan])
        return {"cl": self.cl, "concurrency": self.concurrency, "requests": len(self.latencies), "errors": self.errors,
                "first_error": self.first_error, "short_results": self.short, "seconds": self.wall,
                "qps": len(self.latencies) / self.wall, "mean_ms": float(np.mean(lat)),
                "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
                "max_ms": float(np.max(lat))}


def run(args):
    import cassandra
    addresses = args.addresses.split(",")
    pids = []
    for i in range(1, args.nodes + 1):
        with open(os.path.join(args.cluster_dir, f"node{i}", "pid")) as f:
            pids.append(int(f.read().strip()))
    rf = args.replication_factor or args.nodes
    levels = ["ONE"] if rf == 1 else ["ONE", "QUORUM"]
    write_cl = "ONE" if rf == 1 else "QUORUM"
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    t = time.perf_counter()
    rows, queries = make_data(args.count, args.dim, args.queries)
    truth = exact_top_k(rows, queries, K)
    log(f"data: {args.count} rows, {args.queries} queries, {args.dim} dimensions; exact top {K} in {time.perf_counter() - t:.1f}s")
    query_lists = queries.tolist()

    out = {"nodes": args.nodes, "rf": rf, "label": args.label, "count": args.count, "dim": args.dim, "queries": args.queries, "seed": SEED,
           "driver": cassandra.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
           "loadavg_start": open("/proc/loadavg").read().split()[:3], "levels": {}}
    cluster, session = connect(addresses, args.request_timeout)
    try:
        log(f"connected to {addresses} (driver {cassandra.__version__}, {cluster.connection_class.__name__})")
        if args.reuse:
            select = reuse_schema(session, args.dim, args.wait_timeout)
            out["insert"] = None
        else:
            insert, select = create_schema(session, rf, args.dim, args.wait_timeout)
            log(f"inserting {args.count} rows at {write_cl}, {args.insert_window} in flight")
            out["insert"] = insert_rows(session, insert, rows, write_cl, args.insert_window, pids, args.insert_timeout)
            ins = out["insert"]
            log(f"insert: {ins['rows_per_s']:.0f} rows/s, wall {ins['wall_s']:.1f}s, client CPU {ins['client_cpu_s']:.1f}s, "
                f"nodes' CPU {ins['server_cpu_s']:.1f}s, machine busy {ins['machine_cpu_s']:.1f}s of {ins['cores']} cores")
            if ins["failures"]:
                log(f"insert failures: {ins['failures']}, first: {ins['first_error']}")
            if ins["rows"] < args.count:  # stopped by the insert timeout: the truth is over the rows inserted
                truth = exact_top_k(rows[:ins["rows"]], queries, K)
        for cl in levels:
            level = out["levels"][cl] = {}
            # Recall pass (also the warm-up of this level): every query once, 8 in flight.
            loop = ClosedLoop(session, select, query_lists, cl, min(8, args.queries), 1e9, args.queries, keep_rows=True)
            loop.run(args.wait_timeout)
            hits, answered = 0, 0
            for i, ids in loop.keep.items():
                expected = set(int(x) for x in truth[i])
                hits += len(expected & set(ids))
                answered += 1
            recall = hits / (K * args.queries)
            level["recall"] = {"recall_at_10": recall, "answered": answered, "errors": loop.errors,
                               "first_error": loop.first_error, "short_results": loop.short}
            log(f"{cl}: recall@{K} = {recall:.4f} over {args.queries} queries ({loop.errors} errors)")
            for c in concurrencies:
                meter = CpuMeter(pids).start()
                loop = ClosedLoop(session, select, query_lists, cl, c, args.seconds, args.max_requests).run(args.wait_timeout)
                figures = dict(loop.figures(), **meter.stop())
                level[str(c)] = figures
                log(f"{cl} concurrency {c}: {figures['qps']:.1f} qps, p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms, "
                    f"{figures['errors']} errors; client CPU {figures['client_cpu_s']:.1f}s, nodes' CPU {figures['server_cpu_s']:.1f}s "
                    f"in {figures['wall_s']:.1f}s")
                if figures["errors"]:
                    log(f"first error: {figures['first_error']}")
    finally:
        cluster.shutdown()
    out["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


# ---------------------------------------------------------------- summary


def summary(args):
    results = []
    for path in args.files:
        with open(path) as f:
            results.append(json.load(f))
    if not results:
        raise SystemExit("no results")
    first = results[0]
    print()
    print(f"vector search through CQL: {first['count']} rows of {first['dim']} dimensions (euclidean), "
          f"{first['queries']} queries, cassandra-driver {first['driver']}, python {first['python']}")
    print()
    print("inserts (prepared INSERT, execute_concurrent_with_args); CPU seconds over the insert's wall time")
    header = f"{'nodes':>5} {'cl':>6} {'window':>6} {'rows':>7} {'fail':>5} {'wall s':>7} {'rows/s':>8} " \
             f"{'client cpu':>10} {'nodes cpu':>9} {'other cpu':>9} {'client %core':>12} {'nodes %core':>11}"
    print(header)
    for r in results:
        i = r["insert"]
        if i is None:
            continue
        print(f"{r['nodes']:>5} {i['cl']:>6} {i['window']:>6} {i['rows']:>7} {i['failures']:>5} {i['wall_s']:>7.1f} "
              f"{i['rows_per_s']:>8.0f} {i['client_cpu_s']:>10.1f} {i['server_cpu_s']:>9.1f} {i['other_cpu_s']:>9.1f} "
              f"{100 * i['client_cpu_s'] / i['wall_s']:>12.0f} {100 * i['server_cpu_s'] / i['wall_s']:>11.0f}")
    print()
    print("ANN queries (prepared SELECT id … ORDER BY v ANN OF ? LIMIT 10), closed loop")
    header = f"{'nodes':>5} {'label':>11} {'cl':>6} {'recall@10':>9} {'conc':>4} {'requests':>8} {'errors':>6} {'qps':>8} " \
             f"{'p50 ms':>7} {'p99 ms':>7} {'client %core':>12} {'nodes %core':>11} {'other %core':>11}"
    print(header)
    lines = []
    for r in results:
        for cl, level in r["levels"].items():
            recall = level["recall"]["recall_at_10"]
            for c, q in level.items():
                if c == "recall":
                    continue
                print(f"{r['nodes']:>5} {r.get('label', ''):>11} {cl:>6} {recall:>9.4f} {c:>4} {q['requests']:>8} {q['errors']:>6} {q['qps']:>8.1f} "
                      f"{q['p50_ms']:>7.2f} {q['p99_ms']:>7.2f} {100 * q['client_cpu_s'] / q['wall_s']:>12.0f} "
                      f"{100 * q['server_cpu_s'] / q['wall_s']:>11.0f} {100 * q['other_cpu_s'] / q['wall_s']:>11.0f}")
                label = f" label={r['label']}" if r.get("label") else ""
                lines.append(f"vector-cql: nodes={r['nodes']} rf={r.get('rf', r['nodes'])}{label} cl={cl} concurrency={c} qps={q['qps']:.1f} "
                             f"p50_ms={q['p50_ms']:.2f} p99_ms={q['p99_ms']:.2f} recall@10={recall:.4f} errors={q['errors']} "
                             f"client_cpu_pct={100 * q['client_cpu_s'] / q['wall_s']:.0f} "
                             f"nodes_cpu_pct={100 * q['server_cpu_s'] / q['wall_s']:.0f}")
        i = r["insert"]
        if i is None:
            continue
        lines.append(f"vector-cql: nodes={r['nodes']} rf={r.get('rf', r['nodes'])} insert_rows_per_s={i['rows_per_s']:.0f} cl={i['cl']} rows={i['rows']} "
                     f"failures={i['failures']} client_cpu_pct={100 * i['client_cpu_s'] / i['wall_s']:.0f} "
                     f"nodes_cpu_pct={100 * i['server_cpu_s'] / i['wall_s']:.0f}")
    print()
    print(f"(%core: CPU seconds / wall seconds * 100, so 100 = one core busy; the machine has {os.cpu_count()} cores;"
          " other = the rest of the machine meanwhile)")
    for r in results:
        print(f"load average at start / end of the {r['nodes']}-node run: {' '.join(r['loadavg_start'])} / {' '.join(r['loadavg_end'])}")
    print()
    for line in lines:
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--nodes", type=int, required=True)
    r.add_argument("--addresses", required=True, help="comma-separated CQL addresses of the nodes")
    r.add_argument("--cluster-dir", required=True, help="BASALT_CLUSTER_DIR (nodeI/pid is read for the CPU figures)")
    r.add_argument("--count", type=int, default=50_000)
    r.add_argument("--dim", type=int, default=128)
    r.add_argument("--queries", type=int, default=200)
    r.add_argument("--seconds", type=float, default=10.0, help="length of each closed loop")
    r.add_argument("--max-requests", type=int, default=1_000_000, help="bound on the requests of one closed loop")
    r.add_argument("--concurrency", default="1,16")
    r.add_argument("--insert-window", type=int, default=64)
    r.add_argument("--insert-timeout", type=float, default=1800.0)
    r.add_argument("--request-timeout", type=float, default=30.0)
    r.add_argument("--wait-timeout", type=float, default=120.0)
    r.add_argument("--out", required=True)
    r.add_argument("--replication-factor", type=int, default=0, help="the keyspace's (default: --nodes)")
    r.add_argument("--reuse", action="store_true", help="query the table an earlier run filled; no schema, no inserts")
    r.add_argument("--label", default="", help="a name for this run in the summary")
    s = sub.add_parser("summary")
    s.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    else:
        summary(args)


if __name__ == "__main__":
    main()
