"""A node whose wall clock runs 10 minutes ahead (libfaketime, monotonic clock untouched) in a
3-node cluster of real `basalt server` processes (127.0.5.241–243, node 3 skewed): the others
report its offset (metric and /status), it refuses writes that need a server-side timestamp with a
clear error, the other nodes go on accepting them, and client-timestamped writes through it work."""
import json
import os
import re
import shutil
import tempfile
import time
import urllib.request

import pytest

from conftest import start_cluster
from harness import metric, session_on, status_table

ADDRESS_BASE = 24
ADDRESSES = ["127.0.5.241", "127.0.5.242", "127.0.5.243"]
SKEWED = ADDRESSES[2]
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SKEW_SECONDS = 600


@pytest.fixture(scope="module")
def skewed_cluster():
    if not os.path.exists(FAKETIME_LIB):
        pytest.skip("libfaketime is not installed (scripts/deps --python installs it)")
    directory = tempfile.mkdtemp(prefix="basalt-clockskew-")
    env = "LD_PRELOAD=%s FAKETIME=+%ds FAKETIME_DONT_FAKE_MONOTONIC=1" % (FAKETIME_LIB, SKEW_SECONDS)
    running = start_cluster(ADDRESS_BASE, directory, 3, node_env={3: env})
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(directory, ignore_errors=True)


def offset_metric(observer, peer):
    body = urllib.request.urlopen("http://%s:7199/metrics" % observer, timeout=5).read().decode()
    m = re.search(r'^basalt_clock_offset_ms\{peer="%s"\} (\S+)$' % re.escape(peer), body, re.M)
    return float(m.group(1)) if m else None


def status_json(observer):
    return json.loads(urllib.request.urlopen("http://%s:7199/status?format=json" % observer, timeout=5).read().decode())


def wait_for(what, condition, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail("timed out waiting for " + what)


def test_the_skewed_node_really_runs_ahead(skewed_cluster):
    # Generations are start times in wall-clock seconds: node 3's is ten minutes in the future.
    nodes = {n["address"]: n for n in status_json(ADDRESSES[0])["nodes"]}
    assert nodes[SKEWED]["generation"] - time.time() > SKEW_SECONDS - 120
    assert abs(nodes[ADDRESSES[1]]["generation"] - time.time()) < 300


def test_offsets_are_reported_in_metrics_and_status(skewed_cluster):
    # Peers see node 3 ten minutes ahead of them; node 3 sees them ten minutes behind.
    wait_for("node 1 to measure node 3", lambda: offset_metric(ADDRESSES[0], SKEWED) is not None)
    assert abs(offset_metric(ADDRESSES[0], SKEWED) - SKEW_SECONDS * 1000) < 5000
    assert abs(offset_metric(ADDRESSES[0], ADDRESSES[1])) < 1000
    wait_for("node 3 to measure node 1", lambda: offset_metric(SKEWED, ADDRESSES[0]) is not None)
    assert abs(offset_metric(SKEWED, ADDRESSES[0]) + SKEW_SECONDS * 1000) < 5000

    wait_for("node 3 to call its clock out of range", lambda: metric(SKEWED, "basalt_clock_out_of_range") == 1)
    assert metric(ADDRESSES[0], "basalt_clock_out_of_range") == 0
    assert metric(ADDRESSES[1], "basalt_clock_out_of_range") == 0

    table = status_table(ADDRESSES[0])
    assert "Clock offset" in table
    line = next(l for l in table.splitlines() if SKEWED + " " in l)
    m = re.search(r"\+(\d+) ms", line)
    assert m and abs(int(m.group(1)) - SKEW_SECONDS * 1000) < 5000, line
    nodes = {n["address"]: n for n in status_json(ADDRESSES[0])["nodes"]}
    assert abs(nodes[SKEWED]["clockOffsetMs"] - SKEW_SECONDS * 1000) < 5000
    assert "clockOffsetMs" not in nodes[ADDRESSES[0]]  # the reporting node itself


def test_server_timestamped_writes_are_refused_only_on_the_skewed_node(skewed_cluster):
    from cassandra import ConsistencyLevel, InvalidRequest
    wait_for("node 3 to call its clock out of range", lambda: metric(SKEWED, "basalt_clock_out_of_range") == 1)
    admin_cluster, admin = session_on(ADDRESSES[:1], ConsistencyLevel.ALL)
    try:
        admin.execute("CREATE KEYSPACE skew WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
        admin.execute("CREATE TABLE skew.kv (k int PRIMARY KEY, v text)")
    finally:
        admin_cluster.shutdown()

    for address in ADDRESSES:
        cluster, session = session_on([address], ConsistencyLevel.QUORUM)
        try:
            # The driver sends a client timestamp by default: accepted everywhere, the skewed node too.
            session.execute("INSERT INTO skew.kv (k, v) VALUES (1, 'client timestamp')")
            session.execute("INSERT INTO skew.kv (k, v) VALUES (2, 'explicit') USING TIMESTAMP 1000")
            session.use_client_timestamp = False
            if address == SKEWED:
                with pytest.raises(InvalidRequest) as refused:
                    session.execute("INSERT INTO skew.kv (k, v) VALUES (3, 'server timestamp')")
                message = str(refused.value)
                m = re.search(r"clock is (\d+) ms ahead of the cluster's", message)
                assert m and abs(int(m.group(1)) - SKEW_SECONDS * 1000) < 5000, message
                assert "client timestamp" in message
                with pytest.raises(InvalidRequest):
                    session.execute("DELETE FROM skew.kv WHERE k = 1")
                # USING TIMESTAMP is a client timestamp: still accepted.
                session.execute("INSERT INTO skew.kv (k, v) VALUES (4, 'explicit') USING TIMESTAMP 2000")
            else:
                session.execute("INSERT INTO skew.kv (k, v) VALUES (3, 'server timestamp')")
                session.execute("DELETE FROM skew.kv WHERE k = 3")
            # Reads are not affected.
            assert session.execute("SELECT v FROM skew.kv WHERE k = 2").one().v == "explicit"
        finally:
            cluster.shutdown()
