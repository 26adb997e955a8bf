"""`basalt admin`'s nodetool-like commands against a real 3-node cluster, as text for people and
as JSON for scripts: version, info, describecluster, gossipinfo, getendpoints (checked against the
driver's own replica map), tablestats, compact, compactionstats, listpendinghints and
truncatehints (hints made by writing while a node is down), status KEYSPACE (effective ownership
summing to RF x 100 %), tablehistograms and the per-table histograms moving under load, flush of
named tables, the compaction throttle, drain (writes refused, reads served, until a restart), and
their exit codes on bad input."""
import json
import os
import re
import subprocess
import urllib.request

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
    # Every line of a node's log names it: address from the first line, host id once it is known.
    with open(os.path.join(basalt_cluster.directory, "node1", "basalt.log")) as f:
        lines = [line for line in f if not line.startswith("--- start")]
    assert lines and all("node=%s:" % a in line for line in lines), [line for line in lines if "node=" not in line][:3]
    assert sum("host_id=%s" % j["id"] in line for line in lines) >= len(lines) - 5


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


def keyspace_on(address, keyspace, rf, consistency, *tables):
    """A session on `address` at `consistency`, once keyspace `keyspace` (SimpleStrategy, `rf`) and
    its `tables` ("name (columns…)") exist everywhere."""
    c, s = session_on([address], consistency)
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}" % (keyspace, rf))
    for t in tables:
        s.execute("CREATE TABLE IF NOT EXISTS %s.%s" % (keyspace, t))
    c.control_connection.wait_for_schema_agreement(wait_time=20)
    return c, s


def metric_value(address, pattern):
    body = urllib.request.urlopen("http://%s:7199/metrics" % address, timeout=10).read().decode()
    found = re.search("^" + pattern + r" (\S+)$", body, re.M)
    return float(found.group(1)) if found else None


def test_status_keyspace_tablehistograms_and_flush_of_named_tables(basalt_cluster):
    a = basalt_cluster.addresses[0]
    c, s = keyspace_on(a, "hist", 2, ConsistencyLevel.ONE, "kv (k int PRIMARY KEY, v text)", "other (k int PRIMARY KEY, v text)")

    plain = admin_json(a, "status")
    assert plain.get("keyspace") is None and abs(sum(n["owns"] for n in plain["nodes"]) - 1.0) < 0.001
    assert "Note: Owns is" in admin(a, "status").stdout
    effective = admin_json(a, "status", "hist")
    assert effective["keyspace"] == "hist" and effective["mode"] == "NORMAL"
    assert abs(sum(n["owns"] for n in effective["nodes"]) - 2.0) < 0.001, effective
    assert all(0 < n["owns"] <= 1.0 for n in effective["nodes"])
    text = admin(a, "status", "hist").stdout
    assert "Owns (effective)" in text and "Note:" not in text and "UN  " + a in text
    assert admin_json(a, "status", "system")["nodes"][0]["owns"] in (0.0, 1.0)
    bad = admin(a, "status", "nope", check=False)
    assert bad.returncode == 1 and "keyspace nope does not exist" in bad.stderr

    count = 'basalt_table_read_latency_seconds_count{keyspace="hist",table="kv"}'
    before = metric_value(a, count) or 0
    for i in range(200):
        s.execute("INSERT INTO hist.kv (k, v) VALUES (%s, %s)", (i, "v%d" % i))
        s.execute("INSERT INTO hist.other (k, v) VALUES (%s, %s)", (i, "v%d" % i))
    for i in range(200):
        s.execute("SELECT v FROM hist.kv WHERE k = %s", (i,))
    c.shutdown()
    # Node a holds a replica of its share of the keys (about 2/3 at RF 2 of 3 nodes with balanced
    # tokens; 40 of 200 leaves a wide margin): those reads and writes are local to it.
    assert metric_value(a, count) >= before + 40
    assert metric_value(a, 'basalt_table_write_latency_seconds_count{keyspace="hist",table="kv"}') >= 40
    assert metric_value(a, r'basalt_table_sstables_per_read_bucket\{keyspace="hist",table="kv",le="\+Inf"\}') >= 40
    # The swift-metrics families share the page with the collectors'.
    body = urllib.request.urlopen("http://%s:7199/metrics" % a, timeout=10).read().decode()
    assert "# TYPE basalt_vector_index_search_seconds histogram" in body and "# TYPE basalt_coordinator_writes_total counter" in body

    flushed = admin(a, "flush", "hist", "kv").stdout
    assert "flush started" in flushed and "hist.kv" in flushed, flushed
    tables = {t["table"]: t for t in admin_json(a, "tablestats", "hist")["tables"]}
    assert tables["kv"]["sstables"] >= 1 and tables["other"]["sstables"] == 0
    assert admin(a, "flush", "hist", "nope", check=False).returncode == 1
    assert admin(a, "flush", "nope", check=False).returncode == 1

    h = admin_json(a, "tablehistograms", "hist.kv")
    assert (h["keyspace"], h["table"]) == ("hist", "kv") and h["reads"] >= 40 and h["writes"] >= 40
    rows = {r["percentile"]: r for r in h["rows"]}
    assert list(rows) == ["50%", "75%", "95%", "98%", "99%", "Min", "Max"]
    assert rows["50%"]["readLatencyMicros"] <= rows["99%"]["readLatencyMicros"] <= rows["Max"]["readLatencyMicros"]
    assert rows["50%"]["writeLatencyMicros"] > 0 and rows["Max"]["sstables"] >= 0 and rows["50%"]["partitionSizeBytes"] > 0
    assert rows["Max"]["cellCount"] >= 1
    text = admin(a, "tablehistograms", "hist", "kv").stdout
    assert text.startswith("hist/kv histograms") and "Read Latency" in text and "Partition Size" in text
    assert admin(a, "tablehistograms", "hist", check=False).returncode == 1
    assert admin(a, "tablehistograms", "hist.nope", check=False).returncode == 1


