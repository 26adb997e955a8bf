import BasaltCore
import BasaltStorage

/// One restriction a storage-attached (non-vector) index answers, as replicas receive it: the
/// index's name and a predicate on serialized values of the indexed term's CQL type (the
/// column's type for `equals` and `range`, a collection's element or key type for `contains`
/// and `containsKey`, the map's key and value types for `entry`).
public struct IndexTermRestriction: Hashable, Sendable {
    public enum Predicate: Hashable, Sendable {
        case equals([UInt8])
        /// Either side may be open; each bound says whether it is included.
        case range(lower: [UInt8]?, lowerInclusive: Bool, upper: [UInt8]?, upperInclusive: Bool)
        case contains([UInt8])
        case containsKey([UInt8])
        case entry(key: [UInt8], value: [UInt8])
    }

    public var index: String
    public var predicate: Predicate

    public init(index: String, predicate: Predicate) {
        self.index = index
        self.predicate = predicate
    }

    func write(to w: inout ByteWriter) {
        w.writeVarBytes(Array(index.utf8))
        switch predicate {
        case let .equals(v): w.writeUInt8(0); w.writeVarBytes(v)
        case let .range(lo, loInc, hi, hiInc):
            w.writeUInt8(1)
            w.writeUInt8((lo == nil ? 0 : 1) | (loInc ? 2 : 0) | (hi == nil ? 0 : 4) | (hiInc ? 8 : 0))
            if let lo { w.writeVarBytes(lo) }
            if let hi { w.writeVarBytes(hi) }
        case let .contains(v): w.writeUInt8(2); w.writeVarBytes(v)
        case let .containsKey(v): w.writeUInt8(3); w.writeVarBytes(v)
        case let .entry(k, v): w.writeUInt8(4); w.writeVarBytes(k); w.writeVarBytes(v)
        }
    }

    static func read(from r: inout ByteReader) throws(DecodeError) -> IndexTermRestriction {
        let index = String(decoding: try r.readVarBytes(), as: UTF8.self)
        let at = r.position
        let p: Predicate
        switch try r.readUInt8() {
        case 0: p = .equals(try r.readVarBytes())
        case 1:
            let flags = try r.readUInt8()
            guard flags & 0xF0 == 0 else { throw .invalid("range flags \(flags)", at: at + 1) }
            let lo = flags & 1 != 0 ? try r.readVarBytes() : nil
            let hi = flags & 4 != 0 ? try r.readVarBytes() : nil
            p = .range(lower: lo, lowerInclusive: flags & 2 != 0, upper: hi, upperInclusive: flags & 8 != 0)
        case 2: p = .contains(try r.readVarBytes())
        case 3: p = .containsKey(try r.readVarBytes())
        case 4: p = .entry(key: try r.readVarBytes(), value: try r.readVarBytes())
        case let k: throw .invalid("unknown index predicate \(k)", at: at)
        }
        return IndexTermRestriction(index: index, predicate: p)
    }

    static func writeList(_ list: [IndexTermRestriction], to w: inout ByteWriter) {
        w.writeVarUInt(UInt64(list.count))
        for x in list { x.write(to: &w) }
    }

    static func readList(from r: inout ByteReader) throws(DecodeError) -> [IndexTermRestriction] {
        let n = try r.readVarUInt()
        guard n <= 64, n <= UInt64(r.remaining) else { throw .invalid("\(n) index restrictions", at: r.position) }
        var out: [IndexTermRestriction] = []
        for _ in 0 ..< n { out.append(try read(from: &r)) }
        return out
    }
}

/// A request for the keys of the rows that match every one of a query's index restrictions
/// (verb `index.rows`), answered by each replica from its own term indexes for the token ranges
/// it is asked about, a page at a time: keys in ring order (token, partition key, then
/// clustering order; a whole-partition key — from a partition-key component or static column
/// index — before that partition's rows), strictly after `after`, at most `limit` of them.
public struct IndexedRowsCommand: Hashable, Sendable {
    public var keyspace: String
    public var table: String
    public var tableId: UUIDValue
    public var restrictions: [IndexTermRestriction]
    /// The ranges the answering replica covers (empty: all of its data).
    public var ranges: [TokenRange]
    /// Where the previous page stopped; nil from the start. A position's clustering nil means
    /// after the whole partition, `[]` after its whole-partition key, else after that row.
    public var after: ScanPosition?
    public var limit: Int
    /// Wall-clock seconds, for the replica's check of candidate rows against its data.
    public var nowSeconds: Int64

    public static let maxLimit = 100_000

    public init(keyspace: String, table: String, tableId: UUIDValue, restrictions: [IndexTermRestriction], ranges: [TokenRange] = [],
                after: ScanPosition? = nil, limit: Int, nowSeconds: Int64) {
        self.keyspace = keyspace
        self.table = table
        self.tableId = tableId
        self.restrictions = restrictions
        self.ranges = ranges
        self.after = after
        self.limit = limit
        self.nowSeconds = nowSeconds
    }

