/// A keyspace: its replication and durability settings.
public struct KeyspaceSchema: Hashable, Sendable {
    public var name: String
    public var replication: ReplicationParams
    public var durableWrites: Bool

    public init(name: String, replication: ReplicationParams, durableWrites: Bool = true) {
        self.name = name
        self.replication = replication
        self.durableWrites = durableWrites
    }
}

/// How a keyspace's data is replicated, with Cassandra's strategy names.
public enum ReplicationParams: Hashable, Sendable {
    /// One copy on this node only (system keyspaces).
    case local
    /// `replication_factor` copies walking the ring clockwise.
    case simple(replicationFactor: Int)
    /// Copies per data center, racks spread within each.
    case networkTopology([String: Int])

    public var className: String {
        switch self {
        case .local: "org.apache.cassandra.locator.LocalStrategy"
        case .simple: "org.apache.cassandra.locator.SimpleStrategy"
        case .networkTopology: "org.apache.cassandra.locator.NetworkTopologyStrategy"
        }
    }

    /// The `replication` map as `system_schema.keyspaces` shows it.
    public var map: [String: String] {
        switch self {
        case .local: ["class": className]
        case let .simple(rf): ["class": className, "replication_factor": String(rf)]
        case let .networkTopology(dcs):
            dcs.reduce(into: ["class": className]) { $0[$1.key] = String($1.value) }
        }
    }
}
