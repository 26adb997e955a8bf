"""Driver of Benchmarks/membership-figures.sh: runs the cluster/ scripts and polls every node's
admin endpoint (GET /status?format=json, GET /metrics) to time membership changes."""
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

root, nodes, rounds, steady = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
prefix = os.environ.get("BASALT_CLUSTER_PREFIX", "127.0.0.")
hosts = [f"{prefix}{i}" for i in range(1, nodes + 1)]
POLL = 0.1
LIMIT = 180.0


def script(*args):
    subprocess.run([f"{root}/cluster/{args[0]}", *args[1:]], check=True, stdout=subprocess.DEVNULL)


def get(host, path):
    try:
        with urllib.request.urlopen(f"http://{host}:7199{path}", timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def status(host):
    text = get(host, "/status?format=json")
    return {n["address"]: n for n in json.loads(text)["nodes"]} if text else None


def metric(host, name):
    text = get(host, "/metrics") or ""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def wait(what, done):
    """Seconds until done() holds, polling every POLL s; fails after LIMIT s."""
    start = time.monotonic()
    while not done():
        if time.monotonic() - start > LIMIT:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(POLL)
    return time.monotonic() - start


def all_see_all_up(observers, targets, newer_than=None):
    for o in observers:
        view = status(o)
        if view is None:
            return False
        for t in targets:
            n = view.get(t)
            if n is None or n["state"] != "UN":
                return False
            if newer_than and t in newer_than and n["generation"] <= newer_than[t]:
                return False
    return True


def detection_times(victim, survivors):
    """Per-survivor seconds from the SIGKILL until it shows the victim down."""
    start = time.monotonic()
    seen = {}
    while len(seen) < len(survivors):
        if time.monotonic() - start > LIMIT:
            sys.exit("timed out waiting for the kill to be detected")
        for s in survivors:
            if s not in seen:
                view = status(s)
                if view and view.get(victim, {}).get("state") == "DN":
                    seen[s] = time.monotonic() - start
        time.sleep(POLL)
    return sorted(seen.values())


print(f"| nodes | round | converge (fresh) | converge (whole-cluster restart) | gossip B/s per node (mean / max) "
      f"| internode B/s per node (mean / max) | detect (first / median / last) | back after restart |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for rnd in range(1, rounds + 1):
    subprocess.run([f"{root}/cluster/down"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", os.environ["BASALT_CLUSTER_DIR"]], check=True)
    t0 = time.monotonic()
    script("up", str(nodes))  # returns once every node sees every node UN (polled every 0.5 s)
    wait("convergence", lambda: all_see_all_up(hosts, hosts))
    fresh = time.monotonic() - t0

    script("down")
    t0 = time.monotonic()
    proc = subprocess.Popen([f"{root}/cluster/up", str(nodes)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait("convergence after restart", lambda: all_see_all_up(hosts, hosts))
    restart = time.monotonic() - t0
    proc.wait()

    time.sleep(5)
    before = {h: (metric(h, "basalt_gossip_bytes_sent_total"), metric(h, "basalt_messaging_bytes_out_total")) for h in hosts}
    t1 = time.monotonic()
    time.sleep(steady)
    after = {h: (metric(h, "basalt_gossip_bytes_sent_total"), metric(h, "basalt_messaging_bytes_out_total")) for h in hosts}
    elapsed = time.monotonic() - t1
    gossip = [(after[h][0] - before[h][0]) / elapsed for h in hosts]
    wire = [(after[h][1] - before[h][1]) / elapsed for h in hosts]

    victim, survivors = hosts[-1], hosts[:-1]
    generation = status(hosts[0])[victim]["generation"]
    script("kill", str(nodes))
    detect = detection_times(victim, survivors)
    t0 = time.monotonic()
    script("start", str(nodes))
    wait("the restarted node", lambda: all_see_all_up(hosts, hosts, newer_than={victim: generation}))
    back = time.monotonic() - t0  # from the start command: includes process start-up
    print(f"| {nodes} | {rnd} | {fresh:.1f} s | {restart:.1f} s | {statistics.mean(gossip):.0f} / {max(gossip):.0f} "
          f"| {statistics.mean(wire):.0f} / {max(wire):.0f} "
          f"| {detect[0]:.1f} / {statistics.median(detect):.1f} / {detect[-1]:.1f} s | {back:.1f} s |", flush=True)
