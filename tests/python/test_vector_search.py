"""Vector search through the real cassandra-driver on a 3-node cluster (RF 3): ORDER BY v ANN OF
at ONE and QUORUM with recall@10 against exact brute force, prepared queries, similarity
functions, deleted and overwritten rows, memtables flushed to SSTables (small memtables), and the
indexes surviving a restart (SSTable index files read back, memtables rebuilt by commit-log
replay). See conftest.py for the nodes."""
import math
import random

import pytest
from cassandra import ConsistencyLevel, InvalidRequest
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import SimpleStatement

from conftest import session_on

ADDRESS_BASE = 12
# Small memtables: the 3,000 rows below are flushed to several SSTables per node.
CLUSTER_EXTRA_CONFIG = "memtable_size_in_mb: 1"
DIM = 48
ROWS = 3000


def clustered(rng, count, centres):
    out = []
    for _ in range(count):
        c = rng.choice(centres)
        out.append([x + rng.gauss(0, 1) for x in c])
    return out


@pytest.fixture(scope="module")
def data(basalt_cluster, session):
    rf = basalt_cluster.nodes
    session.execute("CREATE KEYSPACE vs WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % rf)
    session.execute("CREATE TABLE vs.docs (id int PRIMARY KEY, body text, v vector<float, %d>)" % DIM)
    session.execute("CREATE CUSTOM INDEX docs_v ON vs.docs (v) USING 'StorageAttachedIndex' "
                    "WITH OPTIONS = {'similarity_function': 'euclidean'}")
    rng = random.Random(7)
    centres = [[rng.gauss(0, 4) for _ in range(DIM)] for _ in range(20)]
    vectors = clustered(rng, ROWS, centres)
    insert = session.prepare("INSERT INTO vs.docs (id, body, v) VALUES (?, ?, ?)")
    insert.consistency_level = ConsistencyLevel.QUORUM
    results = execute_concurrent_with_args(session, insert, [(i, "doc %d" % i, vectors[i]) for i in range(ROWS)], concurrency=64)
    assert all(ok for ok, _ in results)
    return {"vectors": vectors, "queries": clustered(rng, 25, centres)}


def exact(vectors, q, k, live):
    dist = sorted((sum((a - b) ** 2 for a, b in zip(vectors[i], q)), i) for i in live)
    return [i for _, i in dist[:k]]


def ann(session, q, k=10, cl=ConsistencyLevel.ONE):
    stmt = SimpleStatement("SELECT id FROM vs.docs ORDER BY v ANN OF %s LIMIT %d" % (q, k), consistency_level=cl)
    return [r.id for r in session.execute(stmt)]


def recall(session, data, live, cl):
    hits = 0
    for q in data["queries"]:
        expected = set(exact(data["vectors"], q, 10, live))
        hits += len(expected & set(ann(session, q, cl=cl)))
    return hits / (10.0 * len(data["queries"]))


@pytest.mark.parametrize("cl", [ConsistencyLevel.ONE, ConsistencyLevel.QUORUM])
def test_recall_against_brute_force(session, data, cl):
    r = recall(session, data, range(ROWS), cl)
    assert r >= 0.95, "recall@10 %.3f" % r


def test_prepared_ann_and_similarity_scores(session, data):
    q = data["queries"][0]
    stmt = session.prepare("SELECT id, similarity_euclidean(v, ?) AS score FROM vs.docs ORDER BY v ANN OF ? LIMIT ?")
    rows = list(session.execute(stmt, (q, q, 5)))
    assert len(rows) == 5
    scores = [r.score for r in rows]
    assert scores == sorted(scores, reverse=True)
    for r in rows:
        d2 = sum((a - b) ** 2 for a, b in zip(data["vectors"][r.id], q))
        assert math.isclose(r.score, 1 / (1 + d2), rel_tol=1e-4)
    with pytest.raises(InvalidRequest, match="expected %d elements" % DIM):
        session.execute("SELECT id FROM vs.docs ORDER BY v ANN OF [1.0, 2.0] LIMIT 3")


def test_deleted_and_overwritten_rows(session, data):
    vectors = data["vectors"]
    q = data["queries"][1]
    top = ann(session, q, k=10, cl=ConsistencyLevel.QUORUM)
    # Delete the three nearest rows and move the fourth far away.
    for i in top[:3]:
        session.execute(SimpleStatement("DELETE FROM vs.docs WHERE id = %d" % i, consistency_level=ConsistencyLevel.QUORUM))
    far = [1000.0] * DIM
    session.execute(SimpleStatement("UPDATE vs.docs SET v = %s WHERE id = %d" % (far, top[3]), consistency_level=ConsistencyLevel.QUORUM))
    for cl in (ConsistencyLevel.ONE, ConsistencyLevel.QUORUM):
        found = ann(session, q, k=10, cl=cl)
        assert not set(top[:4]) & set(found), found
        assert len(found) == 10
    # The moved row is found where it now is.
    assert ann(session, far, k=1) == [top[3]]
    vectors[top[3]] = far
    data["deleted"] = set(top[:3])


def test_indexes_survive_a_restart(basalt_cluster, session, data):
    if basalt_cluster.nodes < 3:
        pytest.skip("needs the 3-node cluster")
    live = [i for i in range(ROWS) if i not in data.get("deleted", set())]
    before = recall(session, data, live, ConsistencyLevel.ONE)
    for node in (1, 2, 3):
        basalt_cluster.run("kill", node)
        basalt_cluster.run("start", node)
    # A fresh driver session: the old one's connections all went down with the nodes.
    cluster, fresh = session_on(basalt_cluster.addresses, ConsistencyLevel.QUORUM)
    try:
        after = recall(fresh, data, live, ConsistencyLevel.QUORUM)
    finally:
        cluster.shutdown()
    assert after >= 0.95 and after >= before - 0.02, (before, after)
