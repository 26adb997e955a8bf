import BasaltCore
import BasaltStorage

/// A logged batch as the batch log keeps it until every mutation is applied: an id (time-based,
/// unique per batch), when it was written, and the mutations.
///
/// Encoding: `01`, id (16 bytes), var-int createdAtMicros, var-uint count, each mutation as
/// var-bytes of its `Mutation` encoding. Decoding validates every mutation and never traps.
public struct BatchlogEntry: Hashable, Sendable {
    public var id: UUIDValue
    public var createdAtMicros: Int64
    public var mutations: [Mutation]

    public init(id: UUIDValue, createdAtMicros: Int64, mutations: [Mutation]) {
        self.id = id
        self.createdAtMicros = createdAtMicros
        self.mutations = mutations
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        w.writeUInt8(1)
        w.writeBytes(id.bytes)
        w.writeVarInt(createdAtMicros)
        w.writeVarUInt(UInt64(mutations.count))
        for m in mutations { w.writeVarBytes(m.encoded()) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> BatchlogEntry {
        var r = ByteReader(bytes)
        let version = try r.readUInt8()
        guard version == 1 else { throw .invalid("unknown batch log entry version \(version)", at: 0) }
        guard let id = UUIDValue(bytes: try r.readBytes(16)) else { throw .invalid("batch id", at: 1) }
        let created = try r.readVarInt()
        let n = try r.readVarUInt()
        guard n <= UInt64(r.remaining) else { throw .invalid("batch of \(n) mutations in \(r.remaining) bytes", at: r.position) }
        var mutations: [Mutation] = []
        mutations.reserveCapacity(Int(n))
        for _ in 0 ..< n { mutations.append(try Mutation.decode(try r.readVarBytes())) }
        guard r.remaining == 0 else { throw .invalid("\(r.remaining) bytes after the batch log entry", at: r.position) }
        return BatchlogEntry(id: id, createdAtMicros: created, mutations: mutations)
    }
}

/// The node-local table the batch log lives in: `system.batches (id uuid PRIMARY KEY, data blob)`,
/// written through the commit log like any table, so a stored batch survives a crash. It is not
/// part of the CQL schema (each node has its own); removal is a partition deletion, purged at the
/// first compaction (`gc_grace_seconds` 0).
public enum BatchlogTable {
    public static let schema: TableSchema = {
        var params = TableParams()
        params.gcGraceSeconds = 0
        return TableSchema(keyspace: "system", name: "batches", id: UUIDValue(msb: 0x0B47_C410_6000_1000, lsb: 0x8000_0000_0000_0001),
                           columns: [ColumnDefinition(name: "id", type: .uuid, kind: .partitionKey, position: 0),
                                     ColumnDefinition(name: "data", type: .blob, kind: .regular)],
                           params: params)
    }()

    /// The mutation that stores `entry`.
    public static func store(_ entry: BatchlogEntry) -> Mutation {
        let cell = Cell(column: "data", timestamp: entry.createdAtMicros, value: entry.encoded())
        let row = Row(clustering: [], liveness: LivenessInfo(timestamp: entry.createdAtMicros), cells: [cell])
        return Mutation(schema: schema, partitionKey: entry.id.bytes, update: PartitionUpdate(rows: [row]))
    }

    /// The mutation that removes the batch `id` (stored at or before `timestampMicros`).
    public static func remove(_ id: UUIDValue, timestampMicros: Int64, nowSeconds: Int64) -> Mutation {
        Mutation(schema: schema, partitionKey: id.bytes,
                 update: PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: timestampMicros, localDeletionTime: nowSeconds)))
    }

    /// The payload of `batchlog.remove`: `01`, id, var-int timestamp.
    public static func removePayload(_ id: UUIDValue, timestampMicros: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: 26)
        w.writeUInt8(1)
        w.writeBytes(id.bytes)
        w.writeVarInt(timestampMicros)
        return w.bytes
    }

    public static func decodeRemovePayload(_ bytes: [UInt8]) throws(DecodeError) -> (UUIDValue, Int64) {
        var r = ByteReader(bytes)
        let version = try r.readUInt8()
        guard version == 1 else { throw .invalid("unknown batch removal version \(version)", at: 0) }
        guard let id = UUIDValue(bytes: try r.readBytes(16)) else { throw .invalid("batch id", at: 1) }
        let ts = try r.readVarInt()
        guard r.remaining == 0 else { throw .invalid("\(r.remaining) bytes after the batch removal", at: r.position) }
        return (id, ts)
    }
}
