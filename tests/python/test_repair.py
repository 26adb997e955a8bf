"""Anti-entropy repair on a real 3-node cluster (RF 3, 127.0.5.191-193) with hinted handoff off:
node 3 misses inserts, updates and deletes while it is down; after `basalt admin repair` through it,
reads at ONE through node 3 (its own data only) see every change, deleted rows included, and a
second repair finds every range in sync and streams nothing. Then node 2 loses its SSTables and
commit log (identity kept) and a repair through it brings its data back; with node 3 dead a repair
fails, naming it."""
import os
import shutil
import subprocess

from cassandra import ConsistencyLevel

from conftest import basalt_bin, session_on

ADDRESS_BASE = 19
CLUSTER_EXTRA_CONFIG = "hinted_handoff_enabled: false"


def repair(host, *args):
    done = subprocess.run([basalt_bin(), "admin", "repair", *args, "--host", host], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def rows(s):
    return {(r.k, r.c): r.v for r in s.execute("SELECT k, c, v FROM rp.t")}


def test_repair_converges_diverged_replicas_and_a_wiped_node(basalt_cluster, session):
    c = basalt_cluster
    n1, n2, n3 = c.addresses
    session.execute("CREATE KEYSPACE rp WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    session.execute("CREATE TABLE rp.t (k int, c int, v text, PRIMARY KEY (k, c))")
    assert session.cluster.control_connection.wait_for_schema_agreement(wait_time=10)
    all_cluster, everywhere = session_on([n1, n2], ConsistencyLevel.ALL)
    insert = everywhere.prepare("INSERT INTO rp.t (k, c, v) VALUES (?, ?, ?)")
    expected = {}
    for k in range(400):
        for cc in range(2):
            everywhere.execute(insert, (k, cc, "old"))
            expected[(k, cc)] = "old"

    c.run("kill", 3)
    quorum_cluster, quorum = session_on([n1, n2], ConsistencyLevel.QUORUM)
    insert_q = quorum.prepare("INSERT INTO rp.t (k, c, v) VALUES (?, ?, ?)")
    for k in range(400, 600):
        quorum.execute(insert_q, (k, 0, "new"))
        expected[(k, 0)] = "new"
    for k in range(0, 50):
        quorum.execute(insert_q, (k, 1, "updated"))
        expected[(k, 1)] = "updated"
    for k in range(50, 80):
        quorum.execute("DELETE FROM rp.t WHERE k = %s AND c = 0", (k,))
        del expected[(k, 0)]
    for k in range(80, 90):
        quorum.execute("DELETE FROM rp.t WHERE k = %s", (k,))
        expected.pop((k, 0), None)
        expected.pop((k, 1), None)
    c.run("start", 3)

    local_cluster, local3 = session_on([n3], ConsistencyLevel.ONE)
    stale = rows(local3)
    assert (450, 0) not in stale and stale[(60, 0)] == "old" and stale[(10, 1)] == "old"

    out = repair(n3, "rp", "--full")
    assert "repair" in out and "started" in out and "completed" in out
    final = out.strip().splitlines()[-1]
    assert final.startswith("  rp.t: 48/48 ranges done") and " 0 out of sync" not in final and "0 failed" in final
    assert rows(local3) == expected
    # Every replica agrees now: a second repair compares equal trees everywhere and streams nothing.
    again = repair(n3, "rp", "t")
    assert "completed" in again and " 0 out of sync" in again and "sync tasks 0/0" in again and "0 bytes streamed" in again

    # Bad requests are refused with a reason.
    bad = subprocess.run([basalt_bin(), "admin", "repair", "nosuch", "--host", n1], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "keyspace nosuch does not exist" in bad.stderr

    # Node 2 loses its data (identity and schema kept) and gets it back by repair.
    c.run("kill", 2)
    data = os.path.join(c.directory, "node2", "data")
    shutil.rmtree(os.path.join(data, "data", "rp"))
    shutil.rmtree(os.path.join(data, "commitlog"))
    c.run("start", 2)
    local2_cluster, local2 = session_on([n2], ConsistencyLevel.ONE)
    assert rows(local2) == {}
    out = repair(n2, "--primary-range")  # only the ranges node 2 is the primary owner of
    assert "completed" in out
    partial = rows(local2)
    assert 0 < len(partial) < len(expected)
    repair(n2)
    assert rows(local2) == expected

    # A replica that is dead fails the ranges that need it: the repair ends, reports why, exits 1.
    c.run("kill", 3)
    dead = subprocess.run([basalt_bin(), "admin", "repair", "rp", "--host", n1], capture_output=True, text=True, timeout=600)
    assert dead.returncode == 1, dead.stdout + dead.stderr
    assert ": failed" in dead.stdout and "failed (" in dead.stdout and n3 in dead.stdout, dead.stdout
    for cl in (all_cluster, quorum_cluster, local_cluster, local2_cluster):
        cl.shutdown()
