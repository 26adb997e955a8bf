"""chaos/run.py's partition fault on a real 3-node cluster: a node is cut off from the others
(iptables drops its storage-port traffic both ways) while the set and register workloads run at
QUORUM through every node, then healed; every acknowledged write must be read back at QUORUM and
ALL, no register read may be stale, and the failure detector must have convicted the cut-off node.
Needs root and iptables (`scripts/deps --python` installs iptables)."""
import subprocess

import pytest

from faults import iptables_usable
from test_chaos import run_chaos

ADDRESS_BASE = 10


@pytest.mark.skipif(not iptables_usable(), reason="partition tests need root and iptables")
def test_nothing_acknowledged_is_lost_across_a_partition(basalt_cluster, tmp_path):
    assert basalt_cluster.nodes == 3
    done, report, output = run_chaos(basalt_cluster, tmp_path, "--faults", "partition", "--seconds", "36", "--max-faults", "1",
                                     "--fault-seconds", "32", "--gap-seconds", "2", "--seed", "3")
    assert done.returncode == 0, output
    [fault] = report["faults"]
    assert fault["fault"] == "partition" and "error" not in fault, output
    # The failure detector convicted the cut-off node while the partition lasted.
    assert fault["details"]["convicted_by_all_within_seconds"] is not None, output
    assert report["checks"]["set"]["QUORUM"]["lost"] == 0 and report["checks"]["register"]["stale"] == 0, output
    listing = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout
    assert "basalt-chaos" not in listing
