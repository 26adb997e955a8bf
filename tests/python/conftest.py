"""Fixtures that run real Basalt nodes for the driver tests.

`basalt_cluster(prefix_index)` starts nodes on 127.0.5.x and 127.0.3.x (the blocks assigned to these tests) and
stops them when the module's tests are done, also on failure:

* by default a 3-node cluster of `basalt server` processes (BASALT_CLUSTER_PREFIX=`cluster_prefix(base)`,
  a temporary BASALT_CLUSTER_DIR, `cluster/up` and `cluster/down`); a module's
  CLUSTER_EXTRA_CONFIG (YAML lines) is added to every node's configuration;
* one `basalt cql-standalone` node (CQL over a single-node coordinator) when the module sets
  STANDALONE_FLAGS or CLUSTER_NODES = 1, or BASALT_CQL_NODES=1 is set.

The fixture's `nodes` says which one ran; tests adapt expectations (replication factor,
which levels are available) to it. `run(script, *args)` runs a `cluster/` script (kill, start,
pause, resume, status) against the module's cluster.
"""
import os
import shutil
import sys
import socket
import subprocess
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "chaos"))
from harness import metric as admin_metric, session_on  # noqa: E402,F401  (the chaos scripts' helpers, for the tests)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def basalt_bin():
    for candidate in [os.environ.get("BASALT_BIN"), os.path.join(ROOT, ".build", "debug", "basalt"),
                      os.path.join(ROOT, ".build-cqlserver", "debug", "basalt")]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no basalt binary: set BASALT_BIN")


def wait_for_port(host, port, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class RunningCluster:
    def __init__(self, addresses, nodes, stop, directory, env=None):
        self.addresses = addresses
        self.nodes = nodes
        self.stop = stop
        self.directory = directory
        self.env = env

    def run(self, script, *args, timeout=300):
        """Runs cluster/<script> against this cluster; fails the test when it fails."""
        done = subprocess.run([os.path.join(ROOT, "cluster", script)] + [str(a) for a in args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            pytest.fail("cluster/%s %s failed: %s" % (script, " ".join(map(str, args)), done.stderr[-3000:]))
        return done.stdout


def start_standalone(address, directory, extra):
    log = open(os.path.join(directory, "node.log"), "w")
    proc = subprocess.Popen([basalt_bin(), "cql-standalone", "--address", address, "--data-dir", os.path.join(directory, "data"),
                             "--cluster-name", "Basalt Test Cluster"] + extra, stdout=log, stderr=subprocess.STDOUT)

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

    if not wait_for_port(address, 9042, 60):
        stop()
        with open(os.path.join(directory, "node.log")) as f:
            pytest.fail("standalone node did not start: " + f.read()[-2000:])
    return RunningCluster([address], 1, stop, directory)


def cluster_prefix(base):
    """Where a module's nodes listen: node i on the prefix + i, 127.0.5.<base><i> for ADDRESS_BASE
    1…25 and 127.0.3.<base - 25><i> for 26…50."""
    if not 1 <= base <= 50:
        raise ValueError("ADDRESS_BASE must be 1…50, got %d" % base)
    return "127.0.5.%d" % base if base <= 25 else "127.0.3.%d" % (base - 25)


def standalone_address(base):
    """A standalone node's address: the prefix's 0th address."""
    return cluster_prefix(base) + "0"


def start_cluster(base, directory, count, extra_config="", node_env=None):
    """`node_env` maps a node index to extra environment for its process (VAR=value words, the
    cluster scripts' BASALT_NODE<I>_ENV), e.g. {3: "LD_PRELOAD=… FAKETIME=+10m"}."""
    env = dict(os.environ, BASALT_CLUSTER_PREFIX=cluster_prefix(base), BASALT_CLUSTER_DIR=directory, BASALT_BIN=basalt_bin(),
               BASALT_CLUSTER_EXTRA_CONFIG=extra_config)
    for i, words in (node_env or {}).items():
        env["BASALT_NODE%d_ENV" % i] = words
    up = subprocess.run([os.path.join(ROOT, "cluster", "up"), str(count)], env=env, capture_output=True, text=True, timeout=300)

    def stop():
        subprocess.run([os.path.join(ROOT, "cluster", "down")], env=env, capture_output=True, text=True, timeout=120)

    if up.returncode != 0:
        stop()
        pytest.fail("cluster/up failed: " + up.stderr[-3000:])
    addresses = ["%s%d" % (cluster_prefix(base), i) for i in range(1, count + 1)]
    for a in addresses:
        if not wait_for_port(a, 9042, 60):
            stop()
            pytest.fail("node %s does not serve CQL" % a)
    return RunningCluster(addresses, count, stop, directory, env)


def use_cluster_scripts(module):
    if getattr(module, "STANDALONE_FLAGS", None):
        return False
    forced = getattr(module, "CLUSTER_NODES", None)
    if forced is not None:
        return forced > 1
    return os.environ.get("BASALT_CQL_NODES") != "1"


@pytest.fixture(scope="module")
def basalt_cluster(request):
    """Nodes for one test module; `request.module.ADDRESS_BASE` (1…50, see `cluster_prefix`) picks its addresses."""
    base = getattr(request.module, "ADDRESS_BASE", 1)
    extra = getattr(request.module, "STANDALONE_FLAGS", [])
    directory = tempfile.mkdtemp(prefix="basalt-pytest-")
    if use_cluster_scripts(request.module):
        running = start_cluster(base, directory, 3, getattr(request.module, "CLUSTER_EXTRA_CONFIG", ""))
    else:
        running = start_standalone(standalone_address(base), directory, extra)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def session(basalt_cluster):
    from cassandra.cluster import Cluster
    cluster = Cluster(contact_points=basalt_cluster.addresses)
    s = cluster.connect()
    try:
        yield s
    finally:
        cluster.shutdown()
