"""What the chaos scripts share: the `cluster/` scripts, a node's admin endpoint, driver sessions,
and the final check that no acknowledged write was lost (the workloads are in workloads.py, the
faults in faults.py)."""
import os
import re
import subprocess
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def node_addresses(nodes):
    """Nodes 1…`nodes` of the cluster the `cluster/` scripts' environment (BASALT_CLUSTER_PREFIX) names."""
    prefix = os.environ.get("BASALT_CLUSTER_PREFIX", "127.0.0.")
    return ["%s%d" % (prefix, i) for i in range(1, nodes + 1)]


def cluster(script, *args, env=None):
    """Runs cluster/<script> (its environment chooses the cluster); raises when it fails."""
    done = subprocess.run([os.path.join(ROOT, "cluster", script)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=300, env=env)
    if done.returncode != 0:
        raise RuntimeError("cluster/%s failed: %s" % (script, done.stderr[-2000:]))
    return done.stdout


def node_directory(node):
    """Node `node`'s directory (configuration, data, log, pid) under BASALT_CLUSTER_DIR."""
    base = os.environ.get("BASALT_CLUSTER_DIR", os.path.join(ROOT, ".cluster"))
    return os.path.join(os.path.abspath(base), "node%d" % node)


def node_pid(node):
    """The pid of node `node`, or None when it has no pid file."""
    try:
        with open(os.path.join(node_directory(node), "pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def basalt_binary():
    return os.environ.get("BASALT_BIN") or os.path.join(ROOT, ".build", "release", "basalt")


def admin(address, *args, timeout=120):
    """Runs `basalt admin ARGS --host address`; raises when it fails."""
    done = subprocess.run([basalt_binary(), "admin"] + list(args) + ["--host", address], capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError("basalt admin %s on %s failed: %s%s" % (" ".join(args), address, done.stdout[-1000:], done.stderr[-1000:]))
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
    """A driver session whose requests go to `addresses` only, at `consistency`, never retried elsewhere.
    It tries to reconnect to a node every second (not the driver's exponential back-off): a session
    that knows one node only hears of nothing else and would otherwise stay away for minutes."""
    from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
    from cassandra.policies import ConstantReconnectionPolicy, FallthroughRetryPolicy, WhiteListRoundRobinPolicy
    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy(addresses), consistency_level=consistency,
                               retry_policy=FallthroughRetryPolicy(), request_timeout=30)
    c = Cluster(contact_points=addresses, execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                reconnection_policy=ConstantReconnectionPolicy(1.0, max_attempts=None))
    try:
        return c, c.connect()
    except Exception:
        c.shutdown()
        raise


def settle(addresses, up_timeout=120, drain_timeout=180):
    """After the faults: waits (bounded) until every node sees every node up and no hint is pending
    on any node. Returns the hints still pending per node."""
    up_deadline = time.time() + up_timeout
    while time.time() < up_deadline and not all(sees_all_up(a, addresses) for a in addresses):
        time.sleep(0.5)
    drain_deadline = time.time() + drain_timeout
    while time.time() < drain_deadline and not all(metric(a, "basalt_hints_pending") == 0 for a in addresses):
        time.sleep(0.5)
    return {a: metric(a, "basalt_hints_pending") for a in addresses}
