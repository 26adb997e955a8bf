"""What the chaos scripts share: the `cluster/` scripts, a node's admin endpoint, driver sessions,
writer threads that remember every acknowledged QUORUM write, and the final check that none of
them was lost."""
import os
import re
import subprocess
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def node_addresses(nodes):
    """Nodes 1…`nodes` of the cluster the `cluster/` scripts' environment (BASALT_CLUSTER_PREFIX) names."""
    prefix = os.environ.get("BASALT_CLUSTER_PREFIX", "127.0.0.")
    return ["%s%d" % (prefix, i) for i in range(1, nodes + 1)]


def cluster(script, *args):
    """Runs cluster/<script> (its environment chooses the cluster); raises when it fails."""
    done = subprocess.run([os.path.join(ROOT, "cluster", script)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError("cluster/%s failed: %s" % (script, done.stderr[-2000:]))
    return done.stdout


def metric(address, name):
    """A value from the node's Prometheus text (0 when absent), None when the node does not answer."""
    try:
        body = urllib.request.urlopen("http://%s:7199/metrics" % address, timeout=5).read().decode()
    except OSError:
        return None
    m = re.search(r"^%s (\S+)$" % re.escape(name), body, re.M)
    return float(m.group(1)) if m else 0.0


def status_table(address):
    """The node's `/status` table, or "" when it does not answer."""
    try:
        return urllib.request.urlopen("http://%s:7199/status" % address, timeout=5).read().decode()
    except OSError:
        return ""


def sees_all_up(observer, addresses):
    table = status_table(observer)
    return all(re.search(r"^UN +%s " % re.escape(a), table, re.M) for a in addresses)


def sees_down(observer, target):
    return re.search(r"^DN +%s " % re.escape(target), status_table(observer), re.M) is not None


def session_on(addresses, consistency):
    """A driver session whose requests go to `addresses` only, at `consistency`, never retried elsewhere."""
    from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
    from cassandra.policies import FallthroughRetryPolicy, WhiteListRoundRobinPolicy
    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy(addresses), consistency_level=consistency,
                               retry_policy=FallthroughRetryPolicy(), request_timeout=30)
    c = Cluster(contact_points=addresses, execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    return c, c.connect()


class QuorumWriters:
    """`count` threads inserting distinct keys `(writer, seq)` into `chaos.<table>` (RF 3) at QUORUM
    through `contact_points(writer)`, remembering every acknowledged one; failed writes are counted
    and never checked (they may or may not have been applied)."""

    def __init__(self, addresses, table, count, contact_points, execute_timeout=None):
        from cassandra import ConsistencyLevel
        self.addresses = addresses
        self.table = "chaos." + table
        self.acknowledged = [[] for _ in range(count)]
        self.failures = [0] * count
        self._stop = threading.Event()
        admin_cluster, admin = session_on(addresses, ConsistencyLevel.ALL)
        admin.execute("CREATE KEYSPACE IF NOT EXISTS chaos WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
        admin.execute("CREATE TABLE IF NOT EXISTS %s (writer int, seq int, v text, PRIMARY KEY (writer, seq))" % self.table)
        admin_cluster.control_connection.wait_for_schema_agreement(wait_time=10)
        admin_cluster.shutdown()

        def write(w):
            c, s = session_on(contact_points(w), ConsistencyLevel.QUORUM)
            insert = s.prepare("INSERT INTO %s (writer, seq, v) VALUES (?, ?, ?)" % self.table)
            seq = 0
            while not self._stop.is_set() and seq < 1_000_000:
                try:
                    s.execute(insert, (w, seq, "v%d" % seq), timeout=execute_timeout)
                    self.acknowledged[w].append(seq)
                except Exception:
                    self.failures[w] += 1
                seq += 1
            c.shutdown()

        self._threads = [threading.Thread(target=write, args=(w,)) for w in range(count)]
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)

    @property
    def total(self):
        return sum(len(a) for a in self.acknowledged)

    def lost_at(self, nodes, consistency):
        """The acknowledged keys a read at `consistency` through `nodes` does not return."""
        c, s = session_on(nodes, consistency)
        select = s.prepare("SELECT seq FROM %s WHERE writer = ?" % self.table)
        lost = []
        for w, acked in enumerate(self.acknowledged):
            seen = {row.seq for row in s.execute(select, (w,))}
            lost += [(w, q) for q in acked if q not in seen]
        c.shutdown()
        return lost


def settle_and_check(writers):
    """After the faults: waits (bounded) until every node sees every node up and no hint is pending,
    reports what each replica holds alone, and checks that every acknowledged write is read back at
    QUORUM and at ALL. Returns the exit status: 0 when nothing acknowledged was lost."""
    from cassandra import ConsistencyLevel
    addresses = writers.addresses
    up_deadline = time.time() + 120
    while time.time() < up_deadline and not all(sees_all_up(a, addresses) for a in addresses):
        time.sleep(0.5)
    drain_deadline = time.time() + 180
    while time.time() < drain_deadline and not all(metric(a, "basalt_hints_pending") == 0 for a in addresses):
        time.sleep(0.5)
    print("chaos: hints pending after the run: %s" % [metric(a, "basalt_hints_pending") for a in addresses])
    total = writers.total
    # First each replica alone (ONE through itself reads only its own data and repairs nothing):
    # what hints alone brought back. A hint written less than a second before its coordinator was
    # killed may be lost (hint files are synced every second), so this is reported, not required.
    for a in addresses:
        print("chaos: replica %s alone: %d of %d acknowledged writes missing" % (a, len(writers.lost_at([a], ConsistencyLevel.ONE)), total))
    # The guarantee: every acknowledged QUORUM write is read back at QUORUM and ALL.
    missing = {}
    for name, level in (("QUORUM", ConsistencyLevel.QUORUM), ("ALL", ConsistencyLevel.ALL)):
        lost = writers.lost_at(addresses, level)
        if lost:
            missing[name] = lost
        print("chaos: read at %s: %d of %d acknowledged writes missing" % (name, len(lost), total))
    if missing:
        for name, lost in missing.items():
            print("chaos: LOST at %s: %s" % (name, lost[:20]))
        return 1
    print("chaos: nothing acknowledged was lost")
    return 0
