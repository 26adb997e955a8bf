import BasaltCore
import BasaltStorage

/// A request for the rows nearest to a vector by a table's vector index (`ORDER BY v ANN OF …`),
/// answered by each replica from its own index for the token ranges it is asked about.
public struct NearestRowsCommand: Hashable, Sendable {
    public var keyspace: String
    public var table: String
    public var tableId: UUIDValue
    public var index: String
    public var vector: [Float]
    /// Rows wanted from each replica.
    public var k: Int
    /// The ranges the answering replica covers for this request (empty: all of its data).
    public var ranges: [TokenRange]
    /// Index restrictions a row must satisfy as well (`WHERE … ORDER BY v ANN OF …`): the
    /// replica searches only among the rows its term indexes match.
    public var restrictions: [IndexTermRestriction]

    public init(keyspace: String, table: String, tableId: UUIDValue, index: String, vector: [Float], k: Int, ranges: [TokenRange] = [],
                restrictions: [IndexTermRestriction] = []) {
        self.restrictions = restrictions
        self.keyspace = keyspace
        self.table = table
        self.tableId = tableId
        self.index = index
        self.vector = vector
        self.k = k
        self.ranges = ranges
    }

    /// Whether a partition's token is one this request covers.
    public func covers(_ token: Token) -> Bool {
        ranges.isEmpty || ranges.contains { $0.contains(token) }
    }

    /// Versioned encoding: table reference, index name, k, vector, ranges, then (when there are
    /// any) the index restrictions.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + vector.count * 4 + ranges.count * 16)
        w.writeUInt8(StorageCodec.version)
        StorageCodec.writeTableRef(keyspace: keyspace, table: table, id: tableId, &w)
        w.writeVarBytes(Array(index.utf8))
        w.writeVarUInt(UInt64(k))
        w.writeVarUInt(UInt64(vector.count))
        for x in vector { w.writeFloat(x) }
        w.writeVarUInt(UInt64(ranges.count))
        for r in ranges {
            w.writeInt64(r.start.value)
            w.writeInt64(r.end.value)
        }
        if !restrictions.isEmpty { IndexTermRestriction.writeList(restrictions, to: &w) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> NearestRowsCommand {
        var r = ByteReader(bytes)
        try StorageCodec.checkVersion(&r)
        let (ks, t, id) = try StorageCodec.readTableRef(&r)
        let index = String(decoding: try r.readVarBytes(), as: UTF8.self)
        let at = r.position
        let k = try r.readVarUInt()
        guard k >= 1, k <= 100_000 else { throw .invalid("k \(k) out of range", at: at) }
        let n = try r.readVarUInt()
        guard n >= 1, n <= UInt64(r.remaining / 4) else { throw .invalid("vector of \(n) components", at: at) }
        var vector: [Float] = []
        vector.reserveCapacity(Int(n))
        for _ in 0 ..< n { vector.append(try r.readFloat()) }
        let count = try r.readVarUInt()
        guard count <= UInt64(r.remaining / 16) else { throw .invalid("\(count) ranges", at: r.position) }
        var ranges: [TokenRange] = []
        for _ in 0 ..< count { ranges.append(TokenRange(start: Token(try r.readInt64()), end: Token(try r.readInt64()))) }
        let restrictions = r.isAtEnd ? [] : try IndexTermRestriction.readList(from: &r)
        try StorageCodec.requireEnd(r, "nearest-rows command")
        return NearestRowsCommand(keyspace: ks, table: t, tableId: id, index: index, vector: vector, k: Int(k), ranges: ranges,
                                  restrictions: restrictions)
    }
}

/// One row a replica's index found, with its graph distance (smaller is nearer).
public struct NearestRow: Hashable, Sendable {
    public var partitionKey: [UInt8]
    public var clustering: [[UInt8]]
    public var distance: Float

    public init(partitionKey: [UInt8], clustering: [[UInt8]], distance: Float) {
        self.partitionKey = partitionKey
        self.clustering = clustering
        self.distance = distance
    }

    public static func encode(_ rows: [NearestRow]) -> [UInt8] {
        var w = ByteWriter(capacity: 16 + rows.count * 32)
        w.writeUInt8(1)
        w.writeVarUInt(UInt64(rows.count))
        for row in rows {
            w.writeVarBytes(row.partitionKey)
            w.writeVarUInt(UInt64(row.clustering.count))
            for c in row.clustering { w.writeVarBytes(c) }
            w.writeFloat(row.distance)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> [NearestRow] {
        var r = ByteReader(bytes)
        let version = try r.readUInt8()
        guard version == 1 else { throw .invalid("nearest rows version \(version)", at: 0) }
        let n = try r.readVarUInt()
        guard n <= UInt64(r.remaining) else { throw .invalid("\(n) rows", at: r.position) }
        var rows: [NearestRow] = []
        for _ in 0 ..< n {
            let pk = try r.readVarBytes()
            let parts = try r.readVarUInt()
            guard parts <= UInt64(r.remaining) else { throw .invalid("\(parts) clustering values", at: r.position) }
            var clustering: [[UInt8]] = []
            for _ in 0 ..< parts { clustering.append(try r.readVarBytes()) }
            rows.append(NearestRow(partitionKey: pk, clustering: clustering, distance: try r.readFloat()))
        }
        guard r.isAtEnd else { throw .invalid("trailing bytes after nearest rows", at: r.position) }
        return rows
    }
}

/// A node's own vector indexes, as coordination asks them (the storage-attached index registry
/// implements it).
public protocol LocalVectorSearch: Sendable {
    /// This node's rows nearest to the command's vector within its ranges, nearest first.
    func nearestRows(_ command: NearestRowsCommand) throws -> [NearestRow]
}
