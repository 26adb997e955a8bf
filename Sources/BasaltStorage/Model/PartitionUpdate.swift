import BasaltCore

/// The content of one partition: what a mutation writes, what a memtable or SSTable holds for it,
/// and what a read returns ("unfiltered": timestamps, markers and tombstones still present).
///
/// Canonical form (``normalized(_:)``, and the output of every merge): rows sorted by clustering and
/// unique, cells sorted, range tombstones sorted and deduplicated, and nothing that a deletion in the
/// same partition shadows.
public struct PartitionUpdate: Hashable, Sendable, CustomStringConvertible {
    public var partitionDeletion: DeletionTime?
    public var rangeTombstones: [RangeTombstone]
    public var staticRow: Row?
    public var rows: [Row]

    @inlinable
    public init(partitionDeletion: DeletionTime? = nil, rangeTombstones: [RangeTombstone] = [], staticRow: Row? = nil, rows: [Row] = []) {
        self.partitionDeletion = partitionDeletion
        self.rangeTombstones = rangeTombstones
        self.staticRow = staticRow
        self.rows = rows
    }

    public static let empty = PartitionUpdate()

    @inlinable
    public var isEmpty: Bool { partitionDeletion == nil && rangeTombstones.isEmpty && (staticRow?.isEmpty ?? true) && rows.isEmpty }

    /// Smallest and largest write timestamp of anything in the update (markers, cells, deletions);
    /// nil when empty.
    public var timestampRange: (min: Int64, max: Int64)? {
        var lo = Int64.max, hi = Int64.min
        func see(_ t: Int64) { lo = Swift.min(lo, t); hi = Swift.max(hi, t) }
        if let d = partitionDeletion { see(d.markedForDeleteAt) }
        for rt in rangeTombstones { see(rt.deletion.markedForDeleteAt) }
        func seeRow(_ r: Row) {
            if let l = r.liveness { see(l.timestamp) }
            if let d = r.deletion { see(d.markedForDeleteAt) }
            for c in r.complexDeletions { see(c.deletion.markedForDeleteAt) }
            for c in r.cells { see(c.timestamp) }
        }
        if let s = staticRow { seeRow(s) }
        for r in rows { seeRow(r) }
        return lo <= hi ? (lo, hi) : nil
    }

    /// Number of tombstones of every kind (partition, range, row, complex and cell).
    public var tombstoneCount: Int {
        var n = (partitionDeletion == nil ? 0 : 1) + rangeTombstones.count
        func countRow(_ r: Row) {
            if r.deletion != nil { n += 1 }
            n += r.complexDeletions.count
            for c in r.cells where c.isTombstone { n += 1 }
        }
        if let s = staticRow { countRow(s) }
        for r in rows { countRow(r) }
        return n
    }

    public var description: String {
        var lines: [String] = []
        if let d = partitionDeletion { lines.append("partition deleted[\(d)]") }
        for rt in rangeTombstones { lines.append(rt.description) }
        if let s = staticRow { lines.append("static \(s)") }
        for r in rows { lines.append(r.description) }
        return lines.joined(separator: "\n")
    }
}

/// A write to one partition of one table: the unit the commit log records, the memtable applies and
/// the coordinator sends to replicas.
public struct Mutation: Hashable, Sendable {
    public var keyspace: String
    public var table: String
    public var tableId: UUIDValue
    /// The serialized partition key, as ``TableSchema/partitionKeyBytes(_:)`` builds it.
    public var partitionKey: [UInt8]
    public var update: PartitionUpdate

    public init(keyspace: String, table: String, tableId: UUIDValue, partitionKey: [UInt8], update: PartitionUpdate) {
        self.keyspace = keyspace
        self.table = table
        self.tableId = tableId
        self.partitionKey = partitionKey
        self.update = update
    }

    public init(schema: TableSchema, partitionKey: [UInt8], update: PartitionUpdate) {
        self.init(keyspace: schema.keyspace, table: schema.name, tableId: schema.id, partitionKey: partitionKey, update: update)
    }

    /// The partition's token (Murmur3 of the key).
    @inlinable public var token: Token { Murmur3.token(partitionKey) }
}
