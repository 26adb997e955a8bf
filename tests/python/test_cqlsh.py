"""cqlsh (the PyPI package) as a subprocess against Basalt: connects, DESCRIBE works, SELECT prints rows."""
import os
import subprocess
import sys

ADDRESS_BASE = 2


def cqlsh(address, statements):
    binary = os.path.join(os.path.dirname(sys.executable), "cqlsh")
    out = subprocess.run([binary, address, "-e", statements], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_cqlsh_describe_and_select(basalt_cluster, session):
    session.execute("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE shop.items (sku text, region text, price double, tags set<text>, PRIMARY KEY (sku, region)) "
                    "WITH CLUSTERING ORDER BY (region DESC) AND comment = 'catalogue'")
    session.execute("INSERT INTO shop.items (sku, region, price, tags) VALUES ('a-1', 'eu', 9.5, {'new'})")
    session.execute("INSERT INTO shop.items (sku, region, price) VALUES ('a-1', 'us', 10.25)")
    address = basalt_cluster.addresses[0]

    keyspaces = cqlsh(address, "DESCRIBE KEYSPACES")
    for name in ("shop", "system", "system_schema"):
        assert name in keyspaces.split()

    table = cqlsh(address, "DESCRIBE TABLE shop.items")
    assert "CREATE TABLE shop.items (" in table
    assert "PRIMARY KEY (sku, region)" in table
    assert "CLUSTERING ORDER BY (region DESC)" in table
    assert "comment = 'catalogue'" in table

    rows = cqlsh(address, "SELECT sku, region, price, tags FROM shop.items WHERE sku = 'a-1'")
    lines = [l for l in rows.splitlines() if "a-1" in l]
    assert len(lines) == 2
    assert "us" in lines[0] and "10.25" in lines[0]
    assert "eu" in lines[1] and "{'new'}" in lines[1]
    assert "(2 rows)" in rows

    local = cqlsh(address, "SELECT cluster_name, release_version FROM system.local")
    assert "5.0.0" in local and "(1 rows)" in local
