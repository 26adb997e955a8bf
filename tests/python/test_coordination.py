"""Replication and coordination on a real 3-node cluster (RF 3) through the real driver: QUORUM
survives a killed node, ALL is Unavailable once the node is seen down, and a node killed while
writes at ONE go on receives every acknowledged write through hinted handoff after it restarts —
checked by reading at ONE with node 3 as the only coordinator (a local read: no digests, no repair).
"""
import re
import threading
import time
import urllib.request

import pytest
from cassandra import ConsistencyLevel, Unavailable
from cassandra.query import SimpleStatement

from conftest import admin_metric, session_on

ADDRESS_BASE = 6


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    pytest.fail("timed out after %ss waiting for %s" % (timeout, what))


def sees_down(observer, target):
    """Whether `observer`'s failure detector has marked `target` down (its admin status table)."""
    status = urllib.request.urlopen("http://%s:7199/status" % observer, timeout=5).read().decode()
    return re.search(r"^DN +%s " % re.escape(target), status, re.M) is not None


@pytest.fixture(scope="module")
def schema(basalt_cluster, session):
    session.execute("CREATE KEYSPACE coord WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    session.execute("CREATE TABLE coord.kv (k int PRIMARY KEY, v text)")
    assert session.cluster.control_connection.wait_for_schema_agreement(wait_time=10)
    return basalt_cluster


def test_a_killed_node_is_hinted_and_catches_up(schema):
    c = schema
    n1, n2, n3 = c.addresses
    writer_cluster, writer = session_on([n1, n2], ConsistencyLevel.ONE)
    insert = writer.prepare("INSERT INTO coord.kv (k, v) VALUES (?, ?)")
    acknowledged = []
    failures = []
    stop = threading.Event()

    def write_loop():
        k = 0
        while not stop.is_set() and k < 20000:
            try:
                writer.execute(insert, (k, "value-%d" % k))
                acknowledged.append(k)
            except Exception as e:  # counted, the test asserts there are none
                failures.append(repr(e))
            k += 1

    thread = threading.Thread(target=write_loop)
    thread.start()
    try:
        wait_until(lambda: len(acknowledged) >= 300, 60, "writes before the kill")
        c.run("kill", 3)
        wait_until(lambda: len(acknowledged) >= 900, 120, "writes after the kill")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures[:5]

    # QUORUM still works with node 3 dead (its connections fail at once; nothing waits for it).
    quorum_cluster, quorum = session_on([n1, n2], ConsistencyLevel.QUORUM)
    q_insert = quorum.prepare("INSERT INTO coord.kv (k, v) VALUES (?, ?)")
    q_select = quorum.prepare("SELECT v FROM coord.kv WHERE k = ?")
    for k in range(100000, 100200):
        quorum.execute(q_insert, (k, "q-%d" % k))
        acknowledged.append(k)
    for k in range(100000, 100200):
        assert quorum.execute(q_select, (k,)).one().v == "q-%d" % k

    # Once node 3 is seen down, ALL is Unavailable before anything is sent.
    wait_until(lambda: sees_down(n1, n3) and sees_down(n2, n3), 90, "node 3 marked down by nodes 1 and 2")
    all_write = SimpleStatement("INSERT INTO coord.kv (k, v) VALUES (-1, 'x')", consistency_level=ConsistencyLevel.ALL)
    with pytest.raises(Unavailable) as info:
        quorum.execute(all_write)
    assert info.value.required_replicas == 3 and info.value.alive_replicas == 2
    with pytest.raises(Unavailable):
        quorum.execute(SimpleStatement("SELECT v FROM coord.kv WHERE k = 1", consistency_level=ConsistencyLevel.ALL))
    assert admin_metric(n1, "basalt_hints_written_total") + admin_metric(n2, "basalt_hints_written_total") > 0

    # Restarted, node 3 receives the hints; no read has touched it, and hints are the only way back.
    c.run("start", 3)
    wait_until(lambda: admin_metric(n1, "basalt_hints_pending") == 0 and admin_metric(n2, "basalt_hints_pending") == 0, 120,
               "hints delivered")
    assert admin_metric(n3, "basalt_replica_hints_applied_total") > 0
    assert admin_metric(n3, "basalt_replica_repairs_total") == 0
    local_cluster, local = session_on([n3], ConsistencyLevel.ONE)
    select = local.prepare("SELECT v FROM coord.kv WHERE k = ?")
    missing = [k for k in acknowledged if local.execute(select, (k,)).one() is None]
    assert not missing, "node 3 lacks %d of %d acknowledged writes, e.g. %s" % (len(missing), len(acknowledged), missing[:10])
    assert admin_metric(n3, "basalt_coordinator_read_repairs_total") == 0
    for cl in (writer_cluster, quorum_cluster, local_cluster):
        cl.shutdown()


def test_a_paused_replica_does_not_stall_quorum_reads(schema):
    """A SIGSTOPped replica answers nothing and is not yet known down: reads that asked it for a
    digest ask another replica after the speculation delay instead of timing out."""
    from cassandra.concurrent import execute_concurrent_with_args
    c = schema
    n1, n2, n3 = c.addresses
    writer_cluster, writer = session_on([n1, n2], ConsistencyLevel.ALL)
    insert = writer.prepare("INSERT INTO coord.kv (k, v) VALUES (?, ?)")
    execute_concurrent_with_args(writer, insert, [(k, "p-%d" % k) for k in range(200000, 200300)], concurrency=50,
                                 raise_on_first_error=True)
    before = admin_metric(n1, "basalt_coordinator_speculative_retries_total") + \
        admin_metric(n2, "basalt_coordinator_speculative_retries_total")
    c.run("pause", 3)
    try:
        reader_cluster, reader = session_on([n1, n2], ConsistencyLevel.QUORUM)
        select = reader.prepare("SELECT v FROM coord.kv WHERE k = ?")
        start = time.time()
        results = execute_concurrent_with_args(reader, select, [(k,) for k in range(200000, 200300)], concurrency=50,
                                               raise_on_first_error=True, results_generator=False)
        elapsed = time.time() - start
        assert [rows.one().v for _, rows in results] == ["p-%d" % k for k in range(200000, 200300)]
        # Well before the 5 s read timeout and before the failure detector convicts node 3.
        assert elapsed < 15, elapsed
        after = admin_metric(n1, "basalt_coordinator_speculative_retries_total") + \
            admin_metric(n2, "basalt_coordinator_speculative_retries_total")
        assert after > before
    finally:
        c.run("resume", 3)
    writer_cluster.shutdown()
    reader_cluster.shutdown()
