"""Snapshots and restore on real clusters: every node of a 3-node cluster (RF 2, 127.0.5.181-183)
takes a snapshot with `basalt admin snapshot`; a fresh 3-node cluster (127.0.5.191-193) gets the
table from the snapshot's schema.cql and every snapshot directory through `basalt load`; every row
comes back with its write time and TTL, and deleted rows stay deleted: the loaded tombstones still
shadow older writes. Bad input (no such directory, a path without keyspace/table, a table the
cluster lacks, a damaged SSTable) is refused with a clear message and nothing loaded."""
import json
import os
import shutil
import subprocess
import tempfile

from cassandra import ConsistencyLevel

from conftest import basalt_bin, session_on, start_cluster

ADDRESS_BASE = 18
FRESH_BASE = 19

PARTITIONS = 200
ROWS = 5


def basalt(*args, timeout=300):
    return subprocess.run([basalt_bin()] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def expected_rows():
    """(k, c) -> (v, n, writetime) as the writes below leave them."""
    rows = {}
    for k in range(PARTITIONS):
        for c in range(ROWS):
            rows[(k, c)] = ("v%d-%d" % (k, c), k * c, 1000 + k)
    for k in range(0, PARTITIONS, 10):
        rows.pop((k, 2), None)
    for k in range(1, PARTITIONS, 25):
        for c in range(ROWS):
            rows.pop((k, c), None)
    for k in range(3, PARTITIONS, 7):
        if (k, 0) in rows:
            v, _, wt = rows[(k, 0)]
            rows[(k, 0)] = (v, None, wt)
    for c in (3, 4):
        rows.pop((4, c), None)
    return rows


def write_data(s):
    insert = s.prepare("INSERT INTO rs.t (k, c, v, n) VALUES (?, ?, ?, ?) USING TIMESTAMP ?")
    for k in range(PARTITIONS):
        for c in range(ROWS):
            s.execute(insert, (k, c, "v%d-%d" % (k, c), k * c, 1000 + k))
    for k in range(0, PARTITIONS, 10):
        s.execute("DELETE FROM rs.t USING TIMESTAMP 5000 WHERE k = %s AND c = 2", (k,))
    for k in range(1, PARTITIONS, 25):
        s.execute("DELETE FROM rs.t USING TIMESTAMP 5000 WHERE k = %s", (k,))
    for k in range(3, PARTITIONS, 7):
        s.execute("DELETE n FROM rs.t USING TIMESTAMP 5000 WHERE k = %s AND c = 0", (k,))
    s.execute("DELETE FROM rs.t USING TIMESTAMP 5000 WHERE k = 4 AND c >= 3")
    # Expiring cells keep their TTL and expiry through snapshot and load.
    s.execute("INSERT INTO rs.ttl (k, v) VALUES (1, 'expiring') USING TTL 86400 AND TIMESTAMP 777")


def read_all(s):
    rows = {}
    for r in s.execute("SELECT k, c, v, n, WRITETIME(v) AS wt FROM rs.t"):
        rows[(r.k, r.c)] = (r.v, r.n, r.wt)
    return rows


def admin(host, *args):
    done = basalt("admin", *args, "--host", host)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_snapshot_of_every_node_restores_into_a_fresh_cluster(basalt_cluster, session):
    c = basalt_cluster
    session.execute("CREATE KEYSPACE rs WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
    session.execute("CREATE TABLE rs.t (k int, c int, v text, n int, PRIMARY KEY (k, c))")
    session.execute("CREATE TABLE rs.ttl (k int PRIMARY KEY, v text)")
    assert session.cluster.control_connection.wait_for_schema_agreement(wait_time=10)
    writer_cluster, writer = session_on(c.addresses, ConsistencyLevel.ALL)
    write_data(writer)
    expected = expected_rows()
    assert read_all(writer) == expected

    # Snapshot every node (the memtables are flushed first), then list them.
    for host in c.addresses:
        out = admin(host, "snapshot", "-t", "restore1", "rs")
        assert "Snapshot restore1" in out
    snapshot_dirs = []
    for host in c.addresses:
        entries = json.loads(admin(host, "listsnapshots", "--format", "json"))
        assert {(e["tag"], e["keyspace"]) for e in entries} == {("restore1", "rs")}
        assert {e["table"] for e in entries} == {"t", "ttl"}
        for e in entries:
            assert e["directory"].endswith("/snapshots/restore1") and e["sizeOnDiskBytes"] > 0
            assert os.path.exists(os.path.join(e["directory"], "schema.cql"))
            snapshot_dirs.append((e["table"], e["directory"]))
    # A snapshot's tag is used once per table.
    assert basalt("admin", "snapshot", "-t", "restore1", "rs", "--host", c.addresses[0]).returncode == 1
    assert "already exists" in basalt("admin", "snapshot", "-t", "restore1", "--host", c.addresses[0]).stderr
    assert "does not exist" in basalt("admin", "snapshot", "nokeyspace", "--host", c.addresses[0]).stderr

    schema_cql = {}
    for table, d in snapshot_dirs:
        with open(os.path.join(d, "schema.cql")) as f:
            schema_cql[table] = f.read()
    # Writes after the snapshot are not in it.
    writer.execute("INSERT INTO rs.t (k, c, v, n) VALUES (9999, 0, 'late', 0)")

    work = tempfile.mkdtemp(prefix="basalt-restore-")
    fresh = start_cluster(FRESH_BASE, work, 3)
    fresh_clusters = []
    try:
        f_cluster, f = session_on(fresh.addresses, ConsistencyLevel.ALL)
        fresh_clusters.append(f_cluster)
        f.execute("CREATE KEYSPACE rs WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
        hosts = ",".join(fresh.addresses)

        # The table does not exist yet: refused, nothing sent.
        done = basalt("load", snapshot_dirs[0][1], "--hosts", hosts)
        assert done.returncode == 1 and "does not exist in the cluster" in done.stderr, done.stderr

        for table in ("t", "ttl"):
            for statement in schema_cql[table].split(";"):
                if statement.strip():
                    f.execute(statement)
        assert f_cluster.control_connection.wait_for_schema_agreement(wait_time=10)

        loaded = 0
        for table, d in snapshot_dirs:
            done = basalt("load", d, "--hosts", hosts)
            assert done.returncode == 0, done.stderr
            if not any(n.endswith("-Data.db") for n in os.listdir(d)):
                assert "nothing to load" in done.stdout  # the one-row table is on 2 of the 3 nodes
                continue
            assert "progress:" in done.stderr and "into rs.%s" % table in done.stdout
            loaded += 1
        assert loaded == 5

        restored = read_all(f)
        assert restored == expected
        assert (9999, 0) not in restored
        ttl_row = f.execute("SELECT v, TTL(v) AS t, WRITETIME(v) AS wt FROM rs.ttl WHERE k = 1").one()
        assert ttl_row.v == "expiring" and ttl_row.wt == 777 and 0 < ttl_row.t <= 86400

        # The tombstones came along: writes older than the deletions stay invisible.
        f.execute("INSERT INTO rs.t (k, c, v, n) VALUES (0, 2, 'zombie', 0) USING TIMESTAMP 4000")
        f.execute("INSERT INTO rs.t (k, c, v, n) VALUES (1, 0, 'zombie', 0) USING TIMESTAMP 4000")
        f.execute("INSERT INTO rs.t (k, c, v, n) VALUES (4, 3, 'zombie', 0) USING TIMESTAMP 4000")
        f.execute("UPDATE rs.t USING TIMESTAMP 4000 SET n = 1 WHERE k = 3 AND c = 0")
        assert read_all(f) == expected

        # Bad input: clear messages, exit status 1.
        done = basalt("load", os.path.join(work, "no-such-dir"), "--hosts", hosts)
        assert done.returncode == 1 and "is not a directory" in done.stderr
        odd = os.path.join(work, "rs", "bad name!")
        shutil.copytree(snapshot_dirs[0][1], odd)
        done = basalt("load", odd, "--hosts", hosts)
        assert done.returncode == 1 and "cannot tell keyspace and table" in done.stderr
        empty = os.path.join(work, "rs", "t-" + "0" * 32)
        os.makedirs(empty)
        done = basalt("load", empty, "--hosts", hosts)
        assert done.returncode == 1 and "no SSTables" in done.stderr
        damaged = os.path.join(work, "rs", "t")
        source = next(d for table, d in snapshot_dirs if table == "t")
        shutil.copytree(source, damaged)
        data = sorted(n for n in os.listdir(damaged) if n.endswith("-Data.db"))[0]
        with open(os.path.join(damaged, data), "r+b") as fh:
            size = fh.seek(0, 2)
            fh.seek(size // 2)
            byte = fh.read(1)
            fh.seek(size // 2)
            fh.write(bytes([byte[0] ^ 0xFF]))
        done = basalt("load", damaged, "--hosts", hosts)
        assert done.returncode == 1 and "is damaged" in done.stderr and data in done.stderr, done.stderr
    finally:
        for cl in fresh_clusters:
            cl.shutdown()
        fresh.stop()
        shutil.rmtree(work, ignore_errors=True)

    # Clearing removes the snapshots, not the data.
    for host in c.addresses:
        assert "Cleared 2 snapshot(s)" in admin(host, "clearsnapshot", "-t", "restore1")
        assert json.loads(admin(host, "listsnapshots", "--format", "json")) == []
    assert read_all(writer)[(9999, 0)][0] == "late"
    writer_cluster.shutdown()
