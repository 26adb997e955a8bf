#!/usr/bin/env python3
"""Cuts a node off from the others under load, heals it, and checks that nothing acknowledged is lost.

Against a running cluster (the `cluster/` scripts' environment), for a bounded time: writer threads
insert distinct keys at QUORUM through every node (the real Python driver) and remember every
acknowledged one. Meanwhile one node at a time is partitioned from the others: iptables rules drop
internode traffic (the storage port) between its address and theirs in both directions, while
clients still reach every node. The others convict it through the failure detector, keep
accepting QUORUM writes and hint them; writes it coordinates fail (it cannot reach a quorum). After
`--partition-seconds` the rules are removed; once every node sees every node up and no hint is
pending, every acknowledged key must be read back at QUORUM and ALL, and each replica alone at ONE
is reported.

Needs root and iptables (Debian's `iptables` package). Every rule carries the comment
`basalt-chaos` and is removed on exit, also on failure or interrupt.

    chaos/partition.py --seconds 60 --partitions 2 --partition-seconds 25
"""
import argparse
import random
import subprocess
import sys
import time

from harness import QuorumWriters, node_addresses, sees_all_up, sees_down, settle_and_check

TAG = "basalt-chaos"


def iptables(*args):
    subprocess.run(["iptables"] + list(args), check=True, capture_output=True, text=True, timeout=30)


def partition_rules(victim, others, port):
    """(chain, rule arguments) dropping the storage port both ways between `victim` and `others`."""
    rules = []
    for other in others:
        for src, dst in ((victim, other), (other, victim)):
            rules.append(["-s", src, "-d", dst, "-p", "tcp", "--dport", str(port)])
            rules.append(["-s", src, "-d", dst, "-p", "tcp", "--sport", str(port)])
    return [r + ["-m", "comment", "--comment", TAG, "-j", "DROP"] for r in rules]


def remove_all_rules():
    """Removes every rule tagged `basalt-chaos` from INPUT."""
    listing = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        if TAG in line and line.startswith("-A INPUT "):
            subprocess.run(["iptables", "-D", "INPUT"] + line.split()[2:], capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs")
    parser.add_argument("--partitions", type=int, default=1, help="at most this many partitions, one after the other")
    parser.add_argument("--partition-seconds", type=float, default=25, help="how long a node stays cut off")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--storage-port", type=int, default=7000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    addresses = node_addresses(args.nodes)
    print("chaos: seed %d, %d nodes %s, %.0f s, at most %d partitions of %.0f s" %
          (args.seed, args.nodes, addresses, args.seconds, args.partitions, args.partition_seconds))
    remove_all_rules()

    # Each writer talks to one node, so writes coordinated by the partitioned node are tried too.
    writers = QuorumWriters(addresses, "parted", args.writers, contact_points=lambda w: [addresses[w % len(addresses)]],
                            execute_timeout=10)
    deadline = time.time() + args.seconds
    partitions = []
    try:
        while time.time() < deadline and len(partitions) < args.partitions:
            time.sleep(rng.uniform(1, 3))
            victim = rng.randint(1, args.nodes)
            address = addresses[victim - 1]
            others = [a for a in addresses if a != address]
            print("chaos: t=%.1fs cut node %d off" % (args.seconds - (deadline - time.time()), victim))
            rules = partition_rules(address, others, args.storage_port)
            for r in rules:
                iptables("-I", "INPUT", *r)
            until = time.time() + args.partition_seconds
            convicted = None
            while time.time() < until:
                if convicted is None and all(sees_down(o, address) for o in others):
                    convicted = args.partition_seconds - (until - time.time())
                time.sleep(0.5)
            for r in rules:
                iptables("-D", "INPUT", *r)
            print("chaos: node %d healed (marked down by the others after %s s)" %
                  (victim, "%.1f" % convicted if convicted is not None else "no conviction within the partition"))
            partitions.append(victim)
            healed = time.time() + 120
            while time.time() < healed and not all(sees_all_up(a, addresses) for a in addresses):
                time.sleep(0.5)
        while time.time() < deadline:
            time.sleep(0.5)
    finally:
        remove_all_rules()
        writers.stop()
    print("chaos: %d writes acknowledged, %d failed, %d partitions %s" %
          (writers.total, sum(writers.failures), len(partitions), partitions))
    return settle_and_check(writers)


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        remove_all_rules()
