"""chaos/partition.py on a real 3-node cluster: a node is cut off from the others (iptables drops
its storage-port traffic both ways) while writers insert at QUORUM through every node, then healed;
every acknowledged write must be read back at QUORUM and ALL. Needs root and iptables
(`scripts/deps --python` installs iptables)."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

ADDRESS_BASE = 10


def iptables_usable():
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        return False
    return subprocess.run(["iptables", "-S", "INPUT"], capture_output=True).returncode == 0


@pytest.mark.skipif(not iptables_usable(), reason="partition tests need root and iptables")
def test_nothing_acknowledged_is_lost_across_a_partition(basalt_cluster):
    assert basalt_cluster.nodes == 3
    done = subprocess.run([sys.executable, os.path.join(ROOT, "chaos", "partition.py"), "--seconds", "36", "--partitions", "1",
                           "--partition-seconds", "32", "--seed", "3"], env=basalt_cluster.env, capture_output=True, text=True,
                          timeout=600)
    report = [line for line in done.stdout.splitlines() if line.startswith("chaos:")]
    print("\n".join(report))
    assert done.returncode == 0, "\n".join(report) + done.stderr[-3000:]
    assert any("nothing acknowledged was lost" in line for line in report)
    # The failure detector convicted the cut-off node while the partition lasted.
    assert any("marked down by the others after" in line and "no conviction" not in line for line in report)
    listing = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout
    assert "basalt-chaos" not in listing
