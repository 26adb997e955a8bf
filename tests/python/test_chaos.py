"""chaos/run.py on a real 3-node cluster, its short profile: one node at a time is paused, killed,
has an SSTable corrupted, runs with its clock ten minutes ahead, fills its disk, and has its
internode links made lossy and slow, while the set and register workloads run at QUORUM. Every
checker must pass: no acknowledged write lost or unexpected row read, no stale or invented register
read, every fault injected and healed (writes resume after the disk is freed, the skewed node
refuses writes it would timestamp itself). Faults this machine cannot inject (no root, iptables or
libfaketime) are skipped and said so."""
import json
import os
import subprocess
import sys

from conftest import ROOT

ADDRESS_BASE = 9


def run_chaos(cluster, tmp_path, *args):
    report = tmp_path / "chaos-report.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "chaos", "run.py"), "--report", str(report)] + list(args),
                          env=cluster.env, capture_output=True, text=True, timeout=1500)
    lines = [line for line in done.stdout.splitlines() if line.startswith("chaos:")]
    print("\n".join(lines))
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(report.read_text()), "\n".join(lines) + done.stderr[-3000:]


def test_every_fault_of_the_short_profile_keeps_every_checker_green(basalt_cluster, tmp_path):
    assert basalt_cluster.nodes == 3
    done, report, output = run_chaos(basalt_cluster, tmp_path, "--profile", "short", "--seed", "7", "--skip-unusable")
    assert done.returncode == 0, output
    assert report["valid"], output
    injected = {f["fault"] for f in report["faults"] if "skipped" not in f}
    assert {"pause", "kill", "corrupt-sstable"} <= injected, output
    if os.geteuid() == 0:
        assert {"disk-full", "lossy-link", "slow-link"} <= injected, output
    for f in report["faults"]:
        assert "error" not in f, output
        if f["fault"] == "disk-full" and "skipped" not in f:
            assert f["details"]["writes_resumed_after_seconds"] <= 30, output
    checks = report["checks"]
    assert checks["set"]["acknowledged"] > 0 and checks["set"]["QUORUM"]["lost"] == 0 and checks["set"]["ALL"]["lost"] == 0, output
    assert checks["register"]["reads"] > 0 and checks["register"]["stale"] == 0, output
    # Availability was measured during every injected fault.
    assert all("availability" in f for f in report["faults"] if "skipped" not in f), output
