"""The faults a chaos run injects, one node at a time, each bounded and self-cleaning.

A fault is injected into one node (`inject`), held for a while, and healed (`heal`); `cleanup`
undoes whatever may be left after a failure or an interrupt and is safe to call at any time.
`usable()` says whether this machine can inject it (root, iptables, libfaketime, tmpfs) and why not.

* `kill`: SIGKILL, then restart (`cluster/kill`, `cluster/start`).
* `pause`: SIGSTOP, then SIGCONT (`cluster/pause`, `cluster/resume`), as a long GC pause or a hung machine.
* `partition`: iptables rules drop the node's storage-port traffic to and from the others, both ways.
* `slow-link`: the node's storage-port packets over a rate (`-m limit`) are dropped, so its links crawl.
* `lossy-link`: a share of the node's storage-port packets is dropped at random (`-m statistic`).
* `clock-skew`: the node is restarted with its wall clock ahead (libfaketime), then restarted without.
* `disk-full`: the node's data directory (commit log included) is moved onto a small tmpfs and
  filled with a filler file; healing deletes the filler (writes must resume without a restart),
  then moves the data back to disk.
* `corrupt-sstable`: the node flushes, and bytes in the middle of one of the chaos tables' SSTable
  data files are overwritten; reads quarantine it, and healing repairs the node from its replicas.
"""
import glob
import os
import shutil
import subprocess
import time

from harness import admin, cluster, metric, node_directory, node_pid, sees_all_up, sees_down

TAG = "basalt-chaos"
FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def run(*command, check=True, timeout=60):
    return subprocess.run(list(command), check=check, capture_output=True, text=True, timeout=timeout)


def is_root():
    return os.geteuid() == 0


def iptables_usable():
    return is_root() and shutil.which("iptables") is not None and run("iptables", "-S", "INPUT", check=False).returncode == 0


class Fault:
    name = "?"

    def __init__(self, addresses, args):
        self.addresses = addresses
        self.args = args

    def usable(self):
        return True, ""

    def inject(self, node):
        """Injects the fault into node `node` (1-based); returns details for the report."""
        raise NotImplementedError

    def heal(self, node):
        """Ends the fault; returns details for the report."""
        raise NotImplementedError

    def cleanup(self):
        pass

    def address(self, node):
        return self.addresses[node - 1]


class Kill(Fault):
    name = "kill"

    def inject(self, node):
        cluster("kill", node)
        return {}

    def heal(self, node):
        cluster("start", node)
        return {}


class Pause(Fault):
    name = "pause"

    def inject(self, node):
        cluster("pause", node)
        self.node = node
        return {}

    def heal(self, node):
        cluster("resume", node)
        self.node = None
        return {}

    def cleanup(self):
        if getattr(self, "node", None):
            run(os.path.join(os.path.dirname(__file__), "..", "cluster", "resume"), str(self.node), check=False)


# -- network faults: iptables rules on INPUT, tagged so that cleanup finds every one -----------------------

def remove_tagged_rules():
    """Removes every rule tagged `basalt-chaos` from INPUT."""
    if not iptables_usable():
        return
    for line in run("iptables", "-S", "INPUT", check=False).stdout.splitlines():
        if TAG in line and line.startswith("-A INPUT "):
            run("iptables", "-D", "INPUT", *line.split()[2:], check=False)


def storage_port_matches(victim, others, port):
    """iptables match arguments for the storage-port traffic between `victim` and `others`, both ways."""
    out = []
    for other in others:
        for src, dst in ((victim, other), (other, victim)):
            out.append(["-s", src, "-d", dst, "-p", "tcp", "--dport", str(port)])
            out.append(["-s", src, "-d", dst, "-p", "tcp", "--sport", str(port)])
    return out


class LinkFault(Fault):
    """Rules on the storage-port traffic between the node and the others; `verdicts` gives, per
    match, the rules' extra arguments, inserted in order (so the last one ends up first)."""

    def usable(self):
        return (True, "") if iptables_usable() else (False, "needs root and iptables")

    def verdicts(self):
        raise NotImplementedError

    def inject(self, node):
        victim = self.address(node)
        others = [a for a in self.addresses if a != victim]
        self.rules = []
        for match in storage_port_matches(victim, others, self.args.storage_port):
            for verdict in self.verdicts():
                rule = match + ["-m", "comment", "--comment", TAG] + verdict
                run("iptables", "-I", "INPUT", *rule)
                self.rules.append(rule)
        return {}

    def heal(self, node):
        for rule in getattr(self, "rules", []):
            run("iptables", "-D", "INPUT", *rule, check=False)
        self.rules = []
        return {}

    def cleanup(self):
        remove_tagged_rules()


