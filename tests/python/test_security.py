"""Roles, passwords, permissions and the failed-login throttle on a 3-node cluster running
PasswordAuthenticator and CassandraAuthorizer, with the real driver, cqlsh and raw native-protocol
sockets. New hashes use bcrypt cost 4 here (the lowest) so the thousand wrong attempts do not spend
the test's time hashing; the cost of the default superuser's hash is checked from its prefix."""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
from cassandra import Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable
from cassandra.policies import WhiteListRoundRobinPolicy

from conftest import admin_metric

ADDRESS_BASE = 25
CLUSTER_EXTRA_CONFIG = "\n".join([
    "authenticator: PasswordAuthenticator",
    "authorizer: CassandraAuthorizer",
    "auth_bcrypt_gensalt_log2_rounds: 4",
    "audit_logging_options:",
    "  enabled: true",
])


def connect(address, user, password, timeout=60):
    """A session through `address` only, retrying while the cluster creates system_auth and the
    default superuser (a few seconds after start)."""
    deadline = time.time() + timeout
    while True:
        c = Cluster(contact_points=[address], auth_provider=PlainTextAuthProvider(user, password),
                    load_balancing_policy=WhiteListRoundRobinPolicy([address]))
        try:
            return c, c.connect()
        except NoHostAvailable:
            c.shutdown()
            if time.time() > deadline:
                raise
            time.sleep(1)


@pytest.fixture(scope="module")
def admin(basalt_cluster):
    c, s = connect(basalt_cluster.addresses[0], "cassandra", "cassandra")
    try:
        yield s
    finally:
        c.shutdown()


