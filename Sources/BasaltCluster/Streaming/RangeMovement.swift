import BasaltCore

/// Which data must move when the ring changes from `current` to `future` (a node joins, leaves, is
/// removed or replaced): for every keyspace, each piece of the ring between consecutive tokens of
/// either ring whose future replicas include a node that is not a current replica gets a transfer
/// to that node from one current replica. Pure: placements only, no I/O.
///
/// The source of a piece is chosen as Cassandra's consistent range movement prefers: a current
/// replica that will no longer hold the piece (it has the most complete copy to hand over), then any
/// other current replica; only replicas `usable` allows (alive, not the node being removed).
public struct RangeMovement: Sendable {
    /// A keyspace's replication and the tables to move.
    public struct Keyspace: Sendable {
        public var name: String
        public var replication: ReplicationParams
        public var tables: [TableSchema]

        public init(name: String, replication: ReplicationParams, tables: [TableSchema]) {
            self.name = name
            self.replication = replication
            self.tables = tables
        }
    }

    /// Data `receiver` must fetch from `source`.
    public struct Transfer: Hashable, Sendable {
        public var receiver: NodeIdentity
        public var source: NodeIdentity
        public var tasks: [StreamTask]
    }

    public enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// No usable current replica holds this piece.
        case noSource(keyspace: String, range: TokenRange)

        public var description: String {
            switch self {
            case let .noSource(ks, range): "no live replica holds \(ks) range \(range) to stream it from"
            }
        }
    }

    /// Every transfer from the ring `current` to `future`, grouped per (receiver, source).
    /// `receivers` limits the result to those nodes (nil: all).
    public static func transfers(from current: TokenRing, to future: TokenRing, keyspaces: [Keyspace], local: NodeIdentity,
                                 receivers: Set<NodeIdentity>? = nil,
                                 usable: (NodeIdentity) -> Bool) throws(Failure) -> [Transfer] {
        var grouped: [Pair: [StreamTask]] = [:]
        var order: [Pair] = []
        let split = Array(Set(current.sortedTokens + future.sortedTokens)).sorted()
        guard !split.isEmpty, !current.isEmpty, !future.isEmpty else { return [] }
        for ks in keyspaces where ks.replication != .local && !ks.tables.isEmpty {
            let strategy = ReplicationStrategy(ks.replication)
            let now = strategy.placement(in: current, localNode: local)
            let next = strategy.placement(in: future, localNode: local)
            for (i, end) in split.enumerated() {
                let start = split[i == 0 ? split.count - 1 : i - 1]
                let piece = TokenRange(start: start, end: end)
                let holders = now.replicas(for: end)
                let owners = next.replicas(for: end)
                for receiver in owners where !holders.contains(receiver) {
                    if let receivers, !receivers.contains(receiver) { continue }
                    let candidates = holders.filter { $0 != receiver && usable($0) }
                    guard let source = candidates.first(where: { !owners.contains($0) }) ?? candidates.first else {
                        throw .noSource(keyspace: ks.name, range: piece)
                    }
                    let pair = Pair(receiver: receiver, source: source)
                    if grouped[pair] == nil { order.append(pair) }
                    for t in ks.tables {
                        grouped[pair, default: []].append(StreamTask(keyspace: ks.name, table: t.name, tableId: t.id, range: piece))
                    }
                }
            }
        }
        return order.map { Transfer(receiver: $0.receiver, source: $0.source, tasks: grouped[$0]!) }
    }

    /// The ranges `node` replicates in `ring` for `replication` (what cleanup keeps).
    public static func ownedRanges(of node: NodeIdentity, in ring: TokenRing, replication: ReplicationParams) -> [TokenRange] {
        ReplicationStrategy(replication).placement(in: ring, localNode: node).ranges(replicatedBy: node)
    }

    private struct Pair: Hashable {
        var receiver: NodeIdentity
        var source: NodeIdentity
    }
}
