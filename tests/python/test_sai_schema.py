"""Storage-attached indexes through the real cassandra-driver: the CREATE INDEX forms cassio and
Cassandra 5 clients send, what system_schema.indexes, the driver's metadata and DESCRIBE show of
them, DROP INDEX, Cassandra's error messages, and index queries as they plan and run (including
cassio's prepared ANN statement with a metadata restriction). See conftest.py for the nodes."""
import pytest
from cassandra import InvalidRequest
from cassandra.protocol import ConfigurationException

ADDRESS_BASE = 11
SAI = "org.apache.cassandra.index.sai.StorageAttachedIndex"


@pytest.fixture(scope="module")
def ks(basalt_cluster, session):
    session.execute("CREATE KEYSPACE sai WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % basalt_cluster.nodes)
    # cassio's MetadataVectorCassandraTable layout.
    session.execute("CREATE TABLE sai.vt (row_id text PRIMARY KEY, body_blob text, vector vector<float, 4>, attributes_blob text, "
                    "metadata_s map<text, text>)")
    session.execute("CREATE TABLE sai.t2 (k int, c int, n int, tags set<text>, m map<text, int>, l list<int>, fl frozen<list<int>>, "
                    "bl blob, u uuid, PRIMARY KEY (k, c))")
    session.execute("CREATE TABLE sai.v2 (k int PRIMARY KEY, v vector<float, 2>)")
    return "sai"


def index_rows(session, table):
    rows = session.execute("SELECT index_name, kind, options FROM system_schema.indexes WHERE keyspace_name = 'sai' AND table_name = %s", (table,))
    return {r.index_name: (r.kind, dict(r.options)) for r in rows}


def test_cassio_indexes_are_created_and_read_back(session, ks):
    session.execute("CREATE CUSTOM INDEX IF NOT EXISTS idx_vector_vt ON sai.vt (vector) USING '%s' "
                    "WITH OPTIONS = {'similarity_function': 'dot_product', 'source_model': 'bert'}" % SAI)
    session.execute("CREATE CUSTOM INDEX IF NOT EXISTS eidx_metadata_s_vt ON sai.vt (ENTRIES(metadata_s)) USING '%s'" % SAI)
    # Running cassio's setup again is a no-op.
    session.execute("CREATE CUSTOM INDEX IF NOT EXISTS idx_vector_vt ON sai.vt (vector) USING '%s' "
                    "WITH OPTIONS = {'similarity_function': 'dot_product', 'source_model': 'bert'}" % SAI)
    session.execute("CREATE INDEX IF NOT EXISTS body_idx ON sai.vt (body_blob) USING 'sai' WITH OPTIONS = {'case_sensitive': false, 'normalize': true}")
    rows = index_rows(session, "vt")
    assert rows == {
        "idx_vector_vt": ("CUSTOM", {"class_name": SAI, "target": "vector", "similarity_function": "dot_product", "source_model": "bert"}),
        "eidx_metadata_s_vt": ("CUSTOM", {"class_name": SAI, "target": "entries(metadata_s)"}),
        "body_idx": ("CUSTOM", {"class_name": "sai", "target": "body_blob", "case_sensitive": "false", "normalize": "true"}),
    }

    session.cluster.refresh_schema_metadata()
    meta = session.cluster.metadata.keyspaces["sai"]
    assert {"idx_vector_vt", "eidx_metadata_s_vt", "body_idx"} <= set(meta.indexes)
    table = meta.tables["vt"]
    assert set(table.indexes) == {"idx_vector_vt", "eidx_metadata_s_vt", "body_idx"}
    entries = table.indexes["eidx_metadata_s_vt"]
    assert entries.kind == "CUSTOM" and entries.index_options["target"] == "entries(metadata_s)"
    assert entries.as_cql_query() == "CREATE CUSTOM INDEX eidx_metadata_s_vt ON sai.vt (entries(metadata_s)) USING '%s'" % SAI
    vector = table.indexes["idx_vector_vt"].export_as_string()
    assert vector.startswith("CREATE CUSTOM INDEX idx_vector_vt ON sai.vt (vector) USING '%s' WITH OPTIONS = {" % SAI)
    assert "'similarity_function': 'dot_product'" in vector and "'source_model': 'bert'" in vector
    exported = table.export_as_string()
    assert "CREATE CUSTOM INDEX eidx_metadata_s_vt ON sai.vt (entries(metadata_s)) USING '%s';" % SAI in exported

    described = session.execute("DESCRIBE INDEX sai.idx_vector_vt").one()
    assert described.create_statement == ("CREATE CUSTOM INDEX idx_vector_vt ON sai.vt (vector) USING '%s' "
                                          "WITH OPTIONS = {'similarity_function': 'dot_product', 'source_model': 'bert'};" % SAI)
    statements = [r.create_statement for r in session.execute("DESCRIBE TABLE sai.vt")]
    assert statements[0].startswith("CREATE TABLE sai.vt (")
    assert "CREATE CUSTOM INDEX body_idx ON sai.vt (body_blob) USING 'sai' WITH OPTIONS = {'case_sensitive': 'false', 'normalize': 'true'};" in statements


def test_every_target_kind(session, ks):
    session.execute("CREATE INDEX ON sai.t2 (n)")
    session.execute("CREATE INDEX tags_idx ON sai.t2 (tags)")
    session.execute("CREATE CUSTOM INDEX ON sai.t2 (KEYS(m)) USING 'StorageAttachedIndex'")
    session.execute("CREATE CUSTOM INDEX ON sai.t2 (VALUES(m)) USING 'SAI'")
    session.execute("CREATE INDEX ON sai.t2 (full(fl))")
    session.execute("CREATE INDEX ON sai.t2 (c)")
    rows = index_rows(session, "t2")
    assert rows == {
        "t2_n_idx": ("CUSTOM", {"class_name": "sai", "target": "n"}),
        "tags_idx": ("CUSTOM", {"class_name": "sai", "target": "values(tags)"}),
        "t2_m_idx": ("CUSTOM", {"class_name": "StorageAttachedIndex", "target": "keys(m)"}),
        "t2_m_idx_1": ("CUSTOM", {"class_name": "SAI", "target": "values(m)"}),
        "t2_fl_idx": ("CUSTOM", {"class_name": "sai", "target": "full(fl)"}),
        "t2_c_idx": ("CUSTOM", {"class_name": "sai", "target": "c"}),
    }
    session.cluster.refresh_schema_metadata()
    table = session.cluster.metadata.keyspaces["sai"].tables["t2"]
    assert table.indexes["t2_m_idx"].as_cql_query() == "CREATE CUSTOM INDEX t2_m_idx ON sai.t2 (keys(m)) USING 'StorageAttachedIndex'"
    # Every node reports the same schema: all nodes apply the same definitions.
    assert session.cluster.control_connection.wait_for_schema_agreement(wait_time=5)


@pytest.mark.parametrize("statement, error, message", [
    ("CREATE INDEX ON sai.t2 (bl)", InvalidRequest, "Unsupported type: blob"),
    ("CREATE INDEX ON sai.t2 (l) WITH OPTIONS = {'foo': 'bar'}", ConfigurationException,
     "Properties specified [foo] are not understood by StorageAttachedIndex"),
    ("CREATE INDEX ON sai.t2 (k)", InvalidRequest, "Cannot create secondary index on the only partition key column k"),
    ("CREATE INDEX ON sai.t2 (keys(l))", InvalidRequest, "Cannot create index on keys of column l with non-map type"),
    ("CREATE INDEX ON sai.t2 (fl)", InvalidRequest, "Cannot create values() index on frozen column fl. Frozen collections are immutable "
                                                    "and must be fully indexed by using the 'full(fl)' modifier"),
    ("CREATE INDEX ON sai.t2 (u) WITH OPTIONS = {'case_sensitive': 'false'}", InvalidRequest, "CQL type uuid cannot be analyzed."),
    ("CREATE INDEX ON sai.v2 (v) WITH OPTIONS = {'similarity_function': 'hamming'}", InvalidRequest,
     "Similarity function HAMMING was not recognized for index v2_v_idx. Valid values are: EUCLIDEAN, DOT_PRODUCT, COSINE"),
    ("CREATE INDEX ON sai.vt (vector) USING 'StorageAttachedIndex'", InvalidRequest,
     "Cannot create more than one storage-attached index on the same column: vector"),
    ("CREATE CUSTOM INDEX ON sai.t2 (u) USING 'com.example.NoSuchIndex'", ConfigurationException,
     "Unable to find custom indexer class 'com.example.NoSuchIndex'"),
])
def test_invalid_definitions_get_cassandras_errors(session, ks, statement, error, message):
    with pytest.raises(error) as e:
        session.execute(statement)
    assert message in str(e.value)


def test_second_index_on_a_target_is_refused(session, ks):
    session.execute("CREATE INDEX IF NOT EXISTS u_idx ON sai.t2 (u)")
    with pytest.raises(InvalidRequest, match="Index u_idx2 is a duplicate of existing index u_idx"):
        session.execute("CREATE INDEX u_idx2 ON sai.t2 (u)")
    with pytest.raises(InvalidRequest, match="Cannot create more than one storage-attached index on the same column: u"):
        session.execute("CREATE CUSTOM INDEX u_idx3 ON sai.t2 (u) USING 'StorageAttachedIndex'")
    with pytest.raises(InvalidRequest, match="Index 'u_idx' already exists"):
        session.execute("CREATE INDEX u_idx ON sai.t2 (n)")


def test_queries_plan_against_indexes(session, ks):
    session.execute("CREATE CUSTOM INDEX IF NOT EXISTS idx_vector_vt ON sai.vt (vector) USING '%s'" % SAI)
    session.execute("CREATE CUSTOM INDEX IF NOT EXISTS eidx_metadata_s_vt ON sai.vt (ENTRIES(metadata_s)) USING '%s'" % SAI)
    session.execute("INSERT INTO sai.vt (row_id, body_blob, vector, attributes_blob, metadata_s) VALUES (%s, %s, %s, %s, %s)",
                    ("r1", "hello", [0.1, 0.2, 0.3, 0.4], "a1", {"lang": "en"}))
    assert session.execute("SELECT body_blob FROM sai.vt WHERE row_id = 'r1'").one().body_blob == "hello"

    # cassio's ANN query, prepared: the vector and the LIMIT are markers.
    ann = session.prepare("SELECT * FROM sai.vt WHERE metadata_s['lang'] = ? ORDER BY vector ANN OF ? LIMIT ?")
    assert [c.name for c in ann.column_metadata] == ["value(metadata_s)", "vector", "[limit]"]
    assert [r.row_id for r in session.execute(ann, ("en", [0.1, 0.2, 0.3, 0.4], 5))] == ["r1"]
    assert list(session.execute(ann, ("fr", [0.1, 0.2, 0.3, 0.4], 5))) == []
    with pytest.raises(InvalidRequest, match="requires a LIMIT that is not greater than 1000. LIMIT was 1001"):
        session.execute(ann, ("en", [0.1, 0.2, 0.3, 0.4], 1001))
    with pytest.raises(InvalidRequest, match="Use of ANN OF in an ORDER BY clause requires a LIMIT that is not greater than 1000. LIMIT was NO LIMIT"):
        session.execute("SELECT * FROM sai.vt ORDER BY vector ANN OF [0.1, 0.2, 0.3, 0.4]")
    with pytest.raises(InvalidRequest, match="Invalid vector literal for vector of type vector<float, 4>; expected 4 elements, but given 2"):
        session.execute("SELECT * FROM sai.vt ORDER BY vector ANN OF [0.1, 0.2] LIMIT 3")
    with pytest.raises(InvalidRequest, match="ANN ordering by vector requires all restricted column.s. to be indexed"):
        session.execute("SELECT * FROM sai.vt WHERE attributes_blob = 'x' ORDER BY vector ANN OF [0.1, 0.2, 0.3, 0.4] LIMIT 3 ALLOW FILTERING")
    assert [r.row_id for r in session.execute("SELECT * FROM sai.vt WHERE metadata_s['lang'] = 'en'")] == ["r1"]
    with pytest.raises(InvalidRequest, match="use ALLOW FILTERING"):
        session.execute("SELECT * FROM sai.vt WHERE attributes_blob = 'x'")
    with pytest.raises(InvalidRequest, match="analyzer match operator"):
        session.execute("SELECT * FROM sai.vt WHERE body_blob : 'hello'")
    # Filtering on a column without an index still runs.
    rows = session.execute("SELECT row_id FROM sai.vt WHERE attributes_blob = 'a1' ALLOW FILTERING")
    assert [r.row_id for r in rows] == ["r1"]


def test_drop_index(session, ks):
    session.execute("CREATE INDEX IF NOT EXISTS dropme ON sai.t2 (l)")
    assert "dropme" in index_rows(session, "t2")
    session.execute("DROP INDEX sai.dropme")
    assert "dropme" not in index_rows(session, "t2")
    session.execute("DROP INDEX IF EXISTS sai.dropme")
    with pytest.raises(InvalidRequest, match="Index 'sai.dropme' doesn't exist"):
        session.execute("DROP INDEX sai.dropme")
    session.cluster.refresh_schema_metadata()
    assert "dropme" not in session.cluster.metadata.keyspaces["sai"].tables["t2"].indexes
