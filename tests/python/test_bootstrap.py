"""Bootstrap on real processes: 3 nodes, RF 2, 20,000 rows; node 4 joins (cluster/join) while two
writers keep inserting at QUORUM. Every row, old and new, must then be read back at ONE through
node 4 alone as coordinator and at ALL; after cleanup on the old nodes each node holds only what it
replicates, which its Load shows."""
from cassandra import ConsistencyLevel

import movement as mv

ADDRESS_BASE = 15
ROWS = 20000


def test_a_joining_node_streams_its_ranges_while_writes_continue(basalt_cluster):
    assert basalt_cluster.nodes == 3
    old = basalt_cluster.addresses
    node4 = old[0][:-1] + "4"
    mv.create_table(old, rf=2)
    mv.load_rows(old, 0, ROWS, ConsistencyLevel.QUORUM)

    writers = mv.Writers(old, first=ROWS, count=2, limit=4000)
    watcher = mv.StateWatcher(old[0], node4)
    try:
        mv.join(basalt_cluster, 4)
        # A few more writes once node 4 is a natural replica.
        mv.wait_for("writes after the join", lambda: len(writers.keys) >= 200, timeout=120)
    finally:
        writers.stop()
        states = watcher.stop()
    # Node 4 was joining (UJ) for at least the write timeout before it became normal.
    assert "UJ" in states and states[-1] == "UN", states
    new_keys = writers.keys
    assert len(new_keys) >= 200, "writers acknowledged only %d writes (failures %s)" % (len(new_keys), writers.failures)

    # Node 4 is up and normal for everyone, and bootstrapped by streaming (not by read repair).
    for a in old + [node4]:
        assert mv.status(a)[node4]["state"] == "UN"
    netstats = mv.admin(node4, "netstats")
    assert "bootstrap" in netstats and "complete" in netstats, netstats

    keys = list(range(ROWS)) + new_keys
    lost_one = mv.missing([node4], keys, ConsistencyLevel.ONE)
    assert not lost_one, "%d of %d rows not readable at ONE through node 4: %s" % (len(lost_one), len(keys), lost_one[:20])
    lost_all = mv.missing(old + [node4], keys, ConsistencyLevel.ALL)
    assert not lost_all, "%d of %d rows not readable at ALL: %s" % (len(lost_all), len(keys), lost_all[:20])

    # Cleanup: the old nodes drop what node 4 took over; afterwards every node holds about the same
    # (RF 2 over 4 nodes: each about half the data), where before the old ones held about 2/3.
    for a in old + [node4]:
        mv.admin(a, "flush")
    before = {a: mv.own_load(a) for a in old + [node4]}
    for a in old:
        out = mv.admin(a, "cleanup", mv.KEYSPACE)
        assert "cleanup: completed" in out, out
    after = {a: mv.own_load(a) for a in old + [node4]}
    print("Load before cleanup %s, after %s" % (before, after))
    for a in old:
        assert after[a] < 0.9 * before[a], "cleanup on %s freed too little: %s -> %s" % (a, before[a], after[a])
    assert max(after.values()) < 1.6 * min(after.values()), "uneven Load after cleanup: %s" % after
    # Cleanup removed only what other nodes replicate: a read at ONE through a replica reads its own
    # copy, so every row read at ONE through every node proves each kept what it replicates.
    for a in old + [node4]:
        lost = mv.missing([a], keys, ConsistencyLevel.ONE)
        assert not lost, "%d rows not readable at ONE through %s after cleanup: %s" % (len(lost), a, lost[:20])
