#!/usr/bin/env python3
"""How much memory half-sent CQL frames make a node hold (the overload issue's reproduction).

Starts `BASALT_BIN cql-standalone` on ADDRESS, records its RSS, opens CONNECTIONS unauthenticated
connections from SOURCE that each send a QUERY header announcing ANNOUNCED_MIB and then up to
SEND_MIB of the body (for at most SECONDS, as fast as the node reads), then reports the node's RSS
growth, the bytes it accepted, and whether a driver query on another connection is still answered.
The node is stopped at the end.

    .venv/bin/python Benchmarks/half-sent-frames.py BASALT_BIN [CONNECTIONS ANNOUNCED_MIB SEND_MIB]
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ADDRESS = "127.0.5.221"
SOURCE = "127.0.5.229"
SECONDS = 15


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def main():
    binary = sys.argv[1]
    connections, announced_mib, send_mib = (int(a) for a in (sys.argv[2:5] if len(sys.argv) >= 5 else (8, 15, 7)))
    directory = tempfile.mkdtemp(prefix="basalt-half-sent-")
    log = open(os.path.join(directory, "node.log"), "w")
    node = subprocess.Popen([binary, "cql-standalone", "--address", ADDRESS, "--data-dir", os.path.join(directory, "data")],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection((ADDRESS, 9042), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1)
        baseline = rss(node.pid)
        sent = [0] * connections
        closed = [False] * connections

        def attack(i):
            s = socket.socket()
            s.bind((SOURCE, 0))
            s.connect((ADDRESS, 9042))
            s.settimeout(0.5)
            s.sendall(struct.pack(">BBhBi", 4, 0, 1, 0x07, announced_mib << 20))
            chunk = b"\0" * (64 << 10)
            end = time.time() + SECONDS
            while sent[i] < send_mib << 20 and time.time() < end:
                try:
                    sent[i] += s.send(chunk)
                except socket.timeout:
                    pass
                except OSError:
                    closed[i] = True
                    break
            attackers.append(s)

        attackers = []
        threads = [threading.Thread(target=attack, args=(i,)) for i in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        grown = rss(node.pid) - baseline
        from cassandra.cluster import Cluster
        cluster = Cluster([ADDRESS], connect_timeout=10)
        started = time.time()
        try:
            session = cluster.connect()
            served = session.execute("SELECT release_version FROM system.local", timeout=10).one() is not None
        except Exception as e:  # noqa: BLE001  (any failure is the answer)
            served = "no (%s)" % type(e).__name__
        finally:
            cluster.shutdown()
        print("%s: %d connections announcing %d MiB, sent %.1f MiB in total (%d closed by the node); "
              "RSS %.0f MiB -> grew %.1f MiB; driver served: %s in %.1f s"
              % (binary, connections, announced_mib,
                 sum(sent) / 2 ** 20, sum(closed), baseline / 2 ** 20, grown / 2 ** 20, served, time.time() - started))
        for s in attackers:
            s.close()
    finally:
        node.terminate()
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
