"""The native transport's limits on a real 3-node cluster (docs/server.md, "Native transport limits"):
half-sent large frames cannot exhaust memory and do not stop other clients, an oversized frame
header is refused at once, a frame left half-sent is closed after the incomplete-frame timeout,
connection caps refuse extra connections, and a mutation over the maximum mutation size is an
InvalidRequest naming both sizes.

Raw sockets bind source addresses of this module's block that no node uses (127.0.5.214–219), so
their per-address limits never touch the driver's connections."""
import os
import socket
import struct
import threading
import time

import pytest
from cassandra import InvalidRequest

from conftest import admin_metric

ADDRESS_BASE = 21
CLUSTER_NODES = 3
INCOMPLETE_FRAME_TIMEOUT = 8
PER_IP_CONNECTIONS = 12
MAX_CONNECTIONS = 40
CLUSTER_EXTRA_CONFIG = """native_transport_incomplete_frame_timeout: %ds
native_transport_max_concurrent_connections_per_ip: %d
native_transport_max_concurrent_connections: %d
commitlog_segment_size_in_mb: 1""" % (INCOMPLETE_FRAME_TIMEOUT, PER_IP_CONNECTIONS, MAX_CONNECTIONS)

SLOW_SENDERS = "127.0.5.219"
QUERY = 0x07


def header(opcode, stream, length):
    return struct.pack(">BBhBi", 4, 0, stream, opcode, length)