    /// Versioned encoding: table reference, restrictions, ranges, start position, limit, time.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 96 + ranges.count * 16)
        w.writeUInt8(StorageCodec.version)
        StorageCodec.writeTableRef(keyspace: keyspace, table: table, id: tableId, &w)
        IndexTermRestriction.writeList(restrictions, to: &w)
        w.writeVarUInt(UInt64(ranges.count))
        for r in ranges {
            w.writeInt64(r.start.value)
            w.writeInt64(r.end.value)
        }
        IndexedRowsPage.writePosition(after, to: &w)
        w.writeVarUInt(UInt64(limit))
        w.writeInt64(nowSeconds)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> IndexedRowsCommand {
        var r = ByteReader(bytes)
        try StorageCodec.checkVersion(&r)
        let (ks, t, id) = try StorageCodec.readTableRef(&r)
        let restrictions = try IndexTermRestriction.readList(from: &r)
        guard !restrictions.isEmpty else { throw .invalid("no index restrictions", at: r.position) }
        let count = try r.readVarUInt()
        guard count <= UInt64(r.remaining / 16) else { throw .invalid("\(count) ranges", at: r.position) }
        var ranges: [TokenRange] = []
        for _ in 0 ..< count { ranges.append(TokenRange(start: Token(try r.readInt64()), end: Token(try r.readInt64()))) }
        let after = try IndexedRowsPage.readPosition(from: &r)
        let at = r.position
        let limit = try r.readVarUInt()
        guard limit >= 1, limit <= UInt64(maxLimit) else { throw .invalid("limit \(limit) out of range", at: at) }
        let now = try r.readInt64()
        try StorageCodec.requireEnd(r, "index rows command")
        return IndexedRowsCommand(keyspace: ks, table: t, tableId: id, restrictions: restrictions, ranges: ranges, after: after,
                                  limit: Int(limit), nowSeconds: now)
    }
}

/// A replica's answer to ``IndexedRowsCommand``: matching keys in ring order, and where it
/// stopped looking (nil when its ranges hold nothing more). Keys up to `next` that are not
/// listed do not match on this replica.
public struct IndexedRowsPage: Hashable, Sendable {
    public var keys: [RowKey]
    public var next: ScanPosition?

    public init(keys: [RowKey], next: ScanPosition?) {
        self.keys = keys
        self.next = next
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 16 + keys.count * 24)
        w.writeUInt8(1)
        w.writeVarUInt(UInt64(keys.count))
        for k in keys {
            w.writeVarBytes(k.partitionKey)
            w.writeVarUInt(UInt64(k.clustering.count))
            for c in k.clustering { w.writeVarBytes(c) }
        }
        Self.writePosition(next, to: &w)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> IndexedRowsPage {
        var r = ByteReader(bytes)
        let version = try r.readUInt8()
        guard version == 1 else { throw .invalid("index rows page version \(version)", at: 0) }
        let n = try r.readVarUInt()
        guard n <= UInt64(r.remaining) else { throw .invalid("\(n) keys", at: r.position) }
        var keys: [RowKey] = []
        for _ in 0 ..< n {
            let pk = try r.readVarBytes()
            keys.append(RowKey(partitionKey: pk, clustering: try readClustering(from: &r)))
        }
        let next = try readPosition(from: &r)
        guard r.isAtEnd else { throw .invalid("trailing bytes after index rows page", at: r.position) }
        return IndexedRowsPage(keys: keys, next: next)
    }

    static func readClustering(from r: inout ByteReader) throws(DecodeError) -> [[UInt8]] {
        let parts = try r.readVarUInt()
        guard parts <= UInt64(r.remaining), parts <= 1 << 16 else { throw .invalid("\(parts) clustering values", at: r.position) }
        var out: [[UInt8]] = []
        for _ in 0 ..< parts { out.append(try r.readVarBytes()) }
        return out
    }

    /// `00` none; `01` token, key, `00` (whole partition) or `01` + clustering.
    static func writePosition(_ p: ScanPosition?, to w: inout ByteWriter) {
        guard let p else { return w.writeUInt8(0) }
        w.writeUInt8(1)
        w.writeInt64(p.token.value)
        w.writeVarBytes(p.partitionKey)
        if let c = p.clustering {
            w.writeUInt8(1)
            w.writeVarUInt(UInt64(c.count))
            for x in c { w.writeVarBytes(x) }
        } else {
            w.writeUInt8(0)
        }
    }

    static func readPosition(from r: inout ByteReader) throws(DecodeError) -> ScanPosition? {
        let at = r.position
        switch try r.readUInt8() {
        case 0: return nil
        case 1:
            let token = Token(try r.readInt64())
            let key = try r.readVarBytes()
            let flagAt = r.position
            switch try r.readUInt8() {
            case 0: return ScanPosition(token: token, partitionKey: key)
            case 1: return ScanPosition(token: token, partitionKey: key, clustering: try readClustering(from: &r))
            case let f: throw .invalid("position flag \(f)", at: flagAt)
            }
        case let f: throw .invalid("position marker \(f)", at: at)
        }
    }
}

/// A node's own term indexes, as coordination asks them (the storage-attached index registry
/// implements it).
public protocol LocalIndexQuery: Sendable {
    /// This node's rows matching every restriction of the command within its ranges, a page.
    func indexedRows(_ command: IndexedRowsCommand) throws -> IndexedRowsPage
}

/// Orders index positions and keys the way replicas return them: token, partition key bytes,
/// then clustering by the table's order (a whole-partition key first, a position without
/// clustering last in its partition).
public struct IndexKeyOrder: Sendable {
    public let table: TableSchema

    public init(table: TableSchema) { self.table = table }

    /// Negative when `a` comes before `b`.
    public func compare(_ a: ScanPosition, _ b: ScanPosition) -> Int {
        if a.token != b.token { return a.token < b.token ? -1 : 1 }
        let k = a.partitionKey.lexicographicallyPrecedes(b.partitionKey) ? -1 : (a.partitionKey == b.partitionKey ? 0 : 1)
        if k != 0 { return k }
        switch (a.clustering, b.clustering) {
        case (nil, nil): return 0
        case (nil, _): return 1
        case (_, nil): return -1
        case let (x?, y?): return table.compareClustering(x, y)
        }
    }

    public func position(_ key: RowKey) -> ScanPosition {
        ScanPosition(token: Murmur3.token(key.partitionKey), partitionKey: key.partitionKey, clustering: key.clustering)
    }
}
