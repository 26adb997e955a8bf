#!/usr/bin/env python3
"""Kills nodes under load and checks that nothing acknowledged is lost.

Against a running cluster (the `cluster/` scripts' environment: BASALT_CLUSTER_PREFIX, BASALT_CLUSTER_DIR,
BASALT_BIN), for a bounded time: writer threads insert distinct keys at QUORUM through the real
Python driver and remember every acknowledged one; a chaos loop SIGKILLs a random node, waits, and
restarts it (one node down at a time, so QUORUM stays possible with RF 3). Afterwards every node is
up, hints are given time to drain, and every acknowledged key must be read back at QUORUM and at
ALL. Before that, each replica is read alone at ONE to report what hinted handoff by itself brought
back to the nodes that were killed.

    BASALT_CLUSTER_PREFIX=127.0.5.9 BASALT_CLUSTER_DIR=/tmp/c cluster/up 3
    BASALT_CLUSTER_PREFIX=127.0.5.9 BASALT_CLUSTER_DIR=/tmp/c chaos/kill_under_load.py --seconds 60 --kills 4

Exit status 0 when every acknowledged write survived, 1 otherwise (the missing keys are printed).
"""
import argparse
import random
import sys
import time

from harness import QuorumWriters, cluster, node_addresses, settle_and_check


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs")
    parser.add_argument("--kills", type=int, default=3, help="at most this many kills")
    parser.add_argument("--down-seconds", type=float, default=4, help="how long a killed node stays down")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    addresses = node_addresses(args.nodes)
    print("chaos: seed %d, %d nodes %s, %.0f s, at most %d kills" % (args.seed, args.nodes, addresses, args.seconds, args.kills))

    writers = QuorumWriters(addresses, "acked", args.writers, contact_points=lambda w: addresses)
    deadline = time.time() + args.seconds
    kills = []
    try:
        while time.time() < deadline and len(kills) < args.kills:
            time.sleep(min(rng.uniform(2, 6), max(0, deadline - time.time())))
            if time.time() >= deadline:
                break
            victim = rng.randint(1, args.nodes)
            print("chaos: t=%.1fs kill node %d" % (args.seconds - (deadline - time.time()), victim))
            cluster("kill", victim)
            kills.append(victim)
            time.sleep(args.down_seconds)
            cluster("start", victim)
            print("chaos: node %d back" % victim)
        while time.time() < deadline:
            time.sleep(0.5)
    finally:
        writers.stop()
    print("chaos: %d writes acknowledged, %d failed, %d kills %s" % (writers.total, sum(writers.failures), len(kills), kills))
    return settle_and_check(writers)


if __name__ == "__main__":
    sys.exit(main())
