import BasaltCore
import BasaltProtocol

/// How the executor makes a DDL or TRUNCATE take effect: on this node and, in a cluster, on every
/// live node before answering (bounded), so that drivers see schema agreement.
public protocol SchemaDistributor: Sendable {
    /// Applies a change decided here; nil when IF [NOT] EXISTS made it a no-op.
    func announce(_ change: SchemaChange) async throws(CQLError) -> SchemaChangeDescription?
    /// Truncates a table on every node (Truncate error when some cannot be reached).
    func truncate(_ table: TableSchema) async throws(CQLError)
}

/// Schema changes for a node alone: applied to its ``SchemaHolder`` only.
public struct LocalSchemaDistributor: SchemaDistributor {
    public let holder: SchemaHolder
    public let hostId: UUIDValue
    public let timestamps: TimestampGenerator

    public init(holder: SchemaHolder, hostId: UUIDValue, timestamps: TimestampGenerator) {
        self.holder = holder
        self.hostId = hostId
        self.timestamps = timestamps
    }

    public func announce(_ change: SchemaChange) async throws(CQLError) -> SchemaChangeDescription? {
        try holder.accept(SchemaLogEntry(timestamp: timestamps.next().micros, origin: hostId, change: change))
    }

    public func truncate(_ table: TableSchema) async throws(CQLError) {
        try holder.truncateLocally(tableId: table.id)
    }
}