class Partition(LinkFault):
    name = "partition"

    def verdicts(self):
        return [["-j", "DROP"]]

    def inject(self, node):
        details = super().inject(node)
        self.started = time.time()
        return details

    def heal(self, node):
        # How long the others took to convict it (phi accrual) is part of the report.
        victim = self.address(node)
        others = [a for a in self.addresses if a != victim]
        convicted = time.time() - self.started if all(sees_down(o, victim) for o in others) else None
        super().heal(node)
        return {"convicted_by_all_within_seconds": None if convicted is None else round(convicted, 1)}


class SlowLink(LinkFault):
    name = "slow-link"

    def verdicts(self):
        # Inserted in order, so the ACCEPT under the rate ends up above the DROP of the rest.
        return [["-j", "DROP"], ["-m", "limit", "--limit", "%d/second" % self.args.slow_link_packets,
                                 "--limit-burst", str(self.args.slow_link_packets), "-j", "ACCEPT"]]


class LossyLink(LinkFault):
    name = "lossy-link"

    def verdicts(self):
        return [["-m", "statistic", "--mode", "random", "--probability", str(self.args.loss), "-j", "DROP"]]


# -- faults that restart the node -------------------------------------------------------------------------

def stop_node(node, timeout=60):
    """Stops node `node` gracefully (cluster/stop: SIGTERM, waits until it is gone, SIGKILL after `timeout` seconds)."""
    if node_pid(node) is None:
        return
    env = dict(os.environ)
    env["BASALT_CLUSTER_STOP_TIMEOUT"] = str(timeout)
    cluster("stop", node, env=env)


class ClockSkew(Fault):
    name = "clock-skew"

    def usable(self):
        return (True, "") if os.path.exists(FAKETIME_LIBRARY) else (False, "needs libfaketime (Debian's libfaketime)")

    def inject(self, node):
        stop_node(node)
        # Only the node's process gets the fake clock (the cluster scripts' per-node environment);
        # monotonic clocks stay true, so timeouts and the failure detector still measure real time.
        env = dict(os.environ)
        env["BASALT_NODE%d_ENV" % node] = "LD_PRELOAD=%s FAKETIME=%+ds FAKETIME_DONT_FAKE_MONOTONIC=1" % (
            FAKETIME_LIBRARY, self.args.skew_seconds)
        cluster("start", node, env=env)
        self.node = node
        # The node must notice its offset from the others and refuse writes it would have to
        # timestamp itself (the clients' own timestamps are still fine).
        refused = refusal_of_server_timestamped_write(self.address(node), timeout=max(10, self.args.fault_seconds))
        if refused is None:
            raise RuntimeError("node %d, its clock %+d s off, still accepts writes it timestamps itself" % (node, self.args.skew_seconds))
        return {"skew_seconds": self.args.skew_seconds, "refused_server_timestamped_write": refused[:200]}

    def heal(self, node):
        stop_node(node)
        cluster("start", node)
        self.node = None
        return {}

    def cleanup(self):
        if getattr(self, "node", None):
            stop_node(self.node)
            cluster("start", self.node)
            self.node = None


def refusal_of_server_timestamped_write(address, timeout):
    """Polls a write without a client timestamp coordinated by `address` until it is refused; the
    error's text, or None when it was accepted for `timeout` seconds."""
    from cassandra import ConsistencyLevel
    from harness import session_on
    deadline = time.time() + timeout
    while True:
        try:
            c, s = session_on([address], ConsistencyLevel.ONE)
            break
        except Exception:  # noqa: BLE001 (NoHostAvailable while the restarted node still opens its port)
            if time.time() >= deadline:
                raise
            time.sleep(1)
    s.use_client_timestamp = False
    try:
        while time.time() < deadline:
            try:
                s.execute("INSERT INTO chaos.probe (k, at) VALUES (2, %s)", (time.time(),), timeout=5)
            except Exception as e:
                return "%s: %s" % (type(e).__name__, e)
            time.sleep(0.5)
        return None
    finally:
        c.shutdown()