def connect_from(source, address, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((address, 9042))
    return s


def read_frame(s):
    """One whole response frame (header, body), or None when the connection closed first."""
    data = b""
    while len(data) < 9 or len(data) < 9 + struct.unpack(">i", data[5:9])[0]:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    length = struct.unpack(">i", data[5:9])[0]
    return data[:9], data[9:9 + length]


def closed_by_peer(s, within):
    """True when the node closes `s` within `within` seconds (anything it sends first is skipped)."""
    deadline = time.time() + within
    while time.time() < deadline:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def node_pid(cluster, i):
    with open(os.path.join(cluster.directory, "node%d" % i, "pid")) as f:
        return int(f.read().strip())


def test_half_sent_large_frames_are_bounded_and_others_are_served(basalt_cluster, session):
    address = basalt_cluster.addresses[0]
    pid = node_pid(basalt_cluster, 1)
    session.execute("CREATE KEYSPACE IF NOT EXISTS limits WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    session.execute("CREATE TABLE IF NOT EXISTS limits.kv (k int PRIMARY KEY, v blob)")
    baseline = rss_bytes(pid)
    body_length = 15 << 20
    half = body_length // 2
    sockets = [connect_from(SLOW_SENDERS, address) for _ in range(8)]
    sent = [0] * len(sockets)

    def send_half(i, s):
        # Unauthenticated (no STARTUP): a QUERY header announcing 15 MiB, then half of the body,
        # for as long as the node reads it (it stops reading at the per-address limit).
        s.settimeout(0.5)
        s.sendall(header(QUERY, 1, body_length))
        chunk = b"\x00" * (64 << 10)
        deadline = time.time() + 4
        while sent[i] < half and time.time() < deadline:
            try:
                sent[i] += s.send(chunk[:min(len(chunk), half - sent[i])])
            except socket.timeout:
                pass

    try:
        threads = [threading.Thread(target=send_half, args=(i, s)) for i, s in enumerate(sockets)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        grown = rss_bytes(pid) - baseline
        in_flight = admin_metric(address, "basalt_native_request_bytes_in_flight")
        print("sent %d MiB in total; RSS grew by %.1f MiB; %d bytes of requests in flight"
              % (sum(sent) >> 20, grown / 2 ** 20, in_flight))
        assert grown < 300 << 20
        # The per-address limit (16 MiB by default) holds the slow senders: frames are reserved
        # whole while the address is under it (so at most one frame past it), and a paused
        # connection has read at most one chunk (128 KiB).
        assert in_flight <= (16 << 20) + (15 << 20) + 9 + 8 * (128 << 10)
        assert admin_metric(address, "basalt_native_read_pauses_total") >= 1
        # Another client is still served while the half-sent frames are held.
        session.execute("INSERT INTO limits.kv (k, v) VALUES (1, 0x01)")
        assert session.execute("SELECT v FROM limits.kv WHERE k = 1").one()[0] == b"\x01"
    finally:
        for s in sockets:
            s.close()


def test_frame_over_the_maximum_is_refused_at_the_header(basalt_cluster):
    with connect_from("127.0.5.218", basalt_cluster.addresses[0], timeout=10) as s:
        s.sendall(header(QUERY, 5, 100 << 20))  # 100 MiB announced, no body sent
        frame = read_frame(s)
        assert frame is not None, "closed without an error frame"
        head, body = frame
        assert head[0] == 0x84 and struct.unpack(">h", head[2:4])[0] == 5 and head[4] == 0x00
        code, = struct.unpack(">i", body[:4])
        message = body[6:].decode()
        assert code == 0x000A, message
        assert str(100 << 20) in message and str(16 << 20) in message, message
        assert closed_by_peer(s, 10)


def test_frame_left_half_sent_is_closed_but_idle_connections_stay(basalt_cluster):
    address = basalt_cluster.addresses[1]
    before = admin_metric(address, "basalt_native_incomplete_frame_closes_total")
    stuck = connect_from("127.0.5.217", address)
    idle = connect_from("127.0.5.217", address)
    try:
        stuck.sendall(header(QUERY, 1, 1000) + b"\x00" * 100)
        startup = struct.pack(">H", 1) + struct.pack(">H", 11) + b"CQL_VERSION" + struct.pack(">H", 5) + b"3.0.0"
        idle.sendall(header(0x01, 0, len(startup)) + startup)
        assert read_frame(idle)[0][4] == 0x02  # READY
        assert closed_by_peer(stuck, INCOMPLETE_FRAME_TIMEOUT + 30), "a half-sent frame was never timed out"
        assert admin_metric(address, "basalt_native_incomplete_frame_closes_total") >= before + 1
        # The connection idle between frames for longer than the timeout still answers.
        time.sleep(1)
        idle.sendall(header(0x05, 3, 0))  # OPTIONS
        frame = read_frame(idle)
        assert frame is not None and frame[0][4] == 0x06  # SUPPORTED
    finally:
        stuck.close()
        idle.close()


def refused(address, reason):
    return admin_metric(address, 'basalt_native_connections_refused_total{reason="%s"}' % reason)


def wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline:
        time.sleep(0.1)
    return predicate()


def count_closed(sockets):
    """How many of `sockets` the node has closed (each checked without waiting long)."""
    return sum(1 for s in sockets if closed_by_peer(s, 0.3))


def test_connection_caps_refuse_extra_connections(basalt_cluster, session):
    # Accepted connections are admitted on the node's two loops, not necessarily in connect order:
    # the test counts refusals, not which connection was refused.
    address = basalt_cluster.addresses[2]
    held = []
    try:
        for _ in range(PER_IP_CONNECTIONS + 1):
            held.append(connect_from("127.0.5.216", address))
        assert wait_for(lambda: refused(address, "max_connections_per_ip") >= 1, 20), "no refusal past the per-address cap"
        assert count_closed(held) == 1
        per_address_phase = len(held)
        # The total cap: fill it from other addresses (at most 11 each) until one is refused.
        for source in ("127.0.5.215", "127.0.5.214", "127.0.5.218", "127.0.5.219"):
            for _ in range(PER_IP_CONNECTIONS - 1):
                held.append(connect_from(source, address))
                if wait_for(lambda: refused(address, "max_connections") >= 1, 0.3):
                    break
            if refused(address, "max_connections") >= 1:
                break
        assert wait_for(lambda: refused(address, "max_connections") >= 1, 20), \
            "no connection was refused past native_transport_max_concurrent_connections"
        assert count_closed(held[per_address_phase:]) >= 1
    finally:
        for s in held:
            s.close()
    # Once they are closed, new connections are accepted again.
    wait_for(lambda: admin_metric(address, "basalt_native_connections") <= 10, 30)
    with connect_from("127.0.5.216", address) as s:
        s.sendall(header(0x05, 1, 0))
        assert read_frame(s)[0][4] == 0x06


def test_mutation_over_the_maximum_size_is_invalid(basalt_cluster, session):
    session.execute("CREATE KEYSPACE IF NOT EXISTS limits WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    session.execute("CREATE TABLE IF NOT EXISTS limits.kv (k int PRIMARY KEY, v blob)")
    maximum = (1 << 20) // 2  # half of commitlog_segment_size_in_mb: 1
    big = b"\x07" * (600 << 10)
    with pytest.raises(InvalidRequest) as e:
        session.execute("INSERT INTO limits.kv (k, v) VALUES (%s, %s)", (2, big))
    message = str(e.value)
    assert "is too large for the maximum size of %d" % maximum in message, message
    assert "Mutation of " in message
    size = int(message.split("Mutation of ")[1].split(" bytes")[0])
    assert size > maximum
    with pytest.raises(InvalidRequest) as e:
        session.execute("BEGIN BATCH INSERT INTO limits.kv (k, v) VALUES (3, 0x03); "
                        "INSERT INTO limits.kv (k, v) VALUES (4, %s); APPLY BATCH", (big,))
    assert "is too large for the maximum size of %d" % maximum in str(e.value)
    # Nothing of the refused batch was written; a value under the limit is.
    assert session.execute("SELECT v FROM limits.kv WHERE k = 3").one() is None
    session.execute("INSERT INTO limits.kv (k, v) VALUES (%s, %s)", (5, b"\x05" * (100 << 10)))
    total = sum(admin_metric(a, "basalt_coordinator_mutations_too_large_total") for a in basalt_cluster.addresses)
    assert total >= 2
