#!/usr/bin/env python3
"""Injects faults into a running cluster under load and checks what the clients saw.

Against a cluster started by the `cluster/` scripts (their environment: BASALT_CLUSTER_PREFIX,
BASALT_CLUSTER_DIR, BASALT_BIN), for a bounded time and number of faults: the workloads run (the
set: distinct QUORUM inserts; the register: per-key QUORUM writes of increasing values and QUORUM
reads), and the faults named by --faults are injected one after the other, each into a node chosen
at random (seeded), held for --fault-seconds and healed, with a quiet gap between them.

Afterwards every node must see every node up and hints must drain (bounded waits); then the
checkers run: every acknowledged set insert is read back at QUORUM and at ALL and nothing is read
that was never inserted; no register read returned a value older than one already read or
acknowledged before it started, or a value never written. Each replica read alone at ONE is
reported (not required: that is what hinted handoff and repair alone brought back).

The run writes a JSON report (--report) and prints a readable summary: operations and failures by
type per workload, each fault with its node, details and the availability during it, and the
checkers' results. Exit status 0 when every checker passed and every fault was injected and
healed, 1 otherwise.

    cluster/up 3
    .venv/bin/python chaos/run.py --faults kill,pause,clock-skew,disk-full,corrupt-sstable,lossy-link,slow-link \\
        --seconds 180 --fault-seconds 10 --report chaos-report.json
    cluster/down
"""
import argparse
import json
import random
import sys
import time

from faults import FAULTS, wait_all_up
from harness import node_addresses, settle
from workloads import History, RegisterWorkload, SetWorkload, create_table

PROFILES = {
    # What the test suite runs: every fault that needs no root first, one short window each.
    "short": dict(faults="pause,kill,corrupt-sstable,clock-skew,disk-full,lossy-link,slow-link", seconds=150, fault_seconds=6, gap_seconds=2),
}


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), help="preset faults and durations (the options below override it)")
    parser.add_argument("--faults", help="comma-separated, injected in this order, repeated while time remains: " + ", ".join(FAULTS))
    parser.add_argument("--seconds", type=float, help="the load runs at most this long (a fault under way is finished)")
    parser.add_argument("--max-faults", type=int, default=20, help="at most this many faults")
    parser.add_argument("--fault-seconds", type=float, help="how long each fault is held")
    parser.add_argument("--gap-seconds", type=float, help="quiet time before each fault")
    parser.add_argument("--workloads", default="set,register")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4, help="set workload threads")
    parser.add_argument("--register-keys", type=int, default=8)
    parser.add_argument("--skip-unusable", action="store_true", help="skip faults this machine cannot inject instead of failing")
    parser.add_argument("--skew-seconds", type=int, default=600, help="clock-skew: how far ahead the clock runs")
    parser.add_argument("--disk-headroom-mib", type=int, default=24, help="disk-full: the tmpfs's size over the data's")
    parser.add_argument("--loss", type=float, default=0.3, help="lossy-link: share of packets dropped")
    parser.add_argument("--slow-link-packets", type=int, default=40, help="slow-link: packets per second let through")
    parser.add_argument("--storage-port", type=int, default=7000)
    parser.add_argument("--timeout", type=float, default=10, help="client request timeout, seconds")
    parser.add_argument("--report", default="chaos-report.json")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args(argv)
    preset = PROFILES.get(args.profile, {})
    for key, default in (("faults", "kill"), ("seconds", 60), ("fault_seconds", 8), ("gap_seconds", 3)):
        if getattr(args, key) is None:
            setattr(args, key, preset.get(key, default))
    unknown = [f for f in args.faults.split(",") if f not in FAULTS]
    if unknown:
        parser.error("unknown faults %s (known: %s)" % (unknown, ", ".join(FAULTS)))
    return args


def say(text):
    print("chaos: " + text, flush=True)


def inject_faults(args, addresses, history, rng, started):
    """The fault loop; returns the faults' records."""
    faults = [FAULTS[name](addresses, args) for name in args.faults.split(",")]
    records = []
    deadline = started + args.seconds
    try:
        while time.time() < deadline and len(records) < args.max_faults:
            fault = faults[len(records) % len(faults)]
            time.sleep(min(args.gap_seconds, max(0, deadline - time.time())))
            if time.time() >= deadline:
                break
            node = rng.randint(1, args.nodes)
            record = {"fault": fault.name, "node": node, "address": addresses[node - 1]}
            records.append(record)
            usable, why = fault.usable()
            if not usable:
                record.update(skipped=why)
                say("t=%.1fs %s skipped: %s" % (time.time() - started, fault.name, why))
                continue
            say("t=%.1fs %s on node %d" % (time.time() - started, fault.name, node))
            try:
                record["details"] = fault.inject(node)
                record["start"] = time.time() - started
                time.sleep(args.fault_seconds)
                record["heal"] = time.time() - started
                record["details"].update(fault.heal(node))
                record["end"] = time.time() - started
                record["all_up"] = wait_all_up(addresses)
                record["recovered"] = time.time() - started
            except Exception as e:
                record["error"] = "%s: %s" % (type(e).__name__, e)
                say("%s on node %d failed: %s" % (fault.name, node, record["error"]))
                fault.cleanup()
                wait_all_up(addresses)
                continue
            record["availability"] = history.availability(started + record["start"], started + record["heal"])
            record["availability_while_healing"] = history.availability(started + record["heal"], started + record["recovered"])
            say("%s on node %d healed %s; availability %s" % (fault.name, node, record["details"], {
                w: a["availability"] for w, a in record["availability"].items()}))
    finally:
        for fault in faults:
            fault.cleanup()
    return records


