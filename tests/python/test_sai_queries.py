"""Storage-attached index queries through the real driver on a 3-node cluster (RF 3): equality,
ranges, CONTAINS, CONTAINS KEY and map-entry restrictions, ANDed, with and without the partition
key, at ONE and QUORUM, paged with a page size smaller than the result; deleted and overwritten
rows never come back; ANN combined with index restrictions; the write-path checks on vectors; an
index created on a table with data answers once built; a node killed during QUORUM inserts
and restarted answers completely once hints are replayed. See conftest.py for the nodes."""
import random
import threading
import time

import pytest
from cassandra import ConsistencyLevel, InvalidRequest
from cassandra.query import SimpleStatement

from conftest import admin_metric, session_on

ADDRESS_BASE = 14
CLUSTER_EXTRA_CONFIG = "memtable_size_in_mb: 1"
SHOPS = 6
PER_SHOP = 100
DIM = 8
COLORS = ["red", "green", "blue"]


def item(shop, i, rng):
    n = shop * PER_SHOP + i
    attrs = {"color": COLORS[n % 3]}
    if n % 2 == 0:
        attrs["size"] = "L" if n % 4 == 0 else "S"
    return {"shop": "s%d" % shop, "id": i, "price": n % 97, "name": "Item %d" % (n % 10),
            "tags": {"t%d" % (n % 5), "t%d" % (n % 7 + 5)}, "attrs": attrs, "v": [rng.gauss(0, 1) for _ in range(DIM)]}


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    pytest.fail("timed out after %ss waiting for %s" % (timeout, what))


