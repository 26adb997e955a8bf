"""Native protocol v5 with the real driver: a default `Cluster` negotiates v5 (no downgrade to 4),
with and without LZ4 segment compression; reads, writes, prepared statements (result metadata
ids), paging, batches and frames larger than one 128 KiB segment work on v5; protocol_version=4
still works; cqlsh speaks v5. One standalone node."""
import logging
import os
import re
import subprocess
import sys
import uuid

import pytest
from cassandra import ProtocolVersion
from cassandra.cluster import Cluster
from cassandra.query import BatchStatement, SimpleStatement

ADDRESS_BASE = 29
CLUSTER_NODES = 1


class DowngradeLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.targets = []

    def emit(self, record):
        m = re.match(r"Downgrading core protocol version from (\d+) to (\d+)", record.getMessage())
        if m:
            self.targets.append(int(m.group(2)))


def connect(address, **kwargs):
    handler = DowngradeLog()
    logger = logging.getLogger("cassandra.cluster")
    logger.addHandler(handler)
    try:
        cluster = Cluster(contact_points=[address], **kwargs)
        session = cluster.connect()
    finally:
        logger.removeHandler(handler)
    return cluster, session, handler.targets


def exercise(session, table):
    """Writes, reads, prepared statements, paging and a batch; values past one segment both ways."""
    session.execute("CREATE TABLE IF NOT EXISTS v5.%s (k int, c int, v text, PRIMARY KEY (k, c))" % table)
    insert = session.prepare("INSERT INTO v5.%s (k, c, v) VALUES (?, ?, ?)" % table)
    for c in range(120):
        session.execute(insert, (1, c, "row-%d" % c))
    select = session.prepare("SELECT c, v FROM v5.%s WHERE k = ?" % table)
    select.fetch_size = 25
    rows = list(session.execute(select, (1,)))
    assert [r.c for r in rows] == list(range(120)) and rows[7].v == "row-7"
    paged = session.execute(SimpleStatement("SELECT c FROM v5.%s WHERE k = 1" % table, fetch_size=50))
    assert paged.has_more_pages and len(paged.current_rows) == 50
    batch = BatchStatement()
    for c in range(5):
        batch.add(insert, (2, c, "b%d" % c))
    batch.add(SimpleStatement("INSERT INTO v5.%s (k, c, v) VALUES (2, 99, 'simple')" % table))
    session.execute(batch)
    assert session.execute("SELECT count(*) FROM v5.%s WHERE k = 2" % table).one()[0] == 6
    # 300 KB values: the request and the response frames span three segments each.
    big = "".join(uuid.uuid4().hex for _ in range(300_000 // 32))
    session.execute(insert, (3, 0, big))
    assert session.execute(select, (3,)).one().v == big


@pytest.fixture(scope="module")
def address(basalt_cluster):
    cluster, session, _ = connect(basalt_cluster.addresses[0], protocol_version=4)
    session.execute("CREATE KEYSPACE IF NOT EXISTS v5 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    cluster.shutdown()
    return basalt_cluster.addresses[0]


def test_default_cluster_negotiates_v5(address):
    cluster, session, downgrades = connect(address)
    try:
        assert cluster.protocol_version == ProtocolVersion.V5
        # The driver starts at DSE_V2 (66) and steps through DSE_V1 (65), as against Apache
        # Cassandra 4; it must never step down to 4.
        assert all(v >= 5 for v in downgrades), downgrades
        assert cluster.control_connection._connection._is_checksumming_enabled
        exercise(session, "default")
    finally:
        cluster.shutdown()


def test_v5_uncompressed_segments(address):
    cluster, session, downgrades = connect(address, compression=False)
    try:
        assert cluster.protocol_version == ProtocolVersion.V5 and all(v >= 5 for v in downgrades)
        connection = cluster.control_connection._connection
        assert connection._is_checksumming_enabled and not connection._segment_codec.compression
        exercise(session, "plain")
    finally:
        cluster.shutdown()


def test_v5_with_lz4_segments(address):
    pytest.importorskip("lz4", reason="the lz4 package (scripts/deps --python installs it)")
    cluster, session, downgrades = connect(address, compression="lz4")
    try:
        assert cluster.protocol_version == ProtocolVersion.V5 and all(v >= 5 for v in downgrades)
        connection = cluster.control_connection._connection
        assert connection._is_checksumming_enabled and connection._segment_codec.compression
        exercise(session, "compressed")
    finally:
        cluster.shutdown()


def test_v5_per_query_keyspace_and_metadata_change(address):
    cluster, session, _ = connect(address)
    try:
        session.execute("CREATE TABLE v5.meta (k int PRIMARY KEY, a int)")
        session.execute("INSERT INTO v5.meta (k, a) VALUES (1, 10)")
        select = session.prepare("SELECT * FROM v5.meta WHERE k = ?")
        assert select.result_metadata_id is not None
        assert session.execute(select, (1,)).one().a == 10
        # The table gains a column: the driver still sends the old result metadata id with
        # skip_metadata, so only a Metadata_changed answer (new id and columns) lets it read b.
        session.execute("ALTER TABLE v5.meta ADD b text")
        session.execute("INSERT INTO v5.meta (k, a, b) VALUES (1, 11, 'x')")
        row = session.execute(select, (1,)).one()
        assert (row.a, row.b) == (11, "x")
        # Per-query keyspace (QUERY and PREPARE flags): the session has none.
        assert session.keyspace is None
        assert session.execute(SimpleStatement("SELECT a FROM meta WHERE k = 1", keyspace="v5")).one().a == 11
        unqualified = session.prepare("SELECT b FROM meta WHERE k = ?", keyspace="v5")
        assert session.execute(unqualified, (1,)).one().b == "x"
    finally:
        cluster.shutdown()


def test_protocol_v4_still_works(address):
    cluster, session, downgrades = connect(address, protocol_version=4)
    try:
        assert cluster.protocol_version == 4 and downgrades == []
        assert not cluster.control_connection._connection._is_checksumming_enabled
        exercise(session, "v4")
    finally:
        cluster.shutdown()


def test_cqlsh_speaks_v5(address):
    binary = os.path.join(os.path.dirname(sys.executable), "cqlsh")
    out = subprocess.run([binary, address, "-e", "SHOW VERSION; SELECT count(*) FROM v5.plain WHERE k = 1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Native protocol v5" in out.stdout, out.stdout
    assert "120" in out.stdout


def test_corrupt_segment_is_answered_and_closes_the_connection(address):
    import io
    import socket
    import struct
    from cassandra.segment import SegmentCodec

    def frame(opcode, body, stream=1):
        return struct.pack(">BBhBi", 0x05, 0, stream, opcode, len(body)) + body

    startup = b"".join(struct.pack(">H", len(s)) + s for s in (b"CQL_VERSION", b"3.0.0"))
    with socket.create_connection((address, 9042), timeout=30) as s:
        s.sendall(frame(0x01, struct.pack(">H", 1) + startup))
        ready = s.recv(9)
        assert ready[0] == 0x85 and ready[4] == 0x02  # READY, a plain v5 frame
        codec = SegmentCodec()
        out = io.BytesIO()
        codec.encode(out, frame(0x05, b""))
        good = out.getvalue()
        # One good OPTIONS in a segment is answered SUPPORTED in a segment.
        s.sendall(good)
        reply = b""
        while len(reply) < 6:
            reply += s.recv(65536)
        header = codec.decode_header(io.BytesIO(reply))
        while len(reply) < header.segment_length:
            reply += s.recv(65536)
        buf = io.BytesIO(reply)
        codec.decode_header(buf)
        assert codec.decode(buf, header).payload[4] == 0x06
        # A flipped payload bit: a protocol error naming the CRC mismatch, then the server closes.
        bad = bytearray(good)
        bad[8] ^= 0x01
        s.sendall(bytes(bad))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    buf = io.BytesIO(data)
    header = codec.decode_header(buf)
    payload = codec.decode(buf, header).payload
    assert payload[0] == 0x85 and payload[4] == 0x00
    assert struct.unpack(">i", payload[9:13])[0] == 0x000A
    assert b"CRC mismatch on segment payload" in payload


def test_full_table_paging_returns_each_row_once(address):
    """A paged scan of a table without clustering columns: every page boundary used to resume
    before the last row returned and repeat it (found with the Swift README example)."""
    cluster, session, _ = connect(address)
    try:
        session.execute("CREATE TABLE v5.flat (id int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO v5.flat (id, v) VALUES (?, ?)")
        for i in range(300):
            session.execute(insert, (i, "x"))
        for fetch_size in (7, 100, 300):
            ids = [r.id for r in session.execute(SimpleStatement("SELECT id FROM v5.flat", fetch_size=fetch_size))]
            assert sorted(ids) == list(range(300)), (fetch_size, len(ids))
    finally:
        cluster.shutdown()
