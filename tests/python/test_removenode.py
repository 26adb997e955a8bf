"""removenode on real processes: 4 nodes (one joined), RF 2, rows written at ALL; node 2 is killed
and removed through node 1. Node 2 disappears from status, and the replication factor is restored:
with any one remaining node stopped, every row is still read at ONE through the others (so each
row has a second copy on a live node)."""
import os

from cassandra import ConsistencyLevel

import movement as mv

ADDRESS_BASE = 17
ROWS = 3000


def test_a_dead_node_is_removed_and_its_replicas_restored(basalt_cluster):
    assert basalt_cluster.nodes == 3
    first = basalt_cluster.addresses
    mv.join(basalt_cluster, 4)
    node4 = first[0][:-1] + "4"
    everyone = first + [node4]
    dead = first[1]
    mv.create_table(everyone, rf=2)
    mv.load_rows(everyone, 0, ROWS, ConsistencyLevel.ALL)

    host_id = mv.status(first[0])[dead]["hostId"]
    basalt_cluster.run("kill", 2)
    survivors = [a for a in everyone if a != dead]
    for a in survivors:
        mv.wait_for("%s to see %s down" % (a, dead), lambda: mv.status(a)[dead]["state"] == "DN", timeout=120)
    out = mv.admin(first[0], "removenode", host_id)
    assert "removenode: completed" in out, out
    for a in survivors:
        mv.wait_for("%s to forget %s" % (a, dead), lambda: dead not in mv.status(a), timeout=60)

    mv.every_row_has_a_second_copy(basalt_cluster, [(1, first[0]), (3, first[2]), (4, node4)], survivors, list(range(ROWS)))

def test_a_dead_node_is_replaced_by_a_new_one_with_its_tokens(basalt_cluster):
    """After the removal above (nodes 1, 3, 4 up): node 4 is killed and node 5 starts with
    replace_address_first_boot naming it. Node 5 takes node 4's tokens and streams its data: with
    node 1 or node 3 stopped, every row is still read at ONE, so node 5 holds node 4's share."""
    first = basalt_cluster.addresses
    node4 = first[0][:-1] + "4"
    node5 = first[0][:-1] + "5"
    live = [first[0], first[2]]
    tokens4 = mv.status(first[0])[node4]["tokens"]
    basalt_cluster.run("kill", 4)
    for a in live:
        mv.wait_for("%s to see %s down" % (a, node4), lambda: mv.status(a)[node4]["state"] == "DN", timeout=120)
    cluster = mv.Joined(basalt_cluster, extra="replace_address_first_boot: %s" % node4)
    mv.join(cluster, 5)
    for a in live + [node5]:
        mv.wait_for("%s to forget %s" % (a, node4), lambda: node4 not in mv.status(a), timeout=60)
        assert mv.status(a)[node5]["state"] == "UN" and mv.status(a)[node5]["tokens"] == tokens4
    assert "replace" in mv.admin(node5, "netstats")

    # Node 5 holds node 4's share: with node 1 or node 3 stopped, every row is still there.
    mv.every_row_has_a_second_copy(basalt_cluster, [(1, first[0]), (3, first[2])], live + [node5], list(range(ROWS)))


def test_a_replacement_that_cannot_stream_does_not_join(basalt_cluster):
    """After the replacement above (nodes 1, 3, 5 up): nodes 3 and 5 are killed, and node 6 tries
    to replace node 5. Ranges node 5 shared with node 3 have no live source, so the replacement
    fails: node 6 exits with an error naming it, stores no identity, and never becomes normal."""
    first = basalt_cluster.addresses
    node5 = first[0][:-1] + "5"
    node6 = first[0][:-1] + "6"
    basalt_cluster.run("kill", 3)
    basalt_cluster.run("kill", 5)
    for dead in (first[2], node5):
        mv.wait_for("%s to see %s down" % (first[0], dead), lambda: mv.status(first[0])[dead]["state"] == "DN", timeout=120)
    cluster = mv.Joined(basalt_cluster, extra="replace_address_first_boot: %s" % node5)
    done = mv.try_join(cluster, 6, timeout=300)
    assert done.returncode != 0, "node 6 joined although node 5's data could not be streamed"
    log = open(os.path.join(basalt_cluster.directory, "node6", "basalt.log")).read()
    assert "no live replica holds" in log, log[-2000:]
    assert not os.path.exists(os.path.join(basalt_cluster.directory, "node6", "data", "node-identity"))
    mv.wait_for("node 6 to be gone or down", lambda: node6 not in mv.status(first[0]) or mv.status(first[0])[node6]["state"][0] == "D",
                timeout=60)
    assert mv.status(first[0]).get(node6, {}).get("state") != "UN"
