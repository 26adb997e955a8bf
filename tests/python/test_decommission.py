"""Decommission on real processes: a fourth node joins a 3-node cluster (RF 2), rows are loaded,
then node 2 decommissions while two writers insert at QUORUM through the other nodes. The command
returns once node 2 left and its process stopped; nodes that stay no longer list it; and every
acknowledged row is read back at ONE through each remaining node (each reads its own copy of what
it replicates) and at ALL."""
from cassandra import ConsistencyLevel

import movement as mv

ADDRESS_BASE = 16
ROWS = 5000


def test_a_decommissioned_node_hands_its_data_over_and_stops(basalt_cluster):
    assert basalt_cluster.nodes == 3
    first = basalt_cluster.addresses
    mv.join(basalt_cluster, 4)
    node4 = first[0][:-1] + "4"
    everyone = first + [node4]
    leaving = first[1]
    staying = [a for a in everyone if a != leaving]
    mv.create_table(everyone, rf=2)
    mv.load_rows(everyone, 0, ROWS, ConsistencyLevel.QUORUM)
    pid = mv.node_pid(basalt_cluster, 2)

    writers = mv.Writers(staying, first=ROWS, count=2, limit=4000)
    watcher = mv.StateWatcher(first[0], leaving)
    try:
        out = mv.admin(leaving, "decommission")
        mv.wait_for("writes after the decommission", lambda: len(writers.keys) >= 100, timeout=120)
    finally:
        writers.stop()
        states = watcher.stop()
    assert "left the ring and stopped" in out, out
    # Node 2 was leaving (UL) for at least the write timeout, then disappeared from status.
    assert "UL" in states and "UN" not in states[states.index("UL"):], states
    # The command returns after the node's ports closed; the process exits right after.
    mv.wait_for("node 2's process to exit", lambda: mv.process_gone(pid), timeout=30)

    for a in staying:
        mv.wait_for("%s to forget %s" % (a, leaving), lambda: leaving not in mv.status(a), timeout=60)
        assert all(n["state"] == "UN" for n in mv.status(a).values())

    keys = list(range(ROWS)) + writers.keys
    for a in staying:
        lost = mv.missing([a], keys, ConsistencyLevel.ONE)
        assert not lost, "%d of %d acknowledged rows not readable at ONE through %s: %s" % (len(lost), len(keys), a, lost[:20])
    lost = mv.missing(staying, keys, ConsistencyLevel.ALL)
    assert not lost, "%d of %d acknowledged rows not readable at ALL: %s" % (len(lost), len(keys), lost[:20])