def check(args, addresses, workloads):
    from cassandra import ConsistencyLevel
    checks = {}
    s = workloads.get("set")
    if s:
        alone = {a: len(s.lost_at([a], ConsistencyLevel.ONE)) for a in addresses}
        for a, n in alone.items():
            say("replica %s alone: %d of %d acknowledged writes missing" % (a, n, s.total))
        result = {"acknowledged": s.total, "attempted": sum(s.attempted), "missing_on_replica_alone": alone}
        for name, level in (("QUORUM", ConsistencyLevel.QUORUM), ("ALL", ConsistencyLevel.ALL)):
            got = s.check(addresses, level)
            say("read at %s: %d of %d acknowledged writes missing, %d unexpected" % (name, len(got["lost"]), s.total, len(got["unexpected"])))
            result[name] = {"lost": len(got["lost"]), "unexpected": len(got["unexpected"]),
                            "lost_keys": got["lost"][:50], "unexpected_keys": got["unexpected"][:50]}
        result["valid"] = all(result[n]["lost"] == 0 and result[n]["unexpected"] == 0 for n in ("QUORUM", "ALL"))
        checks["set"] = result
    r = workloads.get("register")
    if r:
        got = r.check()
        say("register: %d reads, %d stale, %d unexpected" % (got["reads"], len(got["stale"]), len(got["unexpected"])))
        checks["register"] = {"reads": got["reads"], "stale": len(got["stale"]), "unexpected": len(got["unexpected"]),
                              "stale_reads": got["stale"][:50], "unexpected_reads": got["unexpected"][:50],
                              "valid": not got["stale"] and not got["unexpected"]}
    return checks


def summary_lines(report):
    lines = ["%d s, %d nodes, seed %d" % (report["seconds"], len(report["addresses"]), report["seed"])]
    for name, w in report["operations"].items():
        lines.append("%-9s %d ok, %d failed %s" % (name, w["ok"], w["failed"], w["failures"]))
    for f in report["faults"]:
        if "skipped" in f:
            lines.append("fault %-16s node %d skipped (%s)" % (f["fault"], f["node"], f["skipped"]))
        elif "error" in f:
            lines.append("fault %-16s node %d FAILED: %s" % (f["fault"], f["node"], f["error"]))
        else:
            avail = ", ".join("%s %s" % (w, a["availability"]) for w, a in f["availability"].items())
            lines.append("fault %-16s node %d %5.1f–%5.1f s, availability %s %s" % (f["fault"], f["node"], f["start"], f["heal"], avail,
                                                                               f["details"] or ""))
    for name, c in report["checks"].items():
        if name == "set":
            lines.append("check set: %d acknowledged; lost at QUORUM %d, at ALL %d; unexpected %d" % (
                c["acknowledged"], c["QUORUM"]["lost"], c["ALL"]["lost"], c["QUORUM"]["unexpected"] + c["ALL"]["unexpected"]))
        elif name == "register":
            lines.append("check register: %d reads; stale %d; unexpected %d" % (c["reads"], c["stale"], c["unexpected"]))
    lines.append("valid: %s" % report["valid"])
    return lines


def main(argv=None):
    args = parse(argv)
    rng = random.Random(args.seed)
    addresses = node_addresses(args.nodes)
    say("seed %d, %d nodes %s, %.0f s, faults %s, %.0f s each" % (args.seed, args.nodes, addresses, args.seconds, args.faults,
                                                                 args.fault_seconds))
    history = History()
    started = time.time()
    # Fresh tables for every run, so rows of an earlier run neither pass nor fail this one's checks.
    args.tables = ["set_%d" % started, "register_%d" % started]
    workloads = {}
    names = args.workloads.split(",")
    if "set" in names:
        # Each writer talks to one node, so writes coordinated by the faulty node are tried too.
        workloads["set"] = SetWorkload(addresses, args.tables[0], args.writers, lambda w: [addresses[w % len(addresses)]], history,
                                       execute_timeout=args.timeout)
    # The faults' probes write here.
    create_table(addresses, "CREATE TABLE IF NOT EXISTS chaos.probe (k int PRIMARY KEY, at double)")
    if "register" in names:
        workloads["register"] = RegisterWorkload(addresses, args.tables[1], history, keys=args.register_keys, execute_timeout=args.timeout,
                                                 seed=args.seed)
    try:
        records = inject_faults(args, addresses, history, rng, started)
        while time.time() < started + args.seconds:
            time.sleep(0.5)
    finally:
        for w in workloads.values():
            w.stop()
    pending = settle(addresses)
    say("hints pending after the run: %s" % pending)
    checks = check(args, addresses, workloads)
    injected = [f for f in records if "skipped" not in f]
    valid = (all(c["valid"] for c in checks.values()) and not any("error" in f for f in records)
             and (args.skip_unusable or len(injected) == len(records)) and len(injected) > 0)
    report = {"seed": args.seed, "seconds": round(time.time() - started), "addresses": addresses, "faults": records,
              "operations": history.summary(), "checks": checks, "hints_pending_after": pending, "valid": valid}
    with open(args.report, "w") as f:
        json.dump(report, f, indent=2)
    for line in summary_lines(report):
        say(line)
    if checks.get("set", {}).get("valid"):
        say("nothing acknowledged was lost")
    say("report written to %s" % args.report)
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
