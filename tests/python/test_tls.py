"""TLS for CQL clients and between nodes (client_encryption_options, server_encryption_options), with
certificates made by the openssl command for this module:

* a 3-node cluster (ADDRESS_BASE 27) with internode_encryption: all and require_client_auth on both
  ports: the driver with an ssl.SSLContext and a client certificate reads and writes at QUORUM, without a
  certificate or without TLS it is refused, cqlsh --ssl works, bytes that are not TLS get a log line and a
  closed connection, and a node whose certificate another CA signed is refused as a peer;
* one node (ADDRESS_BASE 28) with optional: true takes TLS and plain-text clients on the same port.
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import pytest
from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster, NoHostAvailable
from cassandra.policies import WhiteListRoundRobinPolicy
from cassandra.query import SimpleStatement

from conftest import admin_metric, basalt_bin, cluster_prefix, start_cluster

ADDRESS_BASE = 27
OPTIONAL_BASE = 28
PREFIX = cluster_prefix(ADDRESS_BASE)
ROGUE = PREFIX + "4"


def openssl(*args, cwd):
    done = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def make_ca(directory, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=" + name, "-keyout", name + ".key", "-out", name + ".pem", cwd=directory)


def make_cert(directory, ca, name, addresses=(), password=None):
    """name.key, name.crt, and name-keystore.pem (key then certificate, as Cassandra's PEM keystore),
    signed by `ca`; with `password` the keystore's key is encrypted."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + name,
            "-keyout", name + ".key", "-out", name + ".csr", cwd=directory)
    with open(os.path.join(directory, name + ".ext"), "w") as f:
        f.write("subjectAltName=" + ",".join(["DNS:localhost"] + ["IP:" + a for a in addresses]) + "\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial", "-days", "2",
            "-extfile", name + ".ext", "-out", name + ".crt", cwd=directory)
    key = name + ".key"
    if password:
        openssl("pkey", "-in", name + ".key", "-aes256", "-passout", "pass:" + password, "-out", name + "-enc.key", cwd=directory)
        key = name + "-enc.key"
    with open(os.path.join(directory, name + "-keystore.pem"), "w") as out:
        for part in (key, name + ".crt"):
            with open(os.path.join(directory, part)) as f:
                out.write(f.read())
    return os.path.join(directory, name + "-keystore.pem")


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="basalt-tls-")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    nodes = [PREFIX + str(i) for i in range(1, 5)] + [cluster_prefix(OPTIONAL_BASE) + "1"]
    paths = {
        "dir": d,
        "ca": os.path.join(d, "ca.pem"),
        "node": make_cert(d, "ca", "node", nodes, password="node-secret"),
        "client": make_cert(d, "ca", "client"),
        "rogue": make_cert(d, "other-ca", "rogue", [ROGUE]),
    }
    try:
        yield paths
    finally:
        shutil.rmtree(d, ignore_errors=True)


def encryption_config(c, internode_keystore=None, internode_password="node-secret"):
    """Client TLS required with client certificates; internode TLS with mutual authentication."""
    lines = [
        "client_encryption_options:",
        "  enabled: true",
        "  optional: false",
        "  keystore: %s" % c["node"],
        "  keystore_password: node-secret",
        "  truststore: %s" % c["ca"],
        "  require_client_auth: true",
        "  accepted_protocols: [TLSv1.2, TLSv1.3]",
        "server_encryption_options:",
        "  internode_encryption: all",
        "  keystore: %s" % (internode_keystore or c["node"]),
        "  truststore: %s" % c["ca"],
        "  require_client_auth: true",
    ]
    if internode_password:
        lines.append("  keystore_password: " + internode_password)
    return "\n".join(lines)


@pytest.fixture(scope="module")
def tls_cluster(certs):
    directory = tempfile.mkdtemp(prefix="basalt-pytest-tls-")
    running = start_cluster(ADDRESS_BASE, directory, 3, encryption_config(certs))
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(directory, ignore_errors=True)


