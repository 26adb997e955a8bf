import BasaltCore

/// Where a keyspace's replicas live, by Cassandra's placement rules, for a ``TokenRing``.
///
/// - `LocalStrategy`: the local node only, whatever the ring.
/// - `SimpleStrategy`: starting at the range's primary owner, walk the ring clockwise collecting the
///   first `replication_factor` distinct nodes (fewer if the ring has fewer nodes). Data centers and
///   racks are ignored.
/// - `NetworkTopologyStrategy`: one clockwise walk from the primary owner, filling every data center
///   at once, as `NetworkTopologyStrategy.calculateNaturalReplicas` does in Cassandra ≥ 3.x. In a data
///   center with replication factor `rf`, `n` nodes and `r` racks: take `min(rf, n)` replicas; a node
///   on a rack not yet used in that data center is always taken; a node on an already used rack is
///   taken only while fewer than `rf - r` such repeats have been taken (so when `rf ≤ r` every replica
///   is on a distinct rack, and when `rf > r` the extra replicas are the first repeat nodes met in ring
///   order). The resulting set equals the older two-pass rule the drivers implement ("skip nodes on
///   used racks until every rack is used, then fill with the skipped nodes in ring order"); the tests
///   check that equality on random rings.
///
/// Replica lists are in walk order: the primary owner first.
public struct ReplicationStrategy: Hashable, Sendable {
    public var params: ReplicationParams

    public init(_ params: ReplicationParams) { self.params = params }

    /// The replicas of the range `token` falls in.
    public func replicas(for token: Token, in ring: TokenRing, localNode: NodeIdentity) -> [NodeIdentity] {
        if case .local = params { return [localNode] }
        guard let i = ring.tokenIndex(for: token) else { return [] }
        let topology = RingTopology(ring)
        return memberIndices(forRangeEndingAt: i, in: ring, topology: topology).map { ring.members[$0].identity }
    }

    /// Replicas of every ring range at once; build one per (ring, keyspace) and reuse it.
    public func placement(in ring: TokenRing, localNode: NodeIdentity) -> ReplicaPlacement {
        ReplicaPlacement(strategy: self, ring: ring, localNode: localNode)
    }

    /// Indices into `ring.members` of the replicas of the range ending at `sortedTokens[start]`.
    func memberIndices(forRangeEndingAt start: Int, in ring: TokenRing, topology: RingTopology) -> [Int] {
        switch params {
        case .local:
            return []
        case let .simple(rf):
            return simpleWalk(from: start, ring: ring, replicationFactor: rf)
        case let .networkTopology(factors):
            return networkTopologyWalk(from: start, ring: ring, topology: topology, factors: factors)
        }
    }

    private func simpleWalk(from start: Int, ring: TokenRing, replicationFactor rf: Int) -> [Int] {
        let want = min(max(rf, 0), ring.members.count)
        var out: [Int] = []
        out.reserveCapacity(want)
        let n = ring.sortedTokens.count
        var step = 0
        while out.count < want && step < n {
            let m = ring.owners[(start + step) % n]
            if !out.contains(m) { out.append(m) }
            step += 1
        }
        return out
    }

    /// Per-data-center progress of one walk (Cassandra's `DatacenterEndpoints`).
    private struct DataCenterFill {
        var replicasLeft: Int
        var rackRepeatsLeft: Int
    }

    private func networkTopologyWalk(from start: Int, ring: TokenRing, topology: RingTopology,
                                     factors: [String: Int]) -> [Int] {
        var fills = [DataCenterFill?](repeating: nil, count: topology.dataCenters.count)
        var dataCentersToFill = 0
        var total = 0
        for (dc, rf) in factors {
            guard let d = topology.dataCenterIndex(dc), rf > 0, topology.nodeCount[d] > 0 else { continue }
            let take = min(rf, topology.nodeCount[d])
            fills[d] = DataCenterFill(replicasLeft: take, rackRepeatsLeft: rf - topology.rackCount[d])
            dataCentersToFill += 1
            total += take
        }
        var out: [Int] = []
        out.reserveCapacity(total)
        var seenRacks = [Bool](repeating: false, count: topology.totalRacks)
        let n = ring.sortedTokens.count
        var step = 0
        while dataCentersToFill > 0 && step < n {
            let m = ring.owners[(start + step) % n]
            step += 1
            let d = topology.dataCenterOf[m]
            guard var fill = fills[d], fill.replicasLeft > 0 else { continue }
            let rack = topology.rackOf[m]
            if !seenRacks[rack] {
                seenRacks[rack] = true
            } else if fill.rackRepeatsLeft <= 0 || out.contains(m) {
                continue
            } else {
                fill.rackRepeatsLeft -= 1
            }
            out.append(m)
            fill.replicasLeft -= 1
            if fill.replicasLeft == 0 { dataCentersToFill -= 1 }
            fills[d] = fill
        }
        return out
    }
}
