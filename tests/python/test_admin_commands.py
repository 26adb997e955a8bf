"""`basalt admin`'s nodetool-like commands against a real 3-node cluster, as text for people and
as JSON for scripts: version, info, describecluster, gossipinfo, getendpoints (checked against the
driver's own replica map), tablestats, compact, compactionstats, listpendinghints and
truncatehints (hints made by writing while a node is down), and their exit codes on bad input."""
import json
import subprocess

from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster

from conftest import basalt_bin, session_on
from movement import wait_for

ADDRESS_BASE = 26


def admin(address, *args, check=True):
    done = subprocess.run([basalt_bin(), "admin"] + list(args) + ["--host", address], capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, "basalt admin %s: %s%s" % (" ".join(args), done.stdout, done.stderr)
    return done


def admin_json(address, *args):
    return json.loads(admin(address, *args, "--format", "json").stdout)


def test_version_info_describecluster_and_gossipinfo(basalt_cluster):
    a = basalt_cluster.addresses[0]
    assert admin(a, "version").stdout.startswith("ReleaseVersion: ")
    info = admin(a, "info").stdout
    assert "Gossip active" in info and "Load" in info and "Uptime (seconds)" in info
    j = admin_json(a, "info")
    assert j["status"] == "NORMAL" and j["tokens"] == 16 and j["gossipActive"] and j["residentBytes"] > 0
    d = admin_json(a, "describecluster")
    assert d["partitioner"].endswith("Murmur3Partitioner") and not d["unreachable"]
    assert sorted(h for hosts in d["schemaVersions"].values() for h in hosts) == sorted(basalt_cluster.addresses)
    assert "Schema versions:" in admin(a, "describecluster").stdout
    g = admin_json(a, "gossipinfo")
    assert sorted(e["address"].split(":")[0] for e in g["endpoints"]) == sorted(basalt_cluster.addresses)
    assert all(e["status"] == "NORMAL" and e["up"] and e["tokens"] == 16 for e in g["endpoints"])
    assert "STATUS:NORMAL" in admin(a, "gossipinfo").stdout


def test_getendpoints_agrees_with_the_driver_and_tables_are_reported(basalt_cluster):
    a = basalt_cluster.addresses[0]
    c, s = session_on(basalt_cluster.addresses, ConsistencyLevel.ALL)
    s.execute("CREATE KEYSPACE IF NOT EXISTS ops WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
    s.execute("CREATE TABLE IF NOT EXISTS ops.kv (k text PRIMARY KEY, v int)")
    s.execute("CREATE TABLE IF NOT EXISTS ops.pair (a int, b text, v int, PRIMARY KEY ((a, b)))")
    c.control_connection.wait_for_schema_agreement(wait_time=20)
    for i in range(200):
        s.execute("INSERT INTO ops.kv (k, v) VALUES (%s, %s)", ("key%d" % i, i))
    c.shutdown()
    driver = Cluster(contact_points=basalt_cluster.addresses)
    try:
        driver.connect()
        meta = driver.metadata
        for key in ("key1", "key77", "another"):
            replicas = sorted(h.address for h in meta.get_replicas("ops", key.encode()))
            got = admin(a, "getendpoints", "ops", "kv", key).stdout.split()
            assert sorted(got) == replicas and len(got) == 2, (key, got, replicas)
    finally:
        driver.shutdown()
    assert len(admin_json(a, "getendpoints", "ops", "pair", "7:x")["replicas"]) == 2
    bad = admin(a, "getendpoints", "ops", "pair", "7", check=False)
    assert bad.returncode == 1 and "2 parts" in bad.stderr
    assert admin(a, "getendpoints", "nope", "kv", "k", check=False).returncode == 1

    for node in basalt_cluster.addresses:
        admin(node, "flush")
    stats = admin_json(a, "tablestats", "ops.kv")["tables"]
    assert [(t["keyspace"], t["table"]) for t in stats] == [("ops", "kv")] and stats[0]["sstables"] >= 1 and stats[0]["liveBytes"] > 0
    assert "Table: kv" in admin(a, "tablestats", "ops").stdout
    before = admin_json(a, "compactionstats")["compactions"]
    assert "compacted 2 table(s)" in admin(a, "compact", "ops").stdout
    assert admin_json(a, "compactionstats")["compactions"] >= before
    assert admin_json(a, "tablestats", "ops.kv")["tables"][0]["sstables"] <= 1
    assert admin(a, "tablestats", "ops.nope", check=False).returncode == 1


def test_pending_hints_are_listed_and_truncated(basalt_cluster):
    a, down = basalt_cluster.addresses[0], basalt_cluster.addresses[2]
    assert "does not have any pending hints" in admin(a, "listpendinghints").stdout
    c, s = session_on([a], ConsistencyLevel.ONE)
    s.execute("CREATE KEYSPACE IF NOT EXISTS ops3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    s.execute("CREATE TABLE IF NOT EXISTS ops3.kv (k int PRIMARY KEY, v int)")
    c.control_connection.wait_for_schema_agreement(wait_time=20)
    basalt_cluster.run("kill", 3)
    try:
        wait_for("node 3 down", lambda: any(n["state"] == "DN" for n in json.loads(admin(a, "status", "--format", "json").stdout)["nodes"]
                                             if n["address"] == down), 60)
        for i in range(100):
            s.execute("INSERT INTO ops3.kv (k, v) VALUES (%s, %s)", (i, i))
        hints = admin_json(a, "listpendinghints")["targets"]
        assert [h["address"] for h in hints] == [down] and hints[0]["bytes"] > 0 and hints[0]["isAlive"] is False
        assert down in admin(a, "listpendinghints").stdout
        assert "deleted the hints for 1 node(s)" in admin(a, "truncatehints", down).stdout
        assert admin_json(a, "listpendinghints")["targets"] == []
        assert admin(a, "truncatehints", "10.9.9.9", check=False).returncode == 1
    finally:
        c.shutdown()
        basalt_cluster.run("start", 3)


def test_proxyhistograms_and_latency_metrics_move_under_load(basalt_cluster):
    import re
    import urllib.request
    a = basalt_cluster.addresses[0]
    before = admin_json(a, "proxyhistograms")
    c, s = session_on([a], ConsistencyLevel.QUORUM)
    s.execute("CREATE KEYSPACE IF NOT EXISTS ops WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
    s.execute("CREATE TABLE IF NOT EXISTS ops.lat (k int PRIMARY KEY, v int)")
    c.control_connection.wait_for_schema_agreement(wait_time=20)
    for i in range(300):
        s.execute("INSERT INTO ops.lat (k, v) VALUES (%s, %s)", (i, i))
        s.execute("SELECT v FROM ops.lat WHERE k = %s", (i,))
    list(s.execute("SELECT * FROM ops.lat"))
    c.shutdown()
    after = admin_json(a, "proxyhistograms")
    assert after["write"]["count"] >= before["write"]["count"] + 300
    assert after["read"]["count"] >= before["read"]["count"] + 300 and after["rangeRead"]["count"] > before["rangeRead"]["count"]
    assert after["write"]["micros"]["50%"] is not None and after["write"]["micros"]["50%"] <= after["write"]["micros"]["99%"]
    assert "Write Latency" in admin(a, "proxyhistograms").stdout
    body = urllib.request.urlopen("http://%s:7199/metrics" % a, timeout=10).read().decode()
    count = re.search(r'^basalt_coordinator_latency_seconds_count\{kind="write",consistency="QUORUM"\} (\d+)$', body, re.M)
    assert count and int(count.group(1)) >= 300
    assert re.search(r'^basalt_coordinator_latency_seconds_bucket\{kind="read",consistency="QUORUM",le="\+Inf"\} \d+$', body, re.M)
    # The storage engine's histograms are there too.
    assert "basalt_storage_commitlog_sync_seconds_bucket" in body
