"""Storage-attached indexes follow streaming: on 3 nodes with RF 1, a table with a vector index and
a term index is filled, node 4 joins (cluster/join: its rows arrive only by streaming), and the old
nodes clean up what node 4 took over. Every row then lives on exactly one node, so ANN and index
queries through node 4 can only be complete if node 4 indexed the rows it was streamed."""
import random

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent_with_args

import movement as mv
from conftest import session_on

ADDRESS_BASE = 20
ROWS = 2000
DIM = 16
KEYSPACE = "vecmove"


def nearest(rows, query, k):
    return sorted(rows, key=lambda i: sum((a - b) ** 2 for a, b in zip(rows[i], query)))[:k]


def test_rows_streamed_to_a_joining_node_are_indexed_there(basalt_cluster):
    old = basalt_cluster.addresses
    node4 = old[0][:-1] + "4"
    rng = random.Random(11)
    centres = [[rng.uniform(-10, 10) for _ in range(DIM)] for _ in range(20)]
    rows = {}
    for i in range(ROWS):
        c = rng.choice(centres)
        rows[i] = [x + rng.gauss(0, 1) for x in c]

    cluster, session = session_on(old, ConsistencyLevel.ALL)
    try:
        session.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}" % KEYSPACE)
        session.execute("CREATE TABLE %s.docs (id int PRIMARY KEY, tag text, v vector<float, %d>)" % (KEYSPACE, DIM))
        session.execute("CREATE CUSTOM INDEX ON %s.docs (v) USING 'StorageAttachedIndex' "
                        "WITH OPTIONS = {'similarity_function': 'euclidean'}" % KEYSPACE)
        session.execute("CREATE CUSTOM INDEX ON %s.docs (tag) USING 'StorageAttachedIndex'" % KEYSPACE)
        cluster.control_connection.wait_for_schema_agreement(wait_time=20)
        insert = session.prepare("INSERT INTO %s.docs (id, tag, v) VALUES (?, ?, ?)" % KEYSPACE)
        results = execute_concurrent_with_args(session, insert, [(i, "t%d" % (i % 10), rows[i]) for i in range(ROWS)],
                                               concurrency=32, raise_on_first_error=True)
        assert all(ok for ok, _ in results)
    finally:
        cluster.shutdown()

    mv.join(basalt_cluster, 4)
    for a in old:
        out = mv.admin(a, "cleanup", KEYSPACE)
        assert "cleanup: completed" in out, out

    cluster, session = session_on([node4], ConsistencyLevel.ONE)
    try:
        # Node 4 holds rows now, and only by streaming.
        held = session.execute("SELECT count(*) FROM %s.docs" % KEYSPACE).one()[0]
        assert held == ROWS, "a full scan through node 4 after cleanup sees %d of %d rows" % (held, ROWS)
        select = session.prepare("SELECT id FROM %s.docs ORDER BY v ANN OF ? LIMIT 10" % KEYSPACE)
        hits = 0
        queries = [rng.choice(list(rows.values())) for _ in range(30)]
        for q in queries:
            found = [r[0] for r in session.execute(select, (q,))]
            hits += len(set(found) & set(nearest(rows, q, 10)))
        recall = hits / (10.0 * len(queries))
        assert recall >= 0.95, "recall@10 through node 4 after it joined: %.3f" % recall
        # The term index answers for node 4's ranges too: every row of a tag comes back.
        tagged = session.execute("SELECT id FROM %s.docs WHERE tag = 't3'" % KEYSPACE)
        assert sorted(r[0] for r in tagged) == [i for i in range(ROWS) if i % 10 == 3]
    finally:
        cluster.shutdown()
    metrics = mv.admin(node4, "metrics")
    indexed = [line for line in metrics.splitlines() if line.startswith("basalt_vector_index_vectors_indexed_total")]
    assert indexed and float(indexed[0].split()[-1]) > 0, "node 4 indexed no vectors: %s" % indexed
