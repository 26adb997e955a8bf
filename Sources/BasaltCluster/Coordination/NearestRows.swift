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
    /// How many of its nearest rows each replica sends with the row's content (its own version,
    /// read at `nowSeconds`), so that the coordinator need not read them again; 0 for none.
    public var rowsWanted: Int
    public var nowSeconds: Int64

    public init(keyspace: String, table: String, tableId: UUIDValue, index: String, vector: [Float], k: Int, ranges: [TokenRange] = [],
                restrictions: [IndexTermRestriction] = [], rowsWanted: Int = 0, nowSeconds: Int64 = 0) {
        self.restrictions = restrictions
        self.rowsWanted = rowsWanted
        self.nowSeconds = nowSeconds
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
    /// any, or rows are wanted) the index restrictions, then (when rows are wanted) how many and
    /// the time to read them at.
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
        if !restrictions.isEmpty || rowsWanted > 0 { IndexTermRestriction.writeList(restrictions, to: &w) }
        if rowsWanted > 0 {
            w.writeVarUInt(UInt64(rowsWanted))
            w.writeVarInt(nowSeconds)
        }
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
        var rowsWanted: UInt64 = 0
        var now: Int64 = 0
        if !r.isAtEnd {
            let at = r.position
            rowsWanted = try r.readVarUInt()
            guard rowsWanted <= k else { throw .invalid("\(rowsWanted) rows wanted of \(k)", at: at) }
            now = try r.readVarInt()
        }
        try StorageCodec.requireEnd(r, "nearest-rows command")
        return NearestRowsCommand(keyspace: ks, table: t, tableId: id, index: index, vector: vector, k: Int(k), ranges: ranges,
                                  restrictions: restrictions, rowsWanted: Int(rowsWanted), nowSeconds: now)
    }
}

/// One row a replica's index found, with its graph distance (smaller is nearer).
public struct NearestRow: Hashable, Sendable {
    public var partitionKey: [UInt8]
    public var clustering: [[UInt8]]
    public var distance: Float
    /// The row's content (its partition read with the one row): in a replica's answer, the
    /// replica's own version when the command wanted it; in the coordinator's answer, the
    /// versions of every replica the consistency level needed for the row, reconciled, or nil
    /// when the row must still be read at that level.
    public var row: PartitionResult?

    public init(partitionKey: [UInt8], clustering: [[UInt8]], distance: Float, row: PartitionResult? = nil) {
        self.partitionKey = partitionKey
        self.clustering = clustering
        self.distance = distance
        self.row = row
    }

    public static func encode(_ rows: [NearestRow]) -> [UInt8] {
        var w = ByteWriter(capacity: 16 + rows.count * 32)
        w.writeUInt8(2)
        w.writeVarUInt(UInt64(rows.count))
        for row in rows {
            w.writeVarBytes(row.partitionKey)
            w.writeVarUInt(UInt64(row.clustering.count))
            for c in row.clustering { w.writeVarBytes(c) }
            w.writeFloat(row.distance)
            if let content = row.row {
                w.writeUInt8(1)
                content.encode(into: &w)
            } else {
                w.writeUInt8(0)
            }
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> [NearestRow] {
        var r = ByteReader(bytes)
        let version = try r.readUInt8()
        guard version == 2 else { throw .invalid("nearest rows version \(version)", at: 0) }
        let n = try r.readVarUInt()
        guard n <= UInt64(r.remaining) else { throw .invalid("\(n) rows", at: r.position) }
        var rows: [NearestRow] = []
        for _ in 0 ..< n {
            let pk = try r.readVarBytes()
            let parts = try r.readVarUInt()
            guard parts <= UInt64(r.remaining) else { throw .invalid("\(parts) clustering values", at: r.position) }
            var clustering: [[UInt8]] = []
            for _ in 0 ..< parts { clustering.append(try r.readVarBytes()) }
            let distance = try r.readFloat()
            let at = r.position
            var content: PartitionResult?
            switch try r.readUInt8() {
            case 0: content = nil
            case 1:
                content = try PartitionResult.decode(&r)
                guard content?.partitionKey == pk else { throw .invalid("a nearest row's content is another partition's", at: at) }
            case let flag: throw .invalid("nearest row content flag \(flag)", at: at)
            }
            rows.append(NearestRow(partitionKey: pk, clustering: clustering, distance: distance, row: content))
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

extension NearestRowsCommand {
    /// Bytes of row content one replica answer carries at most; rows past it go without, and
    /// the coordinator reads them.
    static let contentBudget = 4 << 20

    /// A replica's answer `rows` with the content of its first ``rowsWanted`` rows, each read
    /// from `engine` (the row and its partition's deletion and static row) as a point read at
    /// ``nowSeconds`` would return it.
    public func withContent(_ rows: [NearestRow], from engine: StorageEngine) throws -> [NearestRow] {
        guard rowsWanted > 0, !rows.isEmpty else { return rows }
        let schema = try engine.schema(of: tableId)
        var out = rows
        var bytes = 0
        for i in out.indices.prefix(rowsWanted) {
            let key = out[i]
            let read = ReadCommand(schema: schema, partitionKey: key.partitionKey,
                                   slices: key.clustering.isEmpty ? [.all] : [.equal(key.clustering)], nowSeconds: nowSeconds)
            let content = try engine.read(read)
            bytes += content.update.rows.reduce(64) { $0 + $1.cells.reduce(16) { $0 + $1.value.count + 16 } }
            if bytes > Self.contentBudget { break }
            out[i].row = content
        }
        return out
    }
}
