"""Batches through the real driver on a 3-node cluster (logged batches go through the batch log
of other nodes), and the access pattern of Feast's Cassandra online store: its table, prepared
INSERT and SELECT, about 100 requests in flight at LOCAL_ONE."""
import datetime

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType, SimpleStatement

from conftest import admin_metric

ADDRESS_BASE = 8


def test_logged_and_unlogged_batches(basalt_cluster, session):
    rf = basalt_cluster.nodes
    session.execute("CREATE KEYSPACE b WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % rf)
    session.execute("CREATE TABLE b.accounts (id int PRIMARY KEY, balance bigint)")
    insert = session.prepare("INSERT INTO b.accounts (id, balance) VALUES (?, ?)")
    stored_before = sum(admin_metric(a, "basalt_batchlog_stored_total") for a in basalt_cluster.addresses)
    for kind, base in ((BatchType.LOGGED, 0), (BatchType.UNLOGGED, 1000)):
        batch = BatchStatement(batch_type=kind, consistency_level=ConsistencyLevel.QUORUM)
        for i in range(20):
            batch.add(insert, (base + i, 100 * i))
        session.execute(batch)
    # Read at QUORUM: a QUORUM write may not have reached the third replica yet, and a read at ONE
    # could be served by it.
    select = SimpleStatement("SELECT id, balance FROM b.accounts", consistency_level=ConsistencyLevel.QUORUM)
    rows = {r.id: r.balance for r in session.execute(select, timeout=30)}
    assert rows == {**{i: 100 * i for i in range(20)}, **{1000 + i: 100 * i for i in range(20)}}
    if basalt_cluster.nodes > 1:
        # The logged batch was stored in the batch log of two other nodes first.
        assert sum(admin_metric(a, "basalt_batchlog_stored_total") for a in basalt_cluster.addresses) - stored_before == 2


def test_feast_online_store_pattern(basalt_cluster, session):
    rf = basalt_cluster.nodes
    session.execute("CREATE KEYSPACE IF NOT EXISTS feast WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % rf)
    session.execute('CREATE TABLE IF NOT EXISTS "feast"."project_driver_stats" (entity_key TEXT, feature_name TEXT, value BLOB, '
                    'event_ts TIMESTAMP, created_ts TIMESTAMP, PRIMARY KEY ((entity_key), feature_name)) '
                    'WITH CLUSTERING ORDER BY (feature_name ASC)')
    insert = session.prepare('INSERT INTO "feast"."project_driver_stats" (feature_name, value, entity_key, event_ts) VALUES (?, ?, ?, ?)')
    insert.consistency_level = ConsistencyLevel.LOCAL_ONE
    select = session.prepare('SELECT "entity_key", "feature_name", "value", "event_ts" FROM "feast"."project_driver_stats" '
                             'WHERE "entity_key" = ?')
    select.consistency_level = ConsistencyLevel.LOCAL_ONE
    now = datetime.datetime(2026, 12, 1, 12, 0, 0)
    writes = [("conv_rate", bytes([i % 256]) * 8, "driver-%d" % (i // 3), now) for i in range(3000)]
    writes = [("f%d" % (i % 3), v, e, t) for i, (_, v, e, t) in enumerate(writes)]
    results = execute_concurrent_with_args(session, insert, writes, concurrency=100, raise_on_first_error=True)
    assert all(ok for ok, _ in results)
    keys = [("driver-%d" % i,) for i in range(1000)]
    read = execute_concurrent_with_args(session, select, keys, concurrency=100, raise_on_first_error=True, results_generator=False)
    for (ok, rows), (key,) in zip(read, keys):
        assert ok
        rows = list(rows)
        assert [r.feature_name for r in rows] == ["f0", "f1", "f2"]
        assert all(r.entity_key == key and r.event_ts == now for r in rows)
