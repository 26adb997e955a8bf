import BasaltCore

/// What the client knows of the cluster at one moment: its nodes, their tokens as a
/// ``TokenRing``, and each keyspace's replication. An immutable value; a refresh builds a new one.
///
/// Replica placement is BasaltCluster's ``ReplicationStrategy`` (Cassandra's SimpleStrategy and
/// NetworkTopologyStrategy rules), computed once per distinct replication setting for every ring
/// range, so finding a token's replicas is a binary search and an array lookup.
public struct ClusterTopology: Sendable {
    /// Every known node, sorted by address.
    public let nodes: [ClusterNode]
    /// Replication of every keyspace the client could place (`LocalStrategy` included).
    public let keyspaces: [String: ReplicationParams]
    /// The ring of every node's tokens; members are identified by host id and native address.
    public let ring: TokenRing
    /// `system.local.partitioner`; token-aware routing is on only for Murmur3Partitioner.
    public let partitioner: String?
    public let clusterName: String?

    private let nodeIndexByHostId: [UUIDValue: Int]
    /// Per replication setting, per ring range (indexed like `ring.sortedTokens`), replica
    /// indices into `nodes`, primary first.
    private let replicasByRange: [ReplicationParams: [[Int]]]

    public static let murmur3Partitioner = "org.apache.cassandra.dht.Murmur3Partitioner"

    public init(nodes input: [ClusterNode], keyspaces: [String: ReplicationParams], partitioner: String? = murmur3Partitioner,
                clusterName: String? = nil) {
        // One node per host id, the last row given winning.
        var byHost = [UUIDValue: ClusterNode]()
        for n in input { byHost[n.hostId] = n }
        let nodes = byHost.values.sorted { ($0.address.host, $0.address.port) < ($1.address.host, $1.address.port) }
        self.nodes = nodes
        self.keyspaces = keyspaces
        self.partitioner = partitioner
        self.clusterName = clusterName
        var index = [UUIDValue: Int]()
        for (i, n) in nodes.enumerated() { index[n.hostId] = i }
        nodeIndexByHostId = index
        let ring = TokenRing(members: nodes.map(Self.ringMember))
        self.ring = ring
        // For each ring member (by index in `ring.members`), its index in `nodes`.
        let memberNodes = ring.members.map { index[$0.identity.hostId] ?? 0 }
        var tables = [ReplicationParams: [[Int]]]()
        if !ring.isEmpty {
            let anyMember = ring.members[0].identity
            for params in Set(keyspaces.values) {
                if case .local = params { continue }
                let placement = ReplicationStrategy(params).placement(in: ring, localNode: anyMember)
                tables[params] = ring.sortedTokens.indices.map { i in
                    placement.replicas(forRangeEndingAt: i).compactMap { ring.memberIndex($0).map { memberNodes[$0] } }
                }
            }
        }
        replicasByRange = tables
    }

    /// The ring identity of a node: its host id and native address.
    static func ringMember(_ n: ClusterNode) -> RingMember {
        RingMember(identity: NodeIdentity(hostId: n.hostId, address: NodeAddress(host: n.address.host, port: n.address.port)),
                   dataCenter: n.dataCenter, rack: n.rack, tokens: n.tokens)
    }

    /// Whether tokens computed by ``Murmur3`` are meaningful for this cluster.
    public var isTokenAware: Bool { partitioner == nil || partitioner == Self.murmur3Partitioner }

    public func node(hostId: UUIDValue) -> ClusterNode? { nodeIndexByHostId[hostId].map { nodes[$0] } }

    func nodeIndex(hostId: UUIDValue) -> Int? { nodeIndexByHostId[hostId] }

    /// Indices into ``nodes`` of the replicas of `token` in `keyspace`, primary first; nil when the
    /// keyspace is unknown, placed locally (system keyspaces) or the partitioner is not Murmur3.
    func replicaIndices(for token: Token, keyspace: String) -> [Int]? {
        guard isTokenAware, let params = keyspaces[keyspace], let table = replicasByRange[params],
              let i = ring.tokenIndex(for: token) else { return nil }
        return table[i]
    }

    /// The replicas of `token` in `keyspace`, primary first (empty when it cannot be placed).
    public func replicas(for token: Token, keyspace: String) -> [ClusterNode] {
        (replicaIndices(for: token, keyspace: keyspace) ?? []).map { nodes[$0] }
    }

    /// The data centers of the known nodes, sorted.
    public var dataCenters: [String] { Array(Set(nodes.map(\.dataCenter))).sorted() }
}
