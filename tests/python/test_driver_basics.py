"""The real cassandra-driver with default settings against Basalt: connect, token map, schema
agreement, prepared statements at several consistency levels, data model features, paging,
errors. See conftest.py for how many nodes run."""
import time
import uuid

import pytest
from cassandra import ConsistencyLevel, InvalidRequest, Unavailable
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import SyntaxException
from cassandra.query import SimpleStatement

ADDRESS_BASE = 1


def rf(cluster):
    return cluster.nodes


def test_connects_with_defaults_and_builds_token_map(basalt_cluster, session):
    cluster = session.cluster
    assert cluster.metadata.cluster_name == "Basalt Test Cluster" or cluster.metadata.cluster_name
    hosts = cluster.metadata.all_hosts()
    assert sorted(h.address for h in hosts) == sorted(basalt_cluster.addresses)
    assert all(h.is_up for h in hosts)
    assert cluster.protocol_version == 5
    token_map = cluster.metadata.token_map
    assert token_map is not None and len(token_map.ring) >= len(hosts)


def test_schema_agreement_is_fast(basalt_cluster, session):
    start = time.time()
    session.execute("CREATE KEYSPACE agree WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % rf(basalt_cluster))
    session.execute("CREATE TABLE agree.t (k int PRIMARY KEY, v text)")
    elapsed = time.time() - start
    assert session.cluster.control_connection.wait_for_schema_agreement(wait_time=5)
    # The driver waits up to 10 s for agreement after each DDL; two DDLs well under that means it agreed.
    assert elapsed < 5, elapsed
    assert "t" in session.cluster.metadata.keyspaces["agree"].tables
    # A session bound to a keyspace: every pool connection sends USE "agree".
    keyspaced = session.cluster.connect("agree")
    keyspaced.execute("INSERT INTO t (k, v) VALUES (1, 'one')")
    assert keyspaced.execute("SELECT v FROM t WHERE k = 1").one().v == "one"
    keyspaced.shutdown()


def test_driver_token_equals_server_token(basalt_cluster, session):
    session.execute("CREATE KEYSPACE tok WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % rf(basalt_cluster))
    session.execute("CREATE TABLE tok.single (k text PRIMARY KEY, v int)")
    session.execute("CREATE TABLE tok.composite (a int, b text, c int, v int, PRIMARY KEY ((a, b), c))")
    ins1 = session.prepare("INSERT INTO tok.single (k, v) VALUES (?, ?)")
    ins2 = session.prepare("INSERT INTO tok.composite (a, b, c, v) VALUES (?, ?, ?, ?)")
    assert ins1.routing_key_indexes == [0] and ins2.routing_key_indexes == [0, 1]
    token_class = session.cluster.metadata.token_map.token_class
    for i in range(200):
        key = "key-%d-%s" % (i, "x" * (i % 17))
        session.execute(ins1, (key, i))
        session.execute(ins2, (i, key, 1, i))
    for row in session.execute("SELECT k, token(k) FROM tok.single"):
        bound = ins1.bind((row.k, 0))
        assert token_class.from_key(bound.routing_key).value == row[1]
    for row in session.execute("SELECT a, b, token(a, b) FROM tok.composite"):
        bound = ins2.bind((row.a, row.b, 1, 0))
        assert token_class.from_key(bound.routing_key).value == row[2]


@pytest.mark.parametrize("level", [ConsistencyLevel.ONE, ConsistencyLevel.QUORUM, ConsistencyLevel.ALL])
def test_prepared_writes_and_reads_at_levels(basalt_cluster, session, level):
    session.execute("CREATE KEYSPACE IF NOT EXISTS levels WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % rf(basalt_cluster))
    session.execute("CREATE TABLE IF NOT EXISTS levels.kv (k int PRIMARY KEY, v text)")
    insert = session.prepare("INSERT INTO levels.kv (k, v) VALUES (?, ?)")
    insert.consistency_level = level
    select = session.prepare("SELECT v FROM levels.kv WHERE k = ?")
    select.consistency_level = level
    base = level * 1000
    for i in range(300):
        session.execute(insert, (base + i, "value-%d" % i))
    for i in range(300):
        assert session.execute(select, (base + i,)).one().v == "value-%d" % i


def test_composite_keys_clustering_order_and_slices(session):
    session.execute("CREATE KEYSPACE IF NOT EXISTS model WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE model.events (tenant text, day int, at timestamp, seq int, payload text, "
                    "PRIMARY KEY ((tenant, day), at, seq)) WITH CLUSTERING ORDER BY (at DESC, seq ASC)")
    insert = session.prepare("INSERT INTO model.events (tenant, day, at, seq, payload) VALUES (?, ?, ?, ?, ?)")
    for t in range(20):
        for s in range(3):
            session.execute(insert, ("acme", 1, 1_700_000_000_000 + t * 1000, s, "p%d-%d" % (t, s)))
    rows = list(session.execute("SELECT at, seq FROM model.events WHERE tenant = 'acme' AND day = 1"))
    assert len(rows) == 60
    keys = [(r.at, r.seq) for r in rows]
    assert keys == sorted(keys, key=lambda k: (-k[0].timestamp(), k[1]))
    rows = list(session.execute("SELECT payload FROM model.events WHERE tenant = 'acme' AND day = 1 AND at >= %d AND at < %d ORDER BY at ASC, seq DESC"
                                % (1_700_000_005_000, 1_700_000_008_000)))
    assert [r.payload for r in rows] == ["p%d-%d" % (t, s) for t in range(5, 8) for s in (2, 1, 0)]
    assert list(session.execute("SELECT * FROM model.events WHERE tenant = 'acme' AND day = 2")) == []


def test_collections_ttl_and_deletes(session):
    session.execute("CREATE KEYSPACE IF NOT EXISTS model WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE model.profile (id uuid PRIMARY KEY, tags set<text>, scores list<int>, attrs map<text, text>, "
                    "frozen_list frozen<list<int>>, name text)")
    pid = uuid.uuid4()
    session.execute("INSERT INTO model.profile (id, tags, scores, attrs, frozen_list, name) VALUES (%s, {'a', 'b'}, [1, 2], {'x': '1'}, [9], 'n')", (pid,))
    session.execute("UPDATE model.profile SET tags = tags + {'c'}, scores = scores + [3], attrs['y'] = '2' WHERE id = %s", (pid,))
    session.execute("UPDATE model.profile SET tags = tags - {'a'}, scores = [0] + scores WHERE id = %s", (pid,))
    session.execute("DELETE attrs['x'] FROM model.profile WHERE id = %s", (pid,))
    row = session.execute("SELECT tags, scores, attrs, frozen_list FROM model.profile WHERE id = %s", (pid,)).one()
    assert row.tags == {"b", "c"}
    assert row.scores == [0, 1, 2, 3]
    assert dict(row.attrs) == {"y": "2"}
    assert row.frozen_list == [9]

    session.execute("UPDATE model.profile USING TTL 2 SET name = 'temp' WHERE id = %s", (pid,))
    assert session.execute("SELECT name, ttl(name) FROM model.profile WHERE id = %s", (pid,)).one()[1] in (1, 2)
    time.sleep(3)
    assert session.execute("SELECT name FROM model.profile WHERE id = %s", (pid,)).one().name is None

    session.execute("DELETE FROM model.profile WHERE id = %s", (pid,))
    assert session.execute("SELECT * FROM model.profile WHERE id = %s", (pid,)).one() is None


def test_paging_through_ten_thousand_rows(session):
    session.execute("CREATE KEYSPACE IF NOT EXISTS paging WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE paging.wide (p int, c int, v text, PRIMARY KEY (p, c))")
    insert = session.prepare("INSERT INTO paging.wide (p, c, v) VALUES (?, ?, ?)")
    from cassandra.concurrent import execute_concurrent_with_args
    results = execute_concurrent_with_args(session, insert, [(i % 10, i, "v%d" % i) for i in range(10_000)], concurrency=100)
    assert all(ok for ok, _ in results)
    seen = set()
    result = session.execute(SimpleStatement("SELECT p, c FROM paging.wide", fetch_size=700))
    pages = 0
    while True:
        pages += 1
        assert len(result.current_rows) <= 700
        seen.update((r.p, r.c) for r in result.current_rows)
        if not result.has_more_pages:
            break
        result.fetch_next_page()
    assert len(seen) == 10_000
    # Default fetch size (5000) through the iterator.
    assert len({(r.p, r.c) for r in session.execute("SELECT p, c FROM paging.wide")}) == 10_000
    one_partition = [r.c for r in session.execute(SimpleStatement("SELECT c FROM paging.wide WHERE p = 3", fetch_size=97))]
    assert one_partition == sorted(one_partition) and len(one_partition) == 1000
    assert pages > 10
    assert session.execute("SELECT count(*) FROM paging.wide").one()[0] == 10_000


def test_errors_reach_the_client_typed(basalt_cluster, session):
    with pytest.raises(SyntaxException):
        session.execute("SELEC * FROM nowhere")
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM model.no_such_table")
    with pytest.raises(InvalidRequest):
        session.execute("INSERT INTO model.profile (id, name) VALUES (1, 'x')")
    session.execute("CREATE KEYSPACE IF NOT EXISTS toomany WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 5}")
    session.execute("CREATE TABLE IF NOT EXISTS toomany.t (k int PRIMARY KEY, v int)")
    statement = SimpleStatement("INSERT INTO toomany.t (k, v) VALUES (1, 1)", consistency_level=ConsistencyLevel.ALL)
    # The default retry policy retries Unavailable once on the next host, as against Cassandra; the
    # driver then reports every host's error inside NoHostAvailable.
    with pytest.raises((Unavailable, NoHostAvailable)) as info:
        session.execute(statement)
    errors = list(info.value.errors.values()) if isinstance(info.value, NoHostAvailable) else [info.value]
    assert errors and all(isinstance(e, Unavailable) for e in errors)
    assert all(e.required_replicas == 5 and e.alive_replicas == basalt_cluster.nodes for e in errors)
