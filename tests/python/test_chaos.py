"""chaos/kill_under_load.py on a real 3-node cluster: nodes SIGKILLed and restarted one at a time
while four writers insert at QUORUM; every acknowledged write must be read back at QUORUM and ALL."""
import os
import subprocess
import sys

from conftest import ROOT

ADDRESS_BASE = 9


def test_nothing_acknowledged_is_lost_when_nodes_are_killed(basalt_cluster):
    assert basalt_cluster.nodes == 3
    done = subprocess.run([sys.executable, os.path.join(ROOT, "chaos", "kill_under_load.py"), "--seconds", "25", "--kills", "3",
                           "--seed", "7"], env=basalt_cluster.env, capture_output=True, text=True, timeout=600)
    report = [line for line in done.stdout.splitlines() if line.startswith("chaos:")]
    print("\n".join(report))
    assert done.returncode == 0, "\n".join(report) + done.stderr[-3000:]
    assert any("nothing acknowledged was lost" in line for line in report)
    assert any(" kills [" in line and "0 kills" not in line for line in report)