def cqlsh(address, user, password, statements):
    binary = os.path.join(os.path.dirname(sys.executable), "cqlsh")
    done = subprocess.run([binary, address, "-u", user, "-p", password, "-e", statements], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(execute):
    """Whether running `execute` (a statement on a session) is refused as Unauthorized."""
    try:
        execute()
        return False
    except Unauthorized:
        return True


def login_fails(address, user, password):
    c = Cluster(contact_points=[address], auth_provider=PlainTextAuthProvider(user, password))
    try:
        c.connect()
        return False
    except NoHostAvailable:
        return True
    finally:
        c.shutdown()


def eventually(check, what, timeout=15):
    """Waits until `check()` is true: changes reach other sessions and nodes within the caches' validity (2 s)."""
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, what
        time.sleep(0.5)


# A minimal native-protocol v4 client: STARTUP, then AUTH_RESPONSE after AUTH_RESPONSE on one socket.
def frame(stream, opcode, body):
    return struct.pack(">BBhBi", 4, 0, stream, opcode, len(body)) + body


def read_frame(sock):
    head = b""
    while len(head) < 9:
        chunk = sock.recv(9 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    _, _, _, opcode, length = struct.unpack(">BBhBi", head)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return opcode, body


def raw_login_attempts(address, role, passwords):
    """Sends each password for `role` on one connection, each after the previous answer; returns
    (opcode, error code) per attempt."""
    sock = socket.create_connection((address, 9042), timeout=120)
    try:
        startup = struct.pack(">H", 1) + struct.pack(">H", 11) + b"CQL_VERSION" + struct.pack(">H", 5) + b"3.0.0"
        sock.sendall(frame(0, 0x01, startup))
        opcode, _ = read_frame(sock)
        assert opcode == 0x03  # AUTHENTICATE
        out = []
        for i, password in enumerate(passwords):
            token = b"\0" + role.encode() + b"\0" + password.encode()
            sock.sendall(frame(i + 1, 0x0F, struct.pack(">i", len(token)) + token))
            opcode, body = read_frame(sock)
            out.append((opcode, struct.unpack(">i", body[:4])[0] if opcode == 0x00 else None))
        return out
    finally:
        sock.close()


def test_default_superuser_and_bcrypt_hashes(basalt_cluster, admin):
    rows = {r.role: r for r in admin.execute("SELECT role, can_login, is_superuser, salted_hash FROM system_auth.roles")}
    assert rows["cassandra"].is_superuser and rows["cassandra"].can_login
    assert rows["cassandra"].salted_hash.startswith("$2b$04$") and len(rows["cassandra"].salted_hash) == 60
    admin.execute("CREATE ROLE IF NOT EXISTS hashed WITH PASSWORD = 'not-stored-in-clear' AND LOGIN = true")
    h = admin.execute("SELECT salted_hash FROM system_auth.roles WHERE role = 'hashed'").one().salted_hash
    assert h.startswith("$2") and "not-stored-in-clear" not in h
    ks = admin.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'system_auth'").one()
    assert ks.replication["class"].endswith("SimpleStrategy")


def test_role_created_on_node1_logs_in_on_node3_and_wrong_password_fails(basalt_cluster, admin):
    admin.execute("CREATE ROLE alice WITH PASSWORD = 'wonderland' AND LOGIN = true AND SUPERUSER = false")
    c, s = connect(basalt_cluster.addresses[2], "alice", "wonderland", timeout=30)
    try:
        assert s.execute("SELECT release_version FROM system.local").one()[0]
    finally:
        c.shutdown()
    # A wrong password, and a role without LOGIN whatever its password, are refused with Cassandra's messages.
    admin.execute("CREATE ROLE nologin WITH PASSWORD = 'pw'")
    for address, user, password, message in [(basalt_cluster.addresses[2], "alice", "looking-glass",
                                              "Provided username alice and/or password are incorrect"),
                                             (basalt_cluster.addresses[0], "nologin", "pw", "not permitted to log in")]:
        bad = Cluster(contact_points=[address], auth_provider=PlainTextAuthProvider(user, password))
        try:
            with pytest.raises(NoHostAvailable) as info:
                bad.connect()
            assert message in str(info.value)
        finally:
            bad.shutdown()


def test_audit_log_has_a_line_per_login_and_statement_with_role_and_client(basalt_cluster, admin):
    admin.execute("CREATE ROLE auditee WITH PASSWORD = 'pw' AND LOGIN = true")
    address = basalt_cluster.addresses[1]
    c, s = connect(address, "auditee", "pw", timeout=30)
    try:
        s.execute("SELECT release_version FROM system.local WHERE key = 'local'")
    finally:
        c.shutdown()
    assert login_fails(address, "auditee", "wrong")
    log = os.path.join(basalt_cluster.directory, "node2", "data", "audit", "audit.log")

    def lines():
        if not os.path.exists(log):
            return []
        with open(log) as f:
            return [dict(field.split("=", 1) for field in line.rstrip("\n").split("|")) for line in f if line.strip()]

    def has(**wanted):
        return any(all(wanted[k] in line.get(k, "") for k in wanted) for line in lines())
    eventually(lambda: has(type="LOGIN_SUCCESS", user="auditee"), "the successful login's audit line")
    eventually(lambda: has(type="LOGIN_ERROR", user="auditee"), "the failed login's audit line")
    eventually(lambda: has(category="QUERY", user="auditee", operation="SELECT release_version FROM system.local"),
               "the statement's audit line")
    for line in lines():
        assert line["client"].count(".") == 3, line  # the client's IPv4 address
        assert "wrong" not in line["operation"], line  # no credentials in the log


def test_select_on_one_table_only(basalt_cluster, admin):
    for statement in ["CREATE KEYSPACE sec WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
                      "CREATE TABLE sec.open (k int PRIMARY KEY, v text)", "CREATE TABLE sec.closed (k int PRIMARY KEY, v text)",
                      "INSERT INTO sec.open (k, v) VALUES (1, 'visible')", "CREATE ROLE reader WITH PASSWORD = 'r' AND LOGIN = true",
                      "GRANT SELECT ON TABLE sec.open TO reader"]:
        admin.execute(statement)
    c, s = connect(basalt_cluster.addresses[1], "reader", "r", timeout=30)
    try:
        assert [tuple(r) for r in s.execute("SELECT k, v FROM sec.open")] == [(1, "visible")]
        prepared = s.prepare("INSERT INTO sec.open (k, v) VALUES (?, ?)")  # checked at execution, not at PREPARE
        for statement, args in [("SELECT * FROM sec.closed", None), ("INSERT INTO sec.open (k, v) VALUES (2, 'x')", None),
                                (prepared, (2, "x")), ("SELECT * FROM system_auth.roles", None),
                                ("CREATE TABLE sec.mine (k int PRIMARY KEY)", None), ("DROP TABLE sec.open", None),
                                ("BEGIN BATCH INSERT INTO sec.closed (k, v) VALUES (1, 'x') APPLY BATCH", None)]:
            with pytest.raises(Unauthorized) as info:
                s.execute(statement, args)
            assert "User reader has no" in str(info.value) and "permission on" in str(info.value)
        with pytest.raises(Unauthorized) as info:
            s.execute("SELECT * FROM sec.closed")
        assert "User reader has no SELECT permission on <table sec.closed> or any of its parents" in str(info.value)
        # Drivers' own reads of system tables stay allowed.
        assert s.execute("SELECT keyspace_name FROM system_schema.keyspaces").all()
        # A revoke takes effect within permissions_validity (2 s).
        admin.execute("REVOKE SELECT ON TABLE sec.open FROM reader")
        eventually(lambda: refused(lambda: s.execute("SELECT * FROM sec.open")), "revoke not seen")
    finally:
        c.shutdown()


def test_permissions_inherited_through_granted_roles(basalt_cluster, admin):
    for statement in ["CREATE TABLE IF NOT EXISTS sec.shared (k int PRIMARY KEY, v text)", "CREATE ROLE writers",
                      "GRANT MODIFY ON KEYSPACE sec TO writers", "GRANT SELECT ON KEYSPACE sec TO writers",
                      "CREATE ROLE bob WITH PASSWORD = 'b' AND LOGIN = true", "GRANT writers TO bob"]:
        admin.execute(statement)
    c, s = connect(basalt_cluster.addresses[0], "bob", "b", timeout=30)
    try:
        s.execute("INSERT INTO sec.shared (k, v) VALUES (1, 'from bob')")
        assert s.execute("SELECT v FROM sec.shared WHERE k = 1").one().v == "from bob"
        roles = {r.role for r in s.execute("LIST ROLES")}
        assert roles == {"bob", "writers"}, "a role without DESCRIBE sees its own roles"
        admin.execute("REVOKE writers FROM bob")
        eventually(lambda: refused(lambda: s.execute("INSERT INTO sec.shared (k, v) VALUES (2, 'x')")), "revoke of the role not seen")
    finally:
        c.shutdown()
    with pytest.raises(Exception) as info:
        admin.execute("GRANT bob TO bob")
    assert "is a member of" in str(info.value)


def test_list_roles_and_permissions_through_cqlsh(basalt_cluster, admin):
    admin.execute("CREATE ROLE IF NOT EXISTS auditor WITH PASSWORD = 'a' AND LOGIN = true")
    admin.execute("GRANT SELECT ON KEYSPACE sec TO auditor")
    out = cqlsh(basalt_cluster.addresses[0], "cassandra", "cassandra", "LIST ROLES; LIST ALL PERMISSIONS OF auditor; LIST USERS;")
    assert "role" in out and "super" in out and "login" in out and "datacenters" in out
    assert "cassandra" in out and "auditor" in out
    assert "<keyspace sec>" in out and "SELECT" in out
    out = cqlsh(basalt_cluster.addresses[2], "auditor", "a", "SELECT k FROM sec.shared WHERE k = 1;")
    assert "(1 rows)" in out


def test_user_aliases_and_replacing_the_default_superuser(basalt_cluster, admin):
    admin.execute("CREATE USER IF NOT EXISTS chief WITH PASSWORD 'c' SUPERUSER")
    c, s = connect(basalt_cluster.addresses[1], "chief", "c", timeout=30)
    try:
        users = {r.name: r.super for r in s.execute("LIST USERS")}
        assert users["chief"] is True and users["cassandra"] is True
        s.execute("ALTER USER cassandra WITH PASSWORD 'rotated' NOSUPERUSER")
        s.execute("ALTER ROLE cassandra WITH LOGIN = false")
        s.execute("DROP USER IF EXISTS nobody")
    finally:
        c.shutdown()
    # The old superuser is refused once the credentials cache (2 s) has expired.
    eventually(lambda: login_fails(basalt_cluster.addresses[1], "cassandra", "cassandra"), "old superuser still logs in")


def test_thousand_wrong_passwords_take_at_least_ten_seconds(basalt_cluster):
    """1,000 wrong passwords from one address: 100 role names × 10 attempts, all 100 connections in
    parallel. Each (address, role) waits 0, 50, 100, … ms, capped at 5 s, between attempts, so the
    thousand take ~16 s however they are spread; on one role they would take over an hour."""
    address = basalt_cluster.addresses[0]
    before = admin_metric(address, "basalt_auth_failures_total")
    results = {}
    errors = []

    def attack(i):
        try:
            results[i] = raw_login_attempts(address, "guess%d" % i, ["wrong%d" % j for j in range(10)])
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    start = time.time()
    threads = [threading.Thread(target=attack, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    elapsed = time.time() - start
    assert not errors, errors[:3]
    answers = [a for r in results.values() for a in r]
    assert len(answers) == 1000 and all(a == (0x00, 0x0100) for a in answers)
    assert elapsed >= 10, "1,000 wrong attempts took only %.1f s" % elapsed
    print("1,000 wrong attempts (100 roles x 10, parallel) took %.1f s" % elapsed)
    after = admin_metric(address, "basalt_auth_failures_total")
    assert after - before >= 1000
    assert admin_metric(address, "basalt_auth_throttled_total") > 100

    # On one connection and one role, each answer comes later than the one before.
    times = []
    last = time.time()
    for _ in range(6):
        assert raw_login_attempts(address, "alice", ["nope"]) == [(0x00, 0x0100)]
        now = time.time()
        times.append(now - last)
        last = now
    assert times[5] >= 0.6 and times[4] >= 0.3 and times[3] >= 0.15, times  # 800, 400, 200 ms less the check's own time


def test_system_auth_replication_is_alterable_but_not_droppable(basalt_cluster):
    c, chief = connect(basalt_cluster.addresses[0], "chief", "c")  # cassandra is no longer a superuser
    try:
        check_system_auth_schema(chief)
    finally:
        c.shutdown()


def check_system_auth_schema(admin):
    for statement in ["DROP KEYSPACE system_auth", "DROP TABLE system_auth.roles", "ALTER TABLE system_auth.roles ADD x int",
                      "CREATE TABLE system_auth.extra (k int PRIMARY KEY)"]:
        with pytest.raises(Unauthorized):
            admin.execute(statement)
    # As in Cassandra, raising the replication factor needs a repair before the new replicas hold the roles.
    admin.execute("ALTER KEYSPACE system_auth WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    ks = admin.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'system_auth'").one()
    assert ks.replication["replication_factor"] == "3"

