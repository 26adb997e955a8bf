"""Blocking read repair on a real 3-node cluster (RF 3) with hinted handoff turned off: node 3
misses writes while it is down, stays stale after it restarts (reads at ONE through it show the
old data), and a QUORUM read through it repairs it before answering."""
from cassandra import ConsistencyLevel

from conftest import admin_metric, session_on

ADDRESS_BASE = 7
CLUSTER_EXTRA_CONFIG = "hinted_handoff_enabled: false"


def test_a_stale_replica_is_repaired_by_a_quorum_read(basalt_cluster, session):
    c = basalt_cluster
    n1, n2, n3 = c.addresses
    session.execute("CREATE KEYSPACE rr WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    session.execute("CREATE TABLE rr.t (k int, c int, v text, PRIMARY KEY (k, c))")
    assert session.cluster.control_connection.wait_for_schema_agreement(wait_time=10)
    old_cluster, old = session_on([n1, n2], ConsistencyLevel.ALL)
    for k in range(50):
        old.execute("INSERT INTO rr.t (k, c, v) VALUES (%s, 1, 'old')", (k,))

    c.run("kill", 3)
    writes_cluster, writes = session_on([n1, n2], ConsistencyLevel.QUORUM)
    for k in range(50):
        writes.execute("INSERT INTO rr.t (k, c, v) VALUES (%s, 1, 'new')", (k,))
        writes.execute("INSERT INTO rr.t (k, c, v) VALUES (%s, 2, 'added')", (k,))
    writes.execute("DELETE FROM rr.t WHERE k = 0 AND c = 1")
    assert admin_metric(n1, "basalt_hints_written_total") == 0 and admin_metric(n2, "basalt_hints_written_total") == 0
    c.run("start", 3)

    stale_cluster, stale = session_on([n3], ConsistencyLevel.ONE)
    assert [r.v for r in stale.execute("SELECT v FROM rr.t WHERE k = 7")] == ["old"]
    repaired_before = admin_metric(n3, "basalt_coordinator_read_repairs_total")

    quorum_cluster, quorum = session_on([n3], ConsistencyLevel.QUORUM)
    for k in range(1, 50):
        assert [(r.c, r.v) for r in quorum.execute("SELECT c, v FROM rr.t WHERE k = %s", (k,))] == [(1, "new"), (2, "added")]
    assert [(r.c, r.v) for r in quorum.execute("SELECT c, v FROM rr.t WHERE k = 0")] == [(2, "added")]
    assert admin_metric(n3, "basalt_coordinator_read_repairs_total") - repaired_before >= 50

    # Node 3 now holds the repaired data itself: reads at ONE through it (local only) see it.
    for k in range(1, 50):
        assert [(r.c, r.v) for r in stale.execute("SELECT c, v FROM rr.t WHERE k = %s", (k,))] == [(1, "new"), (2, "added")]
    assert [(r.c, r.v) for r in stale.execute("SELECT c, v FROM rr.t WHERE k = 0")] == [(2, "added")]
    for cl in (old_cluster, writes_cluster, stale_cluster, quorum_cluster):
        cl.shutdown()
