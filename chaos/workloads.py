"""The chaos runs' workloads and their checkers.

Every operation is recorded in an `History` (workload, kind, start, end, outcome), from which the
run computes availability during each fault and failures by type. Two workloads:

* `SetWorkload`: writer threads insert distinct keys `(writer, seq)` at QUORUM and remember every
  acknowledged one. Checked afterwards: every acknowledged key is read back at QUORUM and at ALL
  (lost), and nothing is read that no writer ever tried to insert (unexpected).
* `RegisterWorkload`: a few keys, each owned by one writer thread that writes increasing values at
  QUORUM; reader threads read random keys at QUORUM. Checked afterwards, per key: no read returns a
  value older than one a read that had already completed returned, or than one whose write had
  already been acknowledged (stale), and no read returns a value never written (unexpected).

Failed writes are never checked either way: they may or may not have been applied.
"""
import bisect
import random
import threading
import time

from harness import session_on

# After a failed operation a thread waits this long (seconds), so a node refusing at once is not
# asked thousands of times a second.
FAILURE_PAUSE = 0.05


def failure_name(error):
    """The kind of a failed operation as a client sees it (the driver's exception class)."""
    return type(error).__name__


class History:
    """Every operation of every workload: (workload, kind, start, end, error kind or None). Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.operations = []

    def record(self, workload, kind, start, end, error=None):
        with self._lock:
            self.operations.append((workload, kind, start, end, None if error is None else failure_name(error)))

    def snapshot(self):
        with self._lock:
            return list(self.operations)

    def summary(self):
        """workload -> {"ok": n, "failed": n, "failures": {kind: n}}."""
        out = {}
        for workload, _, _, _, error in self.snapshot():
            w = out.setdefault(workload, {"ok": 0, "failed": 0, "failures": {}})
            if error is None:
                w["ok"] += 1
            else:
                w["failed"] += 1
                w["failures"][error] = w["failures"].get(error, 0) + 1
        return out

    def availability(self, start, end):
        """workload -> {"ok", "total", "availability"} of the operations started in [start, end)."""
        out = {}
        for workload, _, s, _, error in self.snapshot():
            if start <= s < end:
                w = out.setdefault(workload, {"ok": 0, "total": 0})
                w["total"] += 1
                w["ok"] += error is None
        for w in out.values():
            w["availability"] = round(w["ok"] / w["total"], 4) if w["total"] else None
        return out


class Threads:
    """Named worker threads that loop until stopped or `limit` iterations each."""

    def __init__(self):
        self._stop = threading.Event()
        self._threads = []

    def spawn(self, body, *args):
        t = threading.Thread(target=body, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    @property
    def stopping(self):
        return self._stop.is_set()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)


def create_table(addresses, ddl):
    from cassandra import ConsistencyLevel
    c, s = session_on(addresses, ConsistencyLevel.ALL)
    s.execute("CREATE KEYSPACE IF NOT EXISTS chaos WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    s.execute(ddl)
    c.control_connection.wait_for_schema_agreement(wait_time=10)
    c.shutdown()


class SetWorkload(Threads):
    """`count` threads inserting distinct keys `(writer, seq)` into `chaos.<table>` (RF 3) at QUORUM
    through `contact_points(writer)`, remembering every acknowledged one."""
    name = "set"

    def __init__(self, addresses, table, count, contact_points, history=None, execute_timeout=None, limit=1_000_000):
        super().__init__()
        from cassandra import ConsistencyLevel
        self.addresses = addresses
        self.table = "chaos." + table
        self.history = history or History()
        self.acknowledged = [[] for _ in range(count)]
        self.attempted = [0] * count
        self.failures = [0] * count
        create_table(addresses, "CREATE TABLE IF NOT EXISTS %s (writer int, seq int, v text, PRIMARY KEY (writer, seq))" % self.table)

        def write(w):
            c, s = session_on(contact_points(w), ConsistencyLevel.QUORUM)
            insert = s.prepare("INSERT INTO %s (writer, seq, v) VALUES (?, ?, ?)" % self.table)
            seq = 0
            while not self.stopping and seq < limit:
                self.attempted[w] = seq + 1
                start = time.time()
                try:
                    s.execute(insert, (w, seq, "v%d" % seq), timeout=execute_timeout)
                    self.acknowledged[w].append(seq)
                    self.history.record(self.name, "insert", start, time.time())
                except Exception as e:
                    self.failures[w] += 1
                    self.history.record(self.name, "insert", start, time.time(), e)
                    time.sleep(FAILURE_PAUSE)
                seq += 1
            c.shutdown()

        for w in range(count):
            self.spawn(write, w)

    @property
    def total(self):
        return sum(len(a) for a in self.acknowledged)

    def read_all(self, nodes, consistency):
        """writer -> {seq: value} as a read at `consistency` through `nodes` returns them."""
        c, s = session_on(nodes, consistency)
        select = s.prepare("SELECT seq, v FROM %s WHERE writer = ?" % self.table)
        seen = {w: {row.seq: row.v for row in s.execute(select, (w,))} for w in range(len(self.acknowledged))}
        c.shutdown()
        return seen

    def lost_at(self, nodes, consistency):
        """The acknowledged keys a read at `consistency` through `nodes` does not return."""
        seen = self.read_all(nodes, consistency)
        return [(w, q) for w, acked in enumerate(self.acknowledged) for q in acked if q not in seen[w]]

    def check(self, nodes, consistency):
        """{"lost": [...], "unexpected": [...]} of a read of every key at `consistency`."""
        seen = self.read_all(nodes, consistency)
        lost = [(w, q) for w, acked in enumerate(self.acknowledged) for q in acked if q not in seen[w]]
        unexpected = [(w, q) for w, rows in seen.items() for q, v in rows.items() if q >= self.attempted[w] or v != "v%d" % q]
        return {"lost": lost, "unexpected": unexpected}


class RegisterWorkload(Threads):
    """Per-key registers in `chaos.<table>`: `keys` keys, each written by one of `writers` threads
    with increasing values, read by `readers` threads, all at QUORUM through `addresses`."""
    name = "register"

    def __init__(self, addresses, table, history, keys=8, writers=2, readers=2, execute_timeout=None, seed=0, limit=1_000_000):
        super().__init__()
        from cassandra import ConsistencyLevel
        self.table = "chaos." + table
        self.history = history
        self.keys = keys
        self.attempted = [0] * keys  # highest value ever sent for each key
        self.writes = [[] for _ in range(keys)]  # (end, value) of acknowledged writes
        self.reads = [[] for _ in range(keys)]  # (start, end, value) of completed reads
        create_table(addresses, "CREATE TABLE IF NOT EXISTS %s (k int PRIMARY KEY, v bigint)" % self.table)

        def write(w):
            c, s = session_on(addresses, ConsistencyLevel.QUORUM)
            update = s.prepare("UPDATE %s SET v = ? WHERE k = ?" % self.table)
            owned = list(range(w, keys, writers))
            for i in range(limit):
                if self.stopping:
                    break
                k = owned[i % len(owned)]
                value = self.attempted[k] + 1
                self.attempted[k] = value
                start = time.time()
                try:
                    s.execute(update, (value, k), timeout=execute_timeout)
                    end = time.time()
                    self.writes[k].append((end, value))
                    self.history.record(self.name, "write", start, end)
                except Exception as e:
                    self.history.record(self.name, "write", start, time.time(), e)
                    time.sleep(FAILURE_PAUSE)
            c.shutdown()

        def read(r):
            rng = random.Random(seed * 1000 + r)
            c, s = session_on(addresses, ConsistencyLevel.QUORUM)
            select = s.prepare("SELECT v FROM %s WHERE k = ?" % self.table)
            for _ in range(limit):
                if self.stopping:
                    break
                k = rng.randrange(keys)
                start = time.time()
                try:
                    rows = list(s.execute(select, (k,), timeout=execute_timeout))
                    end = time.time()
                    self.reads[k].append((start, end, rows[0].v if rows and rows[0].v is not None else 0))
                    self.history.record(self.name, "read", start, end)
                except Exception as e:
                    self.history.record(self.name, "read", start, time.time(), e)
                    time.sleep(FAILURE_PAUSE)
            c.shutdown()

        for w in range(writers):
            self.spawn(write, w)
        for r in range(readers):
            self.spawn(read, r)

    def check(self):
        """{"stale": [...], "unexpected": [...], "reads": n}: each stale read with the value it
        returned and the newer one already read or acknowledged before it started."""
        stale, unexpected, reads = [], [], 0
        for k in range(self.keys):
            # Everything known to be in place by a moment: reads completed and writes acknowledged.
            known = sorted([(end, v) for _, end, v in self.reads[k]] + self.writes[k])
            ends = [e for e, _ in known]
            newest = []
            for _, v in known:
                newest.append(max(v, newest[-1]) if newest else v)
            for start, end, v in self.reads[k]:
                reads += 1
                if v > self.attempted[k]:
                    unexpected.append({"key": k, "value": v, "highest_written": self.attempted[k]})
                i = bisect.bisect_left(ends, start)
                if i > 0 and newest[i - 1] > v:
                    stale.append({"key": k, "value": v, "newer_already": newest[i - 1], "start": start, "end": end})
        return {"stale": stale, "unexpected": unexpected, "reads": reads}
