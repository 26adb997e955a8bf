"""Bad input on one connection gets an error and closes only that connection; the node keeps
serving the driver. Version negotiation answers the driver's probes as Cassandra does."""
import random
import socket
import struct

ADDRESS_BASE = 3


def exchange(address, payload, read_timeout=5):
    with socket.create_connection((address, 9042), timeout=read_timeout) as s:
        s.sendall(payload)
        data = b""
        try:
            while len(data) < 9 or len(data) < 9 + struct.unpack(">i", data[5:9])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        return data


def test_version_probes_get_protocol_errors(basalt_cluster):
    address = basalt_cluster.addresses[0]
    for version in (0x42, 0x41, 0x06, 0x03):
        frame = struct.pack(">BBhBi", version, 0, 7, 0x05, 0)
        reply = exchange(address, frame)
        assert reply[0] == 0x84 and struct.unpack(">h", reply[2:4])[0] == 7 and reply[4] == 0x00
        code, = struct.unpack(">i", reply[9:13])
        assert code == 0x000A
        assert b"unsupported protocol version" in reply.lower()


def test_garbage_does_not_disturb_other_connections(basalt_cluster, session):
    address = basalt_cluster.addresses[0]
    session.execute("CREATE KEYSPACE IF NOT EXISTS robust WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE IF NOT EXISTS robust.t (k int PRIMARY KEY, v int)")
    rng = random.Random(42)
    for i in range(60):
        kind = i % 3
        if kind == 0:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        elif kind == 1:
            # A v4 QUERY header whose body is garbage.
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
            payload = struct.pack(">BBhBi", 4, 0, 1, 0x07, len(body)) + body
        else:
            # STARTUP, then an EXECUTE with a truncated body.
            startup_body = struct.pack(">H", 1) + struct.pack(">H", 11) + b"CQL_VERSION" + struct.pack(">H", 5) + b"3.0.0"
            payload = struct.pack(">BBhBi", 4, 0, 0, 0x01, len(startup_body)) + startup_body
            payload += struct.pack(">BBhBi", 4, 0, 2, 0x0A, 3) + b"\x00\x10\x01"
        exchange(address, payload, read_timeout=2)
        session.execute("INSERT INTO robust.t (k, v) VALUES (%s, %s)", (i, i))
    assert session.execute("SELECT count(*) FROM robust.t").one()[0] == 60
