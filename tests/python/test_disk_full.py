"""A node whose data directory (commit log included) fills up: writes fail with a clear error, reads
go on, and writes are accepted again by themselves once space is freed, with nothing acknowledged
lost — also after the node is killed and restarted (commit-log replay).

One real `basalt server` (cluster/up 1 on 127.0.5.231) whose data directory is a 32 MiB tmpfs
mounted by the test (root only; skipped otherwise) and always unmounted. Small commit-log segments
and memtables so the disk fills with both."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
from cassandra import WriteFailure

from conftest import session_on, start_cluster
from harness import metric

ADDRESS_BASE = 23
ADDRESS = "127.0.5.231"
EXTRA_CONFIG = "commitlog_segment_size_in_mb: 1\nmemtable_size_in_mb: 1\nhinted_handoff_enabled: false"
VALUE = os.urandom(8192)  # incompressible: SSTables take as much room as the commit log


def is_mounted(path):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


@pytest.fixture(scope="module")
def full_disk_node():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    directory = tempfile.mkdtemp(prefix="basalt-diskfull-")
    data = os.path.join(directory, "node1", "data")
    os.makedirs(data)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", data], check=True)
    running = None
    try:
        running = start_cluster(ADDRESS_BASE, directory, 1, EXTRA_CONFIG)
        yield running, data
    finally:
        if running is not None:
            running.stop()
        # The node is stopped (or never started): nothing holds the mount.
        for _ in range(20):
            if not is_mounted(data) or subprocess.run(["umount", data]).returncode == 0:
                break
            time.sleep(0.5)
        assert not is_mounted(data), "tmpfs at %s still mounted" % data
        # What the node said about its disk (shown when a test fails, or with -s).
        log = os.path.join(directory, "node1", "basalt.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print("".join(line for line in f if "commit log" in line or "flush" in line or "compaction" in line)[-6000:])
        shutil.rmtree(directory, ignore_errors=True)


def fill(path, leave_bytes):
    """A filler file taking all but `leave_bytes` of the file system's free space."""
    st = os.statvfs(os.path.dirname(path))
    size = max(0, st.f_bavail * st.f_frsize - leave_bytes)
    with open(path, "wb") as f:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            n = min(size, len(chunk))
            try:
                f.write(chunk[:n])
                f.flush()
            except OSError:
                break
            size -= n


def test_a_full_disk_refuses_writes_clearly_and_recovers_without_restart(full_disk_node):
    from cassandra import ConsistencyLevel
    running, data = full_disk_node
    cluster, session = session_on([ADDRESS], ConsistencyLevel.ONE)
    try:
        session.execute("CREATE KEYSPACE diskfull WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE diskfull.kv (k int PRIMARY KEY, v blob)")
        insert = session.prepare("INSERT INTO diskfull.kv (k, v) VALUES (?, ?)")
        select = session.prepare("SELECT k FROM diskfull.kv WHERE k = ?")
        for k in range(50):
            session.execute(insert, (k, VALUE))
        acknowledged = set(range(50))

        filler = os.path.join(data, "filler")
        fill(filler, 3 << 20)

        # Write until the commit log cannot take more: acknowledged writes are remembered, failures
        # must say why.
        errors = []
        failures = []
        k = 1000
        deadline = time.time() + 120
        while len(errors) < 20 and time.time() < deadline:
            try:
                session.execute(insert, (k, VALUE))
                acknowledged.add(k)
            except WriteFailure as e:
                errors.append(str(e))
                failures.append(e)
            except Exception as e:  # noqa: BLE001 (the driver raises WriteFailure / ServerError / …)
                errors.append(str(e))
            k += 1
        assert len(errors) >= 20, "the disk never filled (%d keys acknowledged)" % len(acknowledged)
        refusals = [e for e in errors if "commit log cannot be written" in e and "no space left on device" in e.lower()]
        assert refusals, "no failure named the cause: %s" % errors[:3]
        # Protocol v5's WriteFailure names the replica that failed in its reason map (code 0, unknown).
        assert session.cluster.protocol_version == 5
        assert failures, "no WriteFailure among: %s" % errors[:3]
        assert all(f.error_code_map == {ADDRESS: 0} for f in failures), [f.error_code_map for f in failures[:3]]
        # (Polled: a flush that still completes can free a segment and let a probe through for a moment.)
        refusing = time.time() + 10
        while metric(ADDRESS, "basalt_storage_commitlog_refusing_writes") != 1 and time.time() < refusing:
            time.sleep(0.2)
        assert metric(ADDRESS, "basalt_storage_commitlog_refusing_writes") == 1
        assert metric(ADDRESS, "basalt_storage_refused_writes_total") > 0

        # Reads go on while writes are refused.
        for key in sorted(acknowledged)[:200]:
            assert session.execute(select, (key,)).one() is not None, "key %d unreadable while the disk is full" % key

        # Free the space: writes are accepted again within 30 s, without a restart.
        os.remove(filler)
        freed = time.time()
        resumed = None
        while time.time() - freed < 30:
            try:
                session.execute(insert, (-1, b"after"))
                resumed = time.time() - freed
                acknowledged.add(-1)
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.5)
        assert resumed is not None, "writes still refused 30 s after space was freed"
        for k in range(5000, 5100):
            session.execute(insert, (k, VALUE))
            acknowledged.add(k)
        assert metric(ADDRESS, "basalt_storage_commitlog_refusing_writes") == 0

        missing = [key for key in sorted(acknowledged) if session.execute(select, (key,)).one() is None]
        assert not missing, "acknowledged keys lost: %s" % missing[:20]
    finally:
        cluster.shutdown()

    # Killed (no flush) and restarted: the commit log and the SSTables hold every acknowledged key.
    running.run("kill", 1)
    running.run("start", 1)
    cluster, session = session_on([ADDRESS], ConsistencyLevel.ONE)
    try:
        select = session.prepare("SELECT k FROM diskfull.kv WHERE k = ?")
        missing = [key for key in sorted(acknowledged) if session.execute(select, (key,)).one() is None]
        assert not missing, "acknowledged keys lost after a restart: %s" % missing[:20]
    finally:
        cluster.shutdown()
