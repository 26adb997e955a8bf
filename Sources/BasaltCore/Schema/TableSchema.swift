/// The definition of a table: columns, primary key and storage parameters.
///
/// A value type shared by the storage engine (clustering order, compression, compaction, gc grace),
/// the coordinator (partition key → token) and the CQL layer (system_schema, binding).
public struct TableSchema: Hashable, Sendable {
    public var keyspace: String
    public var name: String
    /// Stable identity of the table; a table dropped and re-created under the same name gets a new id.
    public var id: UUIDValue
    /// Partition-key columns in key order.
    public private(set) var partitionKey: [ColumnDefinition]
    /// Clustering columns in key order.
    public private(set) var clustering: [ColumnDefinition]
    /// Regular and static columns, in name order.
    public private(set) var regular: [ColumnDefinition]
    public var params: TableParams
    /// Dropped column names and the write time (µs) of the drop: data at or before it is ignored.
    public var droppedColumns: [String: Int64]

    public init(keyspace: String, name: String, id: UUIDValue, columns: [ColumnDefinition], params: TableParams = TableParams(), droppedColumns: [String: Int64] = [:]) {
        self.keyspace = keyspace
        self.name = name
        self.id = id
        self.params = params
        self.droppedColumns = droppedColumns
        partitionKey = columns.filter { $0.kind == .partitionKey }.sorted { $0.position < $1.position }
        clustering = columns.filter { $0.kind == .clustering }.sorted { $0.position < $1.position }
        regular = columns.filter { $0.kind == .regular || $0.kind == .static }.sorted { $0.name < $1.name }
    }

    /// Every column: partition key, clustering, then regular and static columns by name.
    public var columns: [ColumnDefinition] { partitionKey + clustering + regular }

    public func column(named name: String) -> ColumnDefinition? {
        partitionKey.first { $0.name == name } ?? clustering.first { $0.name == name } ?? regular.first { $0.name == name }
    }

    public var hasStaticColumns: Bool { regular.contains { $0.kind == .static } }

    /// Adds a regular or static column (ALTER TABLE … ADD).
    public mutating func addColumn(_ c: ColumnDefinition) {
        precondition(c.kind == .regular || c.kind == .static, "only regular and static columns can be added: \(c)")
        regular.append(c)
        regular.sort { $0.name < $1.name }
        droppedColumns[c.name] = nil
    }

    /// Removes a regular or static column, remembering when (ALTER TABLE … DROP).
    public mutating func dropColumn(named name: String, at micros: Int64) {
        regular.removeAll { $0.name == name }
        droppedColumns[name] = micros
    }

    /// The serialized partition key from its component values, as Cassandra builds it: a single
    /// component as is; a composite as, per component, a 2-byte big-endian length, the bytes, 0x00.
    public static func partitionKeyBytes(_ components: [[UInt8]]) -> [UInt8] {
        if components.count == 1 { return components[0] }
        var w = ByteWriter(capacity: components.reduce(0) { $0 + $1.count + 3 })
        for c in components {
            w.writeUInt16(UInt16(truncatingIfNeeded: c.count))
            w.writeBytes(c)
            w.writeUInt8(0)
        }
        return w.bytes
    }

    /// Splits a serialized partition key into its components; nil when malformed.
    public func partitionKeyComponents(_ key: [UInt8]) -> [[UInt8]]? {
        if partitionKey.count == 1 { return [key] }
        var r = ByteReader(key)
        var out = [[UInt8]]()
        for _ in partitionKey {
            guard let n = try? r.readUInt16(), let b = try? r.readBytes(Int(n)), (try? r.readUInt8()) == 0 else { return nil }
            out.append(b)
        }
        return r.isAtEnd ? out : nil
    }

    /// Orders two clustering prefixes component by component, honouring each column's ASC/DESC;
    /// a shorter prefix that matches sorts first.
    public func compareClustering(_ a: [[UInt8]], _ b: [[UInt8]]) -> Int {
        let n = min(a.count, b.count)
        for i in 0 ..< n {
            let col = clustering[i]
            let c = col.type.compare(a[i], b[i])
            if c != 0 { return col.isDescending ? -c : c }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
}

/// Storage parameters of a table (`WITH …` options).
public struct TableParams: Hashable, Sendable {
    /// Uncompressed size of an SSTable data chunk; Cassandra's `chunk_length_in_kb`.
    public var chunkLengthKiB: Int = 16
    /// Whether SSTable chunks are Snappy-compressed (`compression = {'enabled': 'false'}` turns it off).
    public var compressionEnabled: Bool = true
    public var compaction: CompactionParams = .sizeTiered()
    /// Seconds a tombstone is kept before compaction may purge it.
    public var gcGraceSeconds: Int = 864_000
    /// TTL in seconds applied to writes that carry none; 0 for none.
    public var defaultTimeToLive: Int = 0
    /// Target false-positive rate of the SSTable bloom filters.
    public var bloomFilterFPChance: Double = 0.01
    public var comment: String = ""

    public init() {}
}

/// The compaction strategy of a table and its options.
public enum CompactionParams: Hashable, Sendable {
    /// Size-tiered: merge `minThreshold`…`maxThreshold` SSTables of similar size.
    case sizeTiered(minThreshold: Int = 4, maxThreshold: Int = 32)
    /// Time-window: SSTables bucketed by the newest write time in windows of `windowSeconds`,
    /// size-tiered within the current window, one SSTable per older window.
    case timeWindow(windowSeconds: Int = 86_400, minThreshold: Int = 4, maxThreshold: Int = 32)
    /// Leveled: flushed SSTables (level 0) are merged into level 1; every level from 1 holds
    /// SSTables of about `sstableSizeMiB` with disjoint token ranges, level n holding up to
    /// `fanout`^n × `sstableSizeMiB`, so a read consults at most one SSTable per level.
    case leveled(sstableSizeMiB: Int = 160, fanout: Int = 10)

    /// Cassandra's class name for the strategy.
    public var className: String {
        switch self {
        case .sizeTiered: "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy"
        case .timeWindow: "org.apache.cassandra.db.compaction.TimeWindowCompactionStrategy"
        case .leveled: "org.apache.cassandra.db.compaction.LeveledCompactionStrategy"
        }
    }
}
