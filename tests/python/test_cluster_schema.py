"""A real 3-node cluster of `basalt server` processes (gossip, schema distribution, system
tables from membership) seen by the driver with default settings: every node in the token map
with its tokens, DDL on any node reaching schema agreement at once, system.peers rows, and
DESCRIBE through cqlsh. Data reads and writes are not checked here (see test_driver_basics.py)."""
import os
import subprocess
import sys
import time

from cassandra.cluster import Cluster
from cassandra.policies import WhiteListRoundRobinPolicy

ADDRESS_BASE = 5
CLUSTER_NODES = 3


def test_driver_sees_every_node_and_the_ring(basalt_cluster, session):
    cluster = session.cluster
    hosts = cluster.metadata.all_hosts()
    assert sorted(h.address for h in hosts) == sorted(basalt_cluster.addresses)
    assert all(h.is_up and h.datacenter == "datacenter1" and h.rack == "rack1" for h in hosts)
    token_map = cluster.metadata.token_map
    owners = {token_map.token_to_host_owner[t].address for t in token_map.ring}
    assert owners == set(basalt_cluster.addresses)
    assert len(token_map.ring) == 3 * 16
    local = session.execute("SELECT release_version, partitioner, tokens FROM system.local").one()
    assert local.release_version == "5.0.0" and len(local.tokens) == 16
    peers = list(session.execute("SELECT peer, native_address, native_port, host_id, tokens FROM system.peers_v2"))
    assert len(peers) == 2 and all(p.native_port == 9042 and len(p.tokens) == 16 for p in peers)


def test_schema_agreement_after_ddl_on_every_node(basalt_cluster, session):
    for i, address in enumerate(basalt_cluster.addresses):
        other = Cluster(contact_points=[address])
        s = other.connect()
        try:
            start = time.time()
            s.execute("CREATE KEYSPACE agree%d WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}" % i)
            s.execute("CREATE TABLE agree%d.t (k int PRIMARY KEY, v text, l list<int>)" % i)
            s.execute("ALTER TABLE agree%d.t ADD w int" % i)
            # The driver waits (up to 10 s each) for agreement after every DDL; three in well under that.
            assert time.time() - start < 6
            assert other.control_connection.wait_for_schema_agreement(wait_time=5)
        finally:
            other.shutdown()
    assert session.cluster.control_connection.wait_for_schema_agreement(wait_time=5)
    versions = {session.execute("SELECT schema_version FROM system.local").one()[0]}
    versions |= {r.schema_version for r in session.execute("SELECT schema_version FROM system.peers")}
    assert len(versions) == 1
    session.cluster.refresh_schema_metadata()
    for i in range(3):
        assert set(session.cluster.metadata.keyspaces["agree%d" % i].tables["t"].columns) == {"k", "v", "l", "w"}


def test_cqlsh_describes_the_cluster_schema(basalt_cluster, session):
    session.execute("CREATE KEYSPACE IF NOT EXISTS shown WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
    session.execute("CREATE TABLE IF NOT EXISTS shown.t (a int, b text, PRIMARY KEY (a, b))")
    binary = os.path.join(os.path.dirname(sys.executable), "cqlsh")
    for address in basalt_cluster.addresses:
        out = subprocess.run([binary, address, "-e", "DESCRIBE KEYSPACES; DESCRIBE TABLE shown.t"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "shown" in out.stdout and "PRIMARY KEY (a, b)" in out.stdout


def test_probes_answer_for_orchestrators(basalt_cluster):
    """`/health` and `/ready` on every node's admin port, over HTTP and through `basalt admin`."""
    import urllib.request
    from conftest import basalt_bin
    for a in basalt_cluster.addresses:
        for path, body in (("/health", b"alive\n"), ("/ready", b"ready\n")):
            with urllib.request.urlopen("http://%s:7199%s" % (a, path), timeout=10) as r:
                assert r.status == 200 and r.read() == body
        done = subprocess.run([basalt_bin(), "admin", "ready", "--host", a], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout == "ready\n", done.stderr
    # A node that does not answer is neither healthy nor ready.
    done = subprocess.run([basalt_bin(), "admin", "health", "--host", "127.0.5.59", "--timeout", "2"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "cannot reach" in done.stderr


def test_a_node_back_at_a_new_address_replaces_its_old_one(basalt_cluster):
    """Node 3 stopped and started at another address with its data (a pod rescheduled with a new
    IP): it keeps its host id and tokens, and the others drop its old address from their status
    and the driver's peers. Runs last in this module: it leaves node 3 at the new address."""
    import json
    import signal
    from conftest import basalt_bin
    from movement import wait_for
    old, new = basalt_cluster.addresses[2], "127.0.5.54"
    node = os.path.join(basalt_cluster.directory, "node3")
    def status(a):
        done = subprocess.run([basalt_bin(), "admin", "status", "--format", "json", "--host", a], capture_output=True, text=True, timeout=60)
        return {n["address"]: n for n in json.loads(done.stdout)["nodes"]} if done.returncode == 0 else {}
    host_id = status(old)[old]["hostId"]
    with open(os.path.join(node, "pid")) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)
    wait_for("node 3 to stop", lambda: not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z", 60)
    config = os.path.join(node, "basalt.yaml")
    with open(config) as f:
        text = f.read().replace("listen_address: %s\n" % old, "listen_address: %s\n" % new)
    with open(config, "w") as f:
        f.write(text)
    with open(os.path.join(node, "basalt.log"), "a") as log:
        proc = subprocess.Popen([basalt_bin(), "server", "--config", config, "--log-file", os.path.join(node, "basalt.log")],
                                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    with open(os.path.join(node, "pid"), "w") as f:
        f.write(str(proc.pid))  # cluster/down stops it with the others
    others = basalt_cluster.addresses[:2]
    for a in others + [new]:
        wait_for("%s to see node 3 at its new address only" % a,
                 lambda: (lambda s: s.get(new, {}).get("hostId") == host_id and s[new]["state"] == "UN" and old not in s)(status(a)), 120)
    # Asked of nodes 1 and 2 only: the driver learns node 3's new address and could send the
    # query there, where system.peers lists nodes 1 and 2.
    c = Cluster(contact_points=others, load_balancing_policy=WhiteListRoundRobinPolicy(others))
    try:
        s = c.connect()
        for _ in others:
            peers = {str(r.peer) for r in s.execute("SELECT peer FROM system.peers")}
            assert new in peers and old not in peers
    finally:
        c.shutdown()