def test_compaction_throughput_is_read_and_set(basalt_cluster):
    a = basalt_cluster.addresses[0]
    default = admin_json(a, "getcompactionthroughput")["megabytesPerSecond"]
    assert "Current compaction throughput: %d MB/s" % default in admin(a, "getcompactionthroughput").stdout
    assert "set to 8 MB/s" in admin(a, "setcompactionthroughput", "8").stdout
    assert admin_json(a, "getcompactionthroughput")["megabytesPerSecond"] == 8
    assert admin_json(a, "info")["compactionThroughputMiBPerSecond"] == 8
    assert "unthrottled" in admin(a, "setcompactionthroughput", "0").stdout
    assert "unthrottled" in admin(a, "getcompactionthroughput").stdout
    assert admin(a, "setcompactionthroughput", "-1", check=False).returncode != 0
    assert admin(a, "setcompactionthroughput", "lots", check=False).returncode != 0
    admin(a, "setcompactionthroughput", str(default))


def test_drain_refuses_writes_until_restart_and_reads_go_on(basalt_cluster):
    a, drained = basalt_cluster.addresses[0], basalt_cluster.addresses[2]
    c, s = keyspace_on(a, "drainks", 3, ConsistencyLevel.ALL, "kv (k int PRIMARY KEY, v int)")
    for i in range(50):
        s.execute("INSERT INTO drainks.kv (k, v) VALUES (%s, %s)", (i, i))
    c.shutdown()
    try:
        out = admin(drained, "drain").stdout
        assert "drain started" in out and "drained: every memtable flushed" in out, out
        assert admin_json(drained, "info")["mode"] == "DRAINED"
        assert re.search(r"^Mode +: DRAINED$", admin(drained, "info").stdout, re.M)
        assert admin_json(drained, "status")["mode"] == "DRAINED" and "Mode: DRAINED" in admin(drained, "status").stdout
        again = admin(drained, "drain", check=False)
        assert again.returncode == 1 and "already drained" in again.stderr
        # Nothing left in memtables: every table of the keyspace is on disk.
        assert admin_json(drained, "tablestats", "drainks.kv")["tables"][0]["sstables"] >= 1

        c, s = session_on([drained], ConsistencyLevel.ONE)
        try:
            refused = None
            try:
                s.execute("INSERT INTO drainks.kv (k, v) VALUES (1000, 1)")
            except Exception as e:  # Overloaded with the reason (the session does not retry elsewhere)
                refused = str(e)
            assert refused is not None and "drained" in refused, refused
            assert s.execute("SELECT v FROM drainks.kv WHERE k = 7").one().v == 7
            assert len(list(s.execute("SELECT * FROM drainks.kv"))) == 50
        finally:
            c.shutdown()
        # Other coordinators still take writes (the drained replica refuses its copy: at ONE it is not needed).
        c, s = session_on([a], ConsistencyLevel.ONE)
        s.execute("INSERT INTO drainks.kv (k, v) VALUES (1001, 1)")
        c.shutdown()
        # A restart opens the node again.
        basalt_cluster.run("stop", 3)
        basalt_cluster.run("start", 3)
        assert admin_json(drained, "info")["mode"] == "NORMAL"
        c, s = session_on([drained], ConsistencyLevel.ONE)
        s.execute("INSERT INTO drainks.kv (k, v) VALUES (1002, 1)")
        c.shutdown()
    finally:
        if "DRAINED" in admin(drained, "info", check=False).stdout:
            basalt_cluster.run("stop", 3)
            basalt_cluster.run("start", 3)