def client_context(c, with_certificate=True):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(c["ca"])
    if with_certificate:
        context.load_cert_chain(os.path.join(c["dir"], "client.crt"), os.path.join(c["dir"], "client.key"))
    return context


def connect(addresses, ssl_context=None):
    cluster = Cluster(contact_points=addresses, ssl_context=ssl_context, connect_timeout=10,
                      load_balancing_policy=WhiteListRoundRobinPolicy(addresses))
    try:
        return cluster, cluster.connect()
    except Exception:
        cluster.shutdown()
        raise


def node_log(running, i):
    with open(os.path.join(running.directory, "node%d" % i, "basalt.log"), errors="replace") as f:
        return f.read()


def eventually(check, what, timeout=30):
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            pytest.fail("timed out waiting for " + what)
        time.sleep(0.5)


def test_driver_with_client_certificate_writes_and_reads_at_quorum(tls_cluster, certs):
    cluster, s = connect(tls_cluster.addresses, client_context(certs))
    try:
        s.execute("CREATE KEYSPACE IF NOT EXISTS tls WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
        s.execute("CREATE TABLE IF NOT EXISTS tls.kv (k int PRIMARY KEY, v text)")
        insert = s.prepare("INSERT INTO tls.kv (k, v) VALUES (?, ?)")
        insert.consistency_level = ConsistencyLevel.QUORUM
        for k in range(50):
            s.execute(insert, (k, "value %d" % k))
        read = SimpleStatement("SELECT k, v FROM tls.kv WHERE k = %s", consistency_level=ConsistencyLevel.QUORUM)
        for k in range(50):
            assert s.execute(read, (k,)).one().v == "value %d" % k
        # Every node sees the other two through the encrypted internode connections.
        peers = {str(row.peer) for row in s.execute("SELECT peer FROM system.peers")}
        assert len(peers) == 2 and peers <= set(tls_cluster.addresses)
    finally:
        cluster.shutdown()


def test_client_without_certificate_is_refused(tls_cluster, certs):
    with pytest.raises(NoHostAvailable):
        connect(tls_cluster.addresses[:1], client_context(certs, with_certificate=False))
    eventually(lambda: "peer did not return a certificate" in node_log(tls_cluster, 1), "the refusal's log line")


def test_plain_text_client_is_refused_when_tls_is_required(tls_cluster):
    with pytest.raises(NoHostAvailable):
        connect(tls_cluster.addresses[1:2])
    eventually(lambda: "TLS handshake failed" in node_log(tls_cluster, 2), "the handshake failure's log line")
    assert admin_metric(tls_cluster.addresses[1], 'basalt_tls_handshake_failures_total{context="client"}') > 0
    # Internode handshakes between the three nodes finished.
    assert admin_metric(tls_cluster.addresses[1], 'basalt_tls_handshakes_total{context="internode"}') > 0


def test_garbage_instead_of_a_client_hello_closes_only_that_connection(tls_cluster, certs):
    address = tls_cluster.addresses[2]
    with socket.create_connection((address, 9042), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(512))
        received = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break  # the node closed the connection
            received += chunk
        # At most a TLS alert record came back (content type 21), never a CQL frame.
        assert received == b"" or received[0] == 21
    eventually(lambda: "TLS handshake failed" in node_log(tls_cluster, 3), "the handshake failure's log line")
    cluster, s = connect([address], client_context(certs))
    try:
        assert s.execute("SELECT release_version FROM system.local").one() is not None
    finally:
        cluster.shutdown()


def test_cqlsh_with_ssl(tls_cluster, certs):
    rc = os.path.join(certs["dir"], "cqlshrc")
    with open(rc, "w") as f:
        f.write("[ssl]\ncertfile = %s\nvalidate = true\nuserkey = %s\nusercert = %s\n" % (
            certs["ca"], os.path.join(certs["dir"], "client.key"), os.path.join(certs["dir"], "client.crt")))
    binary = os.path.join(os.path.dirname(sys.executable), "cqlsh")
    done = subprocess.run([binary, tls_cluster.addresses[0], "--ssl", "--cqlshrc", rc, "-e",
                           "SELECT cluster_name FROM system.local"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Basalt" in done.stdout
    plain = subprocess.run([binary, tls_cluster.addresses[0], "--cqlshrc", rc, "-e", "SELECT cluster_name FROM system.local"],
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode != 0


def test_reloadssl_reloads_the_certificates(tls_cluster):
    done = subprocess.run([basalt_bin(), "admin", "reloadssl", "--host", tls_cluster.addresses[0]],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "client_encryption_options: reloaded" in done.stdout
    assert "server_encryption_options: reloaded" in done.stdout


def test_node_with_a_certificate_from_another_ca_is_refused_as_a_peer(tls_cluster, certs):
    directory = os.path.join(tls_cluster.directory, "rogue")
    os.makedirs(directory)
    config = os.path.join(directory, "basalt.yaml")
    with open(config, "w") as f:
        f.write("\n".join([
            'cluster_name: "Basalt Local Cluster"',
            "listen_address: " + ROGUE,
            "seeds: [%s]" % tls_cluster.addresses[0],
            'data_directory: "%s/data"' % directory,
            "admin_port: 0",
            # It keeps trying its seed this long before giving up on joining.
            "ring_delay_in_ms: 60000",
            # Its own certificate is signed by another CA; it trusts the cluster's CA.
            encryption_config(certs, internode_keystore=certs["rogue"], internode_password=None),
            "",
        ]))
    log = open(os.path.join(directory, "basalt.log"), "w")
    proc = subprocess.Popen([basalt_bin(), "server", "--config", config], stdout=log, stderr=subprocess.STDOUT)
    try:
        def refused_by_node1():
            text = node_log(tls_cluster, 1)
            return any("TLS handshake failed" in line and ROGUE in line for line in text.splitlines())
        try:
            eventually(refused_by_node1, "node 1 to refuse the rogue node's certificate", timeout=60)
        except BaseException:
            with open(os.path.join(directory, "basalt.log"), errors="replace") as f:
                print("rogue node's log:\n" + f.read()[-3000:])
            print("node 1's log:\n" + node_log(tls_cluster, 1)[-3000:])
            raise
        cluster, s = connect(tls_cluster.addresses[:1], client_context(certs))
        try:
            peers = {str(row.peer) for row in s.execute("SELECT peer FROM system.peers")}
            assert ROGUE not in peers
        finally:
            cluster.shutdown()
        status = subprocess.run([basalt_bin(), "admin", "status", "--host", tls_cluster.addresses[0]],
                                capture_output=True, text=True, timeout=60)
        assert ROGUE not in status.stdout
    finally:
        proc.kill()  # nothing of the refused node is kept
        proc.wait()
        log.close()


@pytest.fixture(scope="module")
def optional_node(certs):
    directory = tempfile.mkdtemp(prefix="basalt-pytest-tls-optional-")
    running = start_cluster(OPTIONAL_BASE, directory, 1, "\n".join([
        "client_encryption_options:",
        "  enabled: true",
        "  optional: true",
        "  keystore: %s" % certs["node"],
        "  keystore_password: node-secret",
    ]))
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_optional_tls_takes_plain_text_and_tls_clients_on_one_port(optional_node, certs):
    address = optional_node.addresses[0]
    plain, s = connect([address])
    try:
        s.execute("CREATE KEYSPACE IF NOT EXISTS opt WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        s.execute("CREATE TABLE IF NOT EXISTS opt.kv (k int PRIMARY KEY, v text)")
        s.execute("INSERT INTO opt.kv (k, v) VALUES (1, 'plain')")
    finally:
        plain.shutdown()
    encrypted, s = connect([address], client_context(certs, with_certificate=False))
    try:
        assert s.execute("SELECT v FROM opt.kv WHERE k = 1").one().v == "plain"
        s.execute("INSERT INTO opt.kv (k, v) VALUES (2, 'tls')")
    finally:
        encrypted.shutdown()
    plain, s = connect([address])
    try:
        assert s.execute("SELECT v FROM opt.kv WHERE k = 2").one().v == "tls"
    finally:
        plain.shutdown()