@pytest.fixture(scope="module")
def data(basalt_cluster, session):
    rf = basalt_cluster.nodes
    session.execute("CREATE KEYSPACE saiq WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % rf)
    session.execute("CREATE TABLE saiq.items (shop text, id int, price int, name text, tags set<text>, attrs map<text, text>, "
                    "v vector<float, %d>, PRIMARY KEY (shop, id))" % DIM)
    session.execute("CREATE INDEX ON saiq.items (price)")
    session.execute("CREATE CUSTOM INDEX ON saiq.items (name) USING 'sai' WITH OPTIONS = {'case_sensitive': 'false'}")
    session.execute("CREATE INDEX ON saiq.items (tags)")
    session.execute("CREATE INDEX ON saiq.items (KEYS(attrs))")
    session.execute("CREATE INDEX ON saiq.items (ENTRIES(attrs))")
    session.execute("CREATE CUSTOM INDEX ON saiq.items (v) USING 'StorageAttachedIndex'")
    rng = random.Random(3)
    rows = {}
    insert = session.prepare("INSERT INTO saiq.items (shop, id, price, name, tags, attrs, v) VALUES (?, ?, ?, ?, ?, ?, ?)")
    insert.consistency_level = ConsistencyLevel.QUORUM if rf >= 3 else ConsistencyLevel.ONE
    for shop in range(SHOPS):
        for i in range(PER_SHOP):
            r = item(shop, i, rng)
            rows[(r["shop"], i)] = r
            session.execute(insert, (r["shop"], i, r["price"], r["name"], r["tags"], r["attrs"], r["v"]))
    return {"rows": rows, "rf": rf}


def keys_of(session, query, cl, fetch_size=7):
    result = session.execute(SimpleStatement(query, consistency_level=cl, fetch_size=fetch_size))
    out = [(r.shop, r.id) for r in result]
    assert len(out) == len(set(out)), "duplicates in %s" % query
    return out


def expected(data, predicate):
    return sorted(k for k, r in data["rows"].items() if predicate(r))


QUERIES = [
    ("price = 13", lambda r: r["price"] == 13),
    ("price > 20 AND price <= 31", lambda r: 20 < r["price"] <= 31),
    ("price < 4", lambda r: r["price"] < 4),
    ("name = 'ITEM 7'", lambda r: r["name"] == "Item 7"),
    ("tags CONTAINS 't3'", lambda r: "t3" in r["tags"]),
    ("tags CONTAINS 't3' AND tags CONTAINS 't9'", lambda r: {"t3", "t9"} <= r["tags"]),
    ("attrs CONTAINS KEY 'size'", lambda r: "size" in r["attrs"]),
    ("attrs['color'] = 'red' AND attrs['size'] = 'L'", lambda r: r["attrs"].get("color") == "red" and r["attrs"].get("size") == "L"),
    ("price >= 50 AND tags CONTAINS 't1'", lambda r: r["price"] >= 50 and "t1" in r["tags"]),
    ("shop = 's2' AND price < 40", lambda r: r["shop"] == "s2" and r["price"] < 40),
    ("shop = 's4' AND name = 'item 3' AND attrs['color'] = 'green'",
     lambda r: r["shop"] == "s4" and r["name"] == "Item 3" and r["attrs"]["color"] == "green"),
]


def levels(data):
    return [ConsistencyLevel.ONE, ConsistencyLevel.QUORUM] if data["rf"] >= 3 else [ConsistencyLevel.ONE]


def test_index_queries_paged_at_one_and_quorum(basalt_cluster, session, data):
    for cl in levels(data):
        for where, predicate in QUERIES:
            found = keys_of(session, "SELECT shop, id FROM saiq.items WHERE %s" % where, cl)
            want = expected(data, predicate)
            assert sorted(found) == want, (where, cl)
            # Ring order: each partition's rows together, in clustering order.
            shops = [s for s, _ in found]
            assert len(set(shops)) == len([s for j, s in enumerate(shops) if j == 0 or shops[j - 1] != s]), where
            for s in set(shops):
                ids = [i for sh, i in found if sh == s]
                assert ids == sorted(ids), where
    if data["rf"] >= 3:
        served = sum(admin_metric(a, "basalt_term_index_queries_total") for a in basalt_cluster.addresses)
        assert served > 0


def test_limit_per_partition_limit_count_and_prepared(session, data):
    want = expected(data, lambda r: "t2" in r["tags"])
    found = keys_of(session, "SELECT shop, id FROM saiq.items WHERE tags CONTAINS 't2' LIMIT 23", ConsistencyLevel.ONE, fetch_size=5)
    assert len(found) == 23 and set(found) <= set(want)
    found = keys_of(session, "SELECT shop, id FROM saiq.items WHERE tags CONTAINS 't2' PER PARTITION LIMIT 2", ConsistencyLevel.ONE, fetch_size=3)
    assert len(found) == 2 * SHOPS and all(sum(1 for s, _ in found if s == shop) == 2 for shop, _ in found)
    count = session.execute("SELECT count(*) FROM saiq.items WHERE tags CONTAINS 't2'").one()[0]
    assert count == len(want)
    prepared = session.prepare("SELECT shop, id FROM saiq.items WHERE price > ? AND attrs[?] = ?")
    prepared.fetch_size = 4
    rows = [(r.shop, r.id) for r in session.execute(prepared, (90, "color", "blue"))]
    assert sorted(rows) == expected(data, lambda r: r["price"] > 90 and r["attrs"]["color"] == "blue")


def test_deleted_and_overwritten_rows_never_come_back(session, data):
    strong = ConsistencyLevel.QUORUM if data["rf"] >= 3 else ConsistencyLevel.ONE
    victims = expected(data, lambda r: r["price"] == 13)[:3]
    for shop, i in victims[:2]:
        session.execute(SimpleStatement("DELETE FROM saiq.items WHERE shop = %s AND id = %s", consistency_level=strong), (shop, i))
        del data["rows"][(shop, i)]
    shop, i = victims[2]
    session.execute(SimpleStatement("UPDATE saiq.items SET price = 96, tags = tags + {'moved'} WHERE shop = %s AND id = %s",
                                    consistency_level=strong), (shop, i))
    data["rows"][(shop, i)]["price"] = 96
    data["rows"][(shop, i)]["tags"] = data["rows"][(shop, i)]["tags"] | {"moved"}
    for cl in levels(data):
        assert sorted(keys_of(session, "SELECT shop, id FROM saiq.items WHERE price = 13", cl)) == expected(data, lambda r: r["price"] == 13)
        assert keys_of(session, "SELECT shop, id FROM saiq.items WHERE tags CONTAINS 'moved'", cl) == [(shop, i)]
        assert (shop, i) in keys_of(session, "SELECT shop, id FROM saiq.items WHERE price = 96", cl)


def test_ann_with_index_restrictions(session, data):
    rng = random.Random(5)
    for where, predicate in [("tags CONTAINS 't1'", lambda r: "t1" in r["tags"]),
                             ("attrs['color'] = 'red' AND price < 60", lambda r: r["attrs"]["color"] == "red" and r["price"] < 60)]:
        for _ in range(5):
            q = [rng.gauss(0, 1) for _ in range(DIM)]
            rows = list(session.execute("SELECT shop, id FROM saiq.items WHERE %s ORDER BY v ANN OF %s LIMIT 5" % (where, q)))
            found = [(r.shop, r.id) for r in rows]

            def cos(v):
                dot = sum(a * b for a, b in zip(v, q))
                return dot / ((sum(a * a for a in v) ** 0.5) * (sum(b * b for b in q) ** 0.5))

            ranked = sorted((k for k, r in data["rows"].items() if predicate(r)), key=lambda k: -cos(data["rows"][k]["v"]))
            assert found == ranked[:5], where


def test_vector_writes_are_checked(session, data):
    with pytest.raises(InvalidRequest, match=r"non-finite value at vector\[1\]=NaN"):
        session.execute("INSERT INTO saiq.items (shop, id, v) VALUES ('x', 1, [1, NaN, 1, 1, 1, 1, 1, 1])")
    with pytest.raises(InvalidRequest, match="Zero and near-zero vectors cannot be indexed or queried with cosine similarity"):
        session.execute("INSERT INTO saiq.items (shop, id, v) VALUES ('x', 1, [0, 0, 0, 0, 0, 0, 0, 0])")
    with pytest.raises(InvalidRequest, match="expected 8 elements, but given 2"):
        session.execute("INSERT INTO saiq.items (shop, id, v) VALUES ('x', 1, [1, 2])")
    assert session.execute("SELECT * FROM saiq.items WHERE shop = 'x'").one() is None


def test_index_created_on_existing_data_answers_once_built(session, data):
    # An index on the clustering column, built in the background over the rows already there. Each
    # replica builds its own part, so a query is refused as still building until every replica it
    # asks has finished; a QUORUM query may ask a replica that a ONE query did not.
    session.execute("CREATE INDEX late_id ON saiq.items (id)")
    deadline = time.time() + 60

    def once_built(query, consistency):
        while True:
            try:
                return sorted(keys_of(session, query, consistency))
            except InvalidRequest as e:
                assert "is not yet available as it is still being built" in str(e), e
                assert time.time() < deadline, "index still building after 60 s"
                time.sleep(0.2)

    assert once_built("SELECT shop, id FROM saiq.items WHERE id = 7", ConsistencyLevel.ONE) == \
        expected(data, lambda r: r["id"] == 7)
    assert once_built("SELECT shop, id FROM saiq.items WHERE id > 97 AND price > 50", ConsistencyLevel.QUORUM) == \
        expected(data, lambda r: r["id"] > 97 and r["price"] > 50)
    session.execute("DROP INDEX saiq.late_id")


def test_a_node_killed_during_quorum_inserts_answers_completely_after_hints(basalt_cluster, session, data):
    if data["rf"] < 3:
        pytest.skip("needs the 3-node cluster")
    n1, n2, n3 = basalt_cluster.addresses
    writer_cluster, writer = session_on([n1, n2], ConsistencyLevel.QUORUM)
    insert = writer.prepare("INSERT INTO saiq.items (shop, id, price, name, tags, attrs, v) VALUES (?, ?, ?, ?, ?, ?, ?)")
    rng = random.Random(9)
    written = []
    failures = []
    stop = threading.Event()

    def write_loop():
        i = 0
        while not stop.is_set() and i < 2000:
            r = item(SHOPS + i % 3, i, rng)
            r["tags"] = r["tags"] | {"late"}
            try:
                writer.execute(insert, (r["shop"], r["id"], r["price"], r["name"], r["tags"], r["attrs"], r["v"]))
                written.append(r)
            except Exception as e:  # counted; the test asserts there are none
                failures.append(repr(e))
            i += 1

    thread = threading.Thread(target=write_loop)
    thread.start()
    try:
        wait_until(lambda: len(written) >= 100, 120, "writes before the kill")
        basalt_cluster.run("kill", 3)
        wait_until(lambda: len(written) >= 400, 180, "writes after the kill")
    finally:
        stop.set()
        thread.join(timeout=120)
        writer_cluster.shutdown()
    assert not failures, failures[:5]
    for r in written:
        data["rows"][(r["shop"], r["id"])] = r
    basalt_cluster.run("start", 3)
    wait_until(lambda: admin_metric(n1, "basalt_hints_pending") == 0 and admin_metric(n2, "basalt_hints_pending") == 0, 180,
               "hints delivered")
    # Node 3 alone, at ONE: its own indexes must hold every row written while it was down.
    local_cluster, local = session_on([n3], ConsistencyLevel.ONE)
    try:
        late = keys_of(local, "SELECT shop, id FROM saiq.items WHERE tags CONTAINS 'late'", ConsistencyLevel.ONE, fetch_size=50)
        assert sorted(late) == sorted((r["shop"], r["id"]) for r in written)
        for where, predicate in QUERIES[:5]:
            assert sorted(keys_of(local, "SELECT shop, id FROM saiq.items WHERE %s" % where, ConsistencyLevel.ONE)) == \
                expected(data, predicate), where
        # ANN over the restarted node: every late row is found by its own vector.
        for r in written[-20:]:
            rows = local.execute(SimpleStatement("SELECT shop, id FROM saiq.items WHERE tags CONTAINS 'late' ORDER BY v ANN OF %s LIMIT 1"
                                                 % r["v"], consistency_level=ConsistencyLevel.ONE))
            assert [(x.shop, x.id) for x in rows] == [(r["shop"], r["id"])]
    finally:
        local_cluster.shutdown()
