"""cassio (from PyPI, unchanged) against a 3-node Basalt cluster through the real driver:
MetadataVectorCassandraTable creates its table, vector index and metadata entries index, takes
2,000 rows of 64-dimension vectors with metadata, and answers ANN queries (recall@10 against
numpy brute force), metadata-filtered ANN queries (only matching rows, recall against brute force
over the matching rows), find_entries and find_and_delete_entries; deleted rows never come back.
The session reads and writes at QUORUM (RF 3). See conftest.py for the nodes."""
import time

import numpy as np
import pytest
from cassandra import ConsistencyLevel

from conftest import session_on

ADDRESS_BASE = 13
# Small memtables: the rows are spread over memtables and several SSTables per node.
CLUSTER_EXTRA_CONFIG = "memtable_size_in_mb: 1"
DIM = 64
ROWS = 2000
GROUPS = 8

cassio_table = pytest.importorskip("cassio.table")


@pytest.fixture(scope="module")
def table(basalt_cluster, session):
    rf = basalt_cluster.nodes
    session.execute("CREATE KEYSPACE cassio_ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % rf)
    cluster, quorum = session_on(basalt_cluster.addresses,
                                 ConsistencyLevel.QUORUM if rf >= 3 else ConsistencyLevel.ONE)
    try:
        t = cassio_table.MetadataVectorCassandraTable(session=quorum, keyspace="cassio_ks", table="docs",
                                                      vector_dimension=DIM, primary_key_type="TEXT")
        rng = np.random.default_rng(11)
        centres = rng.normal(0, 3, size=(16, DIM))
        vectors = centres[rng.integers(0, 16, size=ROWS)] + rng.normal(0, 1, size=(ROWS, DIM))
        vectors = vectors.astype(np.float32)
        started = time.monotonic()
        pending = []
        for i in range(ROWS):
            metadata = {"group": "g%d" % (i % GROUPS), "parity": "even" if i % 2 == 0 else "odd"}
            pending.append(t.put_async(row_id="r%d" % i, body_blob="doc %d" % i, vector=vectors[i].tolist(), metadata=metadata))
            if len(pending) >= 64:
                for f in pending:
                    f.result()
                pending = []
        for f in pending:
            f.result()
        elapsed = time.monotonic() - started
        print("cassio put_async: %d rows in %.2f s (%.0f rows/s)" % (ROWS, elapsed, ROWS / elapsed))
        yield {"table": t, "vectors": vectors, "queries": centres[rng.integers(0, 16, size=20)] + rng.normal(0, 1, size=(20, DIM)),
               "deleted": set()}
    finally:
        cluster.shutdown()


def cosine_top(vectors, q, k, candidates):
    ids = np.array(sorted(candidates))
    m = vectors[ids]
    scores = (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    return [int(ids[j]) for j in np.argsort(-scores, kind="stable")[:k]]


def row_index(row):
    return int(row["row_id"][1:])


def live(data):
    return [i for i in range(ROWS) if i not in data["deleted"]]


def test_ann_recall_against_brute_force(table):
    t, vectors = table["table"], table["vectors"]
    hits = 0
    for q in table["queries"]:
        found = [row_index(r) for r in t.ann_search(q.tolist(), n=10)]
        assert len(found) == 10
        hits += len(set(found) & set(cosine_top(vectors, q, 10, live(table))))
    recall = hits / (10.0 * len(table["queries"]))
    assert recall >= 0.95, "recall@10 %.3f" % recall


@pytest.mark.parametrize("metadata", [{"group": "g3"}, {"group": "g2", "parity": "even"}, {"parity": "odd"}])
def test_metadata_filtered_ann_returns_only_matching_rows(table, metadata):
    t, vectors = table["table"], table["vectors"]

    def matches(i):
        return all({"group": "g%d" % (i % GROUPS), "parity": "even" if i % 2 == 0 else "odd"}[k] == v for k, v in metadata.items())

    matching = [i for i in live(table) if matches(i)]
    hits = 0
    for q in table["queries"][:10]:
        rows = list(t.ann_search(q.tolist(), n=10, metadata=metadata))
        assert len(rows) == 10
        for r in rows:
            assert all(r["metadata"][k] == v for k, v in metadata.items()), r
        found = [row_index(r) for r in rows]
        assert all(matches(i) for i in found)
        hits += len(set(found) & set(cosine_top(vectors, q, 10, matching)))
    recall = hits / 100.0
    assert recall >= 0.95, "filtered recall@10 %.3f" % recall


def test_find_entries(table):
    t = table["table"]
    rows = list(t.find_entries(n=1000, metadata={"group": "g1"}))
    assert sorted(row_index(r) for r in rows) == [i for i in live(table) if i % GROUPS == 1]
    rows = list(t.find_entries(n=5, metadata={"group": "g1", "parity": "odd"}))
    assert len(rows) == 5 and all(row_index(r) % GROUPS == 1 for r in rows)
    assert list(t.find_entries(n=10, metadata={"group": "g1", "parity": "even"})) == []
    assert t.get(row_id="r9")["body_blob"] == "doc 9"


def test_find_and_delete_entries_and_deleted_rows_never_come_back(table):
    t, vectors = table["table"], table["vectors"]
    doomed = [i for i in live(table) if i % GROUPS == 5]
    deleted = t.find_and_delete_entries(metadata={"group": "g5"})
    assert deleted == len(doomed)
    table["deleted"].update(doomed)
    assert list(t.find_entries(n=1000, metadata={"group": "g5"})) == []
    assert list(t.ann_search(vectors[doomed[0]].tolist(), n=10, metadata={"group": "g5"})) == []
    for i in doomed[:20]:
        assert t.get(row_id="r%d" % i) is None
        found = [row_index(r) for r in t.ann_search(vectors[i].tolist(), n=10)]
        assert not set(found) & table["deleted"], found
        assert len(found) == 10
    # One row deleted by key: gone from ANN and from metadata searches.
    t.delete(row_id="r3")
    table["deleted"].add(3)
    assert 3 not in [row_index(r) for r in t.ann_search(vectors[3].tolist(), n=10)]
    assert 3 not in [row_index(r) for r in t.find_entries(n=1000, metadata={"group": "g3"})]
