import BasaltCore

/// The replicas of every range of one ring under one strategy, computed once.
///
/// Guarantees: `replicas(for:)` equals ``ReplicationStrategy/replicas(for:in:localNode:)``; the ranges
/// a node replicates (``ranges(replicatedBy:)``) are exactly the ring ranges whose replica list
/// contains it. For `LocalStrategy` the local node replicates the whole ring and nobody else does.
public struct ReplicaPlacement: Sendable {
    public let strategy: ReplicationStrategy
    public let ring: TokenRing
    public let localNode: NodeIdentity
    /// For each ring range (indexed like `ring.sortedTokens`), indices into `ring.members`.
    let byRange: [[Int]]

    init(strategy: ReplicationStrategy, ring: TokenRing, localNode: NodeIdentity) {
        self.strategy = strategy
        self.ring = ring
        self.localNode = localNode
        if case .local = strategy.params {
            byRange = []
        } else {
            let topology = RingTopology(ring)
            byRange = ring.sortedTokens.indices.map {
                strategy.memberIndices(forRangeEndingAt: $0, in: ring, topology: topology)
            }
        }
    }

    private var isLocal: Bool {
        if case .local = strategy.params { return true }
        return false
    }

    /// The replicas of the range `token` falls in, primary first.
    public func replicas(for token: Token) -> [NodeIdentity] {
        if isLocal { return [localNode] }
        guard let i = ring.tokenIndex(for: token) else { return [] }
        return byRange[i].map { ring.members[$0].identity }
    }

    /// The replicas of the ring range ending at `ring.sortedTokens[i]`.
    public func replicas(forRangeEndingAt i: Int) -> [NodeIdentity] {
        if isLocal { return [localNode] }
        return byRange[i].map { ring.members[$0].identity }
    }

    /// Every ring range `id` holds a replica of, in token order.
    public func ranges(replicatedBy id: NodeIdentity) -> [TokenRange] {
        if isLocal {
            return id == localNode ? [TokenRange(start: .min, end: .min)] : []
        }
        guard let m = ring.memberIndex(id) else { return [] }
        return byRange.indices.filter { byRange[$0].contains(m) }.map { ring.range(endingAt: $0) }
    }

    /// For each ring member, the fraction of the ring it replicates (sums to the effective replication
    /// factor).
    public func replicatedOwnership() -> [NodeIdentity: Double] {
        if isLocal { return [localNode: 1.0] }
        var owned = [Double](repeating: 0, count: ring.members.count)
        for (i, width) in ring.rangeWidths.enumerated() {
            for m in byRange[i] { owned[m] += width }
        }
        var out: [NodeIdentity: Double] = [:]
        for (i, m) in ring.members.enumerated() { out[m.identity] = owned[i] }
        return out
    }
}
