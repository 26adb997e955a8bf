"""Helpers of the data-movement tests (bootstrap, decommission, removenode): bounded writer threads
that remember every acknowledged write, reads of every key through chosen coordinators, a node's
Load and the admin commands."""
import json
import os
import subprocess
import threading
import time

from conftest import ROOT, basalt_bin, session_on
from workloads import Threads

KEYSPACE = "movement"


def admin(address, *args, timeout=600):
    """Runs `basalt admin ARGS --host address`; returns stdout, fails loudly on a non-zero exit."""
    done = subprocess.run([basalt_bin(), "admin"] + list(args) + ["--host", address], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, "basalt admin %s on %s failed: %s%s" % (" ".join(args), address, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def status(observer):
    """`basalt admin status --format json` of `observer`: address -> node entry."""
    return {n["address"]: n for n in json.loads(admin(observer, "status", "--format", "json"))["nodes"]}


def wait_for(what, predicate, timeout=180, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))


def own_load(address):
    """The node's own Load (bytes of live SSTables) as it reports itself."""
    return status(address)[address]["load"] or 0.0


def create_table(addresses, rf):
    from cassandra import ConsistencyLevel
    c, s = session_on(addresses, ConsistencyLevel.ALL)
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % (KEYSPACE, rf))
    s.execute("CREATE TABLE IF NOT EXISTS %s.kv (k int PRIMARY KEY, v text)" % KEYSPACE)
    c.control_connection.wait_for_schema_agreement(wait_time=20)
    c.shutdown()


def load_rows(addresses, first, count, consistency):
    """Inserts keys first…first+count-1 (value "v<k>") at `consistency`; every write must succeed."""
    from cassandra.concurrent import execute_concurrent_with_args
    c, s = session_on(addresses, consistency)
    insert = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KEYSPACE)
    results = execute_concurrent_with_args(s, insert, [(k, "v%d" % k) for k in range(first, first + count)], concurrency=48,
                                           raise_on_first_error=True)
    assert all(ok for ok, _ in results)
    c.shutdown()


class Writers(Threads):
    """`count` threads inserting distinct keys from `first` at QUORUM through `addresses` until
    stopped or `limit` writes each, remembering every acknowledged key; failed writes are counted
    and never checked (they may or may not have been applied)."""

    def __init__(self, addresses, first, count=2, limit=20000):
        super().__init__()
        from cassandra import ConsistencyLevel
        self.acknowledged = [[] for _ in range(count)]
        self.failures = [0] * count

        def write(w):
            c, s = session_on(addresses, ConsistencyLevel.QUORUM)
            insert = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KEYSPACE)
            for i in range(limit):
                if self.stopping:
                    break
                k = first + i * count + w
                try:
                    s.execute(insert, (k, "v%d" % k), timeout=10)
                    self.acknowledged[w].append(k)
                except Exception:
                    self.failures[w] += 1
            c.shutdown()

        for w in range(count):
            self.spawn(write, w)

    @property
    def keys(self):
        return [k for a in self.acknowledged for k in a]


def missing(coordinators, keys, consistency):
    """The keys a read at `consistency` through `coordinators` only does not return with their value."""
    from cassandra.concurrent import execute_concurrent_with_args
    c, s = session_on(coordinators, consistency)
    select = s.prepare("SELECT v FROM %s.kv WHERE k = ?" % KEYSPACE)
    results = execute_concurrent_with_args(s, select, [(k,) for k in keys], concurrency=48, raise_on_first_error=False)
    lost = []
    for k, (ok, rows) in zip(keys, results):
        got = list(rows) if ok else []
        if not got or got[0].v != "v%d" % k:
            lost.append(k)
    c.shutdown()
    return lost


def node_pid(cluster, i):
    with open(os.path.join(cluster.directory, "node%d" % i, "pid")) as f:
        return int(f.read().strip())


def process_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] == "Z"
    except OSError:
        return True


def try_join(cluster, i, timeout=600):
    """Runs cluster/join I (bootstrap) with a generous bound for a loaded machine; returns the result."""
    env = dict(cluster.env, BASALT_CLUSTER_TIMEOUT=str(timeout))
    return subprocess.run([os.path.join(ROOT, "cluster", "join"), str(i)], env=env, capture_output=True, text=True, timeout=timeout + 60)


def join(cluster, i, timeout=600):
    """cluster/join I; fails the test when the node does not join."""
    done = try_join(cluster, i, timeout)
    assert done.returncode == 0, "cluster/join %d failed: %s" % (i, done.stderr[-3000:])


class Joined:
    """A view of a running cluster whose next cluster/join adds `extra` YAML lines to the new node."""

    def __init__(self, cluster, extra):
        self.env = dict(cluster.env, BASALT_CLUSTER_EXTRA_CONFIG=(cluster.env.get("BASALT_CLUSTER_EXTRA_CONFIG", "") + "\n" + extra).strip())
        self.directory = cluster.directory


def every_row_has_a_second_copy(cluster, stopped, live, keys):
    """For each (index, address) in `stopped` in turn: stops that node gracefully (the others mark it
    down at once), checks every key is read at ONE through the other `live` nodes, starts it again."""
    from cassandra import ConsistencyLevel
    for i, a in stopped:
        others = [b for b in live if b != a]
        cluster.run("stop", i)
        for b in others:
            wait_for("%s to see %s down" % (b, a), lambda: status(b)[a]["state"] == "DN", timeout=60)
        lost = missing(others, keys, ConsistencyLevel.ONE)
        assert not lost, "with %s stopped, %d of %d rows have no other copy: %s" % (a, len(lost), len(keys), lost[:20])
        cluster.run("start", i)


class StateWatcher:
    """Polls `observer`'s status for `target` until stopped, collecting the states seen (UJ, UN, UL…)."""

    def __init__(self, observer, target):
        import urllib.request
        self.seen = []
        self._stop = threading.Event()

        def watch():
            while not self._stop.is_set():
                try:
                    body = urllib.request.urlopen("http://%s:7199/status?format=json" % observer, timeout=5).read()
                    for n in json.loads(body)["nodes"]:
                        if n["address"] == target and (not self.seen or self.seen[-1] != n["state"]):
                            self.seen.append(n["state"])
                except OSError:
                    pass
                time.sleep(0.1)

        self._thread = threading.Thread(target=watch)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)
        return self.seen