class DiskFull(Fault):
    name = "disk-full"
    FILLER = "chaos-filler"

    def usable(self):
        return (True, "") if is_root() and shutil.which("mount") else (False, "needs root to mount a tmpfs")

    def paths(self, node):
        d = os.path.join(node_directory(node), "data")
        return d, d + ".on-disk"

    def inject(self, node):
        data, saved = self.paths(node)
        stop_node(node)
        used = int(run("du", "-sb", data).stdout.split()[0])
        size = used + self.args.disk_headroom_mib * 1024 * 1024
        os.rename(data, saved)
        os.mkdir(data)
        self.mounted = (node, data, saved)
        run("mount", "-t", "tmpfs", "-o", "size=%d" % size, TAG, data)
        run("cp", "-a", saved + "/.", data + "/", timeout=300)
        cluster("start", node)
        # Fill what is left; dd stops at ENOSPC.
        run("dd", "if=/dev/zero", "of=" + os.path.join(data, self.FILLER), "bs=1M", check=False, timeout=120)
        return {"tmpfs_bytes": size}

    def heal(self, node):
        data, _ = self.paths(node)
        os.remove(os.path.join(data, self.FILLER))
        freed = time.time()
        # Writes must resume by themselves: a write at ALL through the node needs its own commit log.
        resumed = wait_for_write_at_all(self.address(node), timeout=30)
        self.restore()
        if resumed is None:
            raise RuntimeError("node %d refused writes for 30 s after space was freed" % node)
        return {"writes_resumed_after_seconds": round(resumed - freed, 1)}

    def restore(self):
        """Moves the data back from the tmpfs to disk (the node stopped meanwhile) and restarts it."""
        node, data, saved = self.mounted
        stop_node(node)
        shutil.rmtree(saved)
        run("cp", "-a", data, saved, timeout=300)
        run("umount", data)
        os.rmdir(data)
        os.rename(saved, data)
        self.mounted = None
        cluster("start", node)

    def cleanup(self):
        if getattr(self, "mounted", None):
            node, data, saved = self.mounted
            try:
                os.remove(os.path.join(data, self.FILLER))
            except OSError:
                pass
            self.restore()


def wait_for_write_at_all(address, timeout):
    """Polls a write at ALL coordinated by `address` until one succeeds; its time, or None."""
    from cassandra import ConsistencyLevel
    from harness import session_on
    c, s = session_on([address], ConsistencyLevel.ALL)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            try:
                s.execute("INSERT INTO chaos.probe (k, at) VALUES (1, %s)", (time.time(),), timeout=5)
                return time.time()
            except Exception:
                time.sleep(0.5)
        return None
    finally:
        c.shutdown()


class CorruptSSTable(Fault):
    name = "corrupt-sstable"

    def inject(self, node):
        admin(self.address(node), "flush")
        files = [f for t in self.args.tables
                 for f in glob.glob(os.path.join(node_directory(node), "data", "data", "chaos", t + "-*", "bs-*-Data.db"))
                 if os.path.getsize(f) > 64]
        if not files:
            return {"corrupted": None}
        victim = max(files, key=os.path.getsize)
        size = os.path.getsize(victim)
        with open(victim, "r+b") as f:
            f.seek(size // 2)
            f.write(b"\xde\xad\xbe\xef" * 8)
        return {"corrupted": os.path.relpath(victim, node_directory(node)), "bytes": size}

    def heal(self, node):
        # The damaged file is quarantined when a read, compaction or repair's validation meets it;
        # repair brings its rows back from the other replicas.
        address = self.address(node)
        started = time.time()
        admin(address, "repair", "chaos", timeout=600)
        return {"repair_seconds": round(time.time() - started, 1),
                "sstables_quarantined": metric(address, "basalt_storage_quarantined_sstables_total")}


FAULTS = {f.name: f for f in (Kill, Pause, Partition, SlowLink, LossyLink, ClockSkew, DiskFull, CorruptSSTable)}


def wait_all_up(addresses, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(sees_all_up(a, addresses) for a in addresses):
            return True
        time.sleep(0.5)
    return False
