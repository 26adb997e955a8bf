#!/usr/bin/env python3
"""Native protocol v4 against v5 (plain and LZ4 segments) with the real Python driver.

Usage: .venv/bin/python scripts/bench_protocol_versions.py ADDRESS [--ops N] [--concurrency C] [--value-bytes B]

Against a running node at ADDRESS (port 9042): for each of v4, v5 and v5 with LZ4, one session
runs N prepared INSERTs then N prepared single-row SELECTs through
`execute_concurrent_with_args` with C requests in flight, and prints operations per second.
The three runs share the node and the table; each is run twice and the better figure kept.
"""
import argparse
import time

from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import RoundRobinPolicy


def run(address, version, compression, ops, concurrency, value):
    kwargs = dict(contact_points=[address], load_balancing_policy=RoundRobinPolicy(), compression=compression)
    if version == 4:
        kwargs["protocol_version"] = 4
    cluster = Cluster(**kwargs)
    session = cluster.connect()
    assert cluster.protocol_version == version, cluster.protocol_version
    session.execute("CREATE KEYSPACE IF NOT EXISTS bench_proto WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE IF NOT EXISTS bench_proto.kv (k int PRIMARY KEY, v text)")
    insert = session.prepare("INSERT INTO bench_proto.kv (k, v) VALUES (?, ?)")
    select = session.prepare("SELECT v FROM bench_proto.kv WHERE k = ?")
    best_w = best_r = 0.0
    for _ in range(2):
        start = time.perf_counter()
        execute_concurrent_with_args(session, insert, [(i, value) for i in range(ops)], concurrency=concurrency)
        best_w = max(best_w, ops / (time.perf_counter() - start))
        start = time.perf_counter()
        execute_concurrent_with_args(session, select, [(i,) for i in range(ops)], concurrency=concurrency)
        best_r = max(best_r, ops / (time.perf_counter() - start))
    cluster.shutdown()
    return best_w, best_r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("address")
    p.add_argument("--ops", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--value-bytes", type=int, default=100)
    a = p.parse_args()
    value = ("abcdefghij" * (a.value_bytes // 10 + 1))[: a.value_bytes]
    print("| protocol | writes/s | reads/s |")
    print("| --- | --- | --- |")
    for label, version, compression in (("v4", 4, False), ("v5", 5, False), ("v5 + LZ4 segments", 5, "lz4")):
        w, r = run(a.address, version, compression, a.ops, a.concurrency, value)
        print("| %s | %.0f | %.0f |" % (label, w, r))


if __name__ == "__main__":
    main()
