import BasaltCore

extension StorageCodec {
    static func writeColumns(_ c: ColumnSelection, _ w: inout ByteWriter) {
        guard let names = c.names else { w.writeUInt8(0); return }
        w.writeUInt8(1)
        w.writeVarUInt(UInt64(names.count))
        for n in names { w.writeVarString(n) }
    }

    static func readColumns(_ r: inout ByteReader) throws(DecodeError) -> ColumnSelection {
        let at = r.position
        switch try r.readUInt8() {
        case 0: return .all
        case 1:
            let n = try readCount(&r)
            var names: [String] = []
            for _ in 0 ..< n { names.append(try r.readVarString()) }
            return ColumnSelection(names)
        case let k: throw DecodeError.invalid("unknown column selection kind \(k)", at: at)
        }
    }

    /// `Int.max` (no limit) travels as -1.
    static func writeLimit(_ n: Int, _ w: inout ByteWriter) { w.writeVarInt(n == .max ? -1 : Int64(n)) }

    static func readLimit(_ r: inout ByteReader) throws(DecodeError) -> Int {
        let at = r.position
        let v = try r.readVarInt()
        if v == -1 { return .max }
        if v < 0 { throw DecodeError.invalid("negative limit \(v)", at: at) }
        return Int(v)
    }

    static func writePosition(_ p: ScanPosition?, _ w: inout ByteWriter) {
        guard let p else { w.writeUInt8(0); return }
        w.writeUInt8(p.clustering == nil ? 1 : 2)
        w.writeInt64(p.token.value)
        w.writeVarBytes(p.partitionKey)
        if let c = p.clustering { writeClustering(c, &w) }
    }

    static func readPosition(_ r: inout ByteReader) throws(DecodeError) -> ScanPosition? {
        let at = r.position
        let kind = try r.readUInt8()
        if kind == 0 { return nil }
        if kind > 2 { throw DecodeError.invalid("unknown scan position kind \(kind)", at: at) }
        let token = Token(try r.readInt64())
        let key = try r.readVarBytes()
        return ScanPosition(token: token, partitionKey: key, clustering: kind == 2 ? try readClustering(&r) : nil)
    }

    public static func requireEnd(_ r: ByteReader, _ what: String) throws(DecodeError) {
        if !r.isAtEnd { throw DecodeError.invalid("\(r.remaining) trailing bytes after \(what)", at: r.position) }
    }
}

extension ReadCommand {
    /// Versioned encoding: table reference, key, slices, columns, reversed, limit, now.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        w.writeUInt8(StorageCodec.version)
        StorageCodec.writeTableRef(keyspace: keyspace, table: table, id: tableId, &w)
        w.writeVarBytes(partitionKey)
        w.writeVarUInt(UInt64(slices.count))
        for s in slices {
            StorageCodec.writeBound(s.start, &w)
            StorageCodec.writeBound(s.end, &w)
        }
        StorageCodec.writeColumns(columns, &w)
        w.writeBool(reversed)
        StorageCodec.writeLimit(limit, &w)
        w.writeVarInt(nowSeconds)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ReadCommand {
        var r = ByteReader(bytes)
        try StorageCodec.checkVersion(&r)
        let (ks, t, id) = try StorageCodec.readTableRef(&r)
        let key = try r.readVarBytes()
        let n = try StorageCodec.readCount(&r)
        var slices: [ClusteringSlice] = []
        for _ in 0 ..< n {
            let s = try StorageCodec.readBound(&r)
            slices.append(ClusteringSlice(start: s, end: try StorageCodec.readBound(&r)))
        }
        let cols = try StorageCodec.readColumns(&r)
        let rev = try r.readBool()
        let limit = try StorageCodec.readLimit(&r)
        let now = try r.readVarInt()
        try StorageCodec.requireEnd(r, "read command")
        return ReadCommand(keyspace: ks, table: t, tableId: id, partitionKey: key, slices: slices, columns: cols, reversed: rev, limit: limit, nowSeconds: now)
    }
}

extension TokenScanCommand {
    /// Versioned encoding: table reference, range, start position, page size, columns, now.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        w.writeUInt8(StorageCodec.version)
        StorageCodec.writeTableRef(keyspace: keyspace, table: table, id: tableId, &w)
        w.writeInt64(range.start.value)
        w.writeInt64(range.end.value)
        StorageCodec.writePosition(after, &w)
        w.writeVarUInt(UInt64(pageSize))
        StorageCodec.writeColumns(columns, &w)
        w.writeVarInt(nowSeconds)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> TokenScanCommand {
        var r = ByteReader(bytes)
        try StorageCodec.checkVersion(&r)
        let (ks, t, id) = try StorageCodec.readTableRef(&r)
        let range = TokenRange(start: Token(try r.readInt64()), end: Token(try r.readInt64()))
        let after = try StorageCodec.readPosition(&r)
        let at = r.position
        let page = try r.readVarUInt()
        if page == 0 || page > UInt64(Int32.max) { throw DecodeError.invalid("page size \(page) out of range", at: at) }
        let cols = try StorageCodec.readColumns(&r)
        let now = try r.readVarInt()
        try StorageCodec.requireEnd(r, "scan command")
        return TokenScanCommand(keyspace: ks, table: t, tableId: id, range: range, after: after, pageSize: Int(page), columns: cols, nowSeconds: now)
    }
}

extension PartitionResult {
    public func encode(into w: inout ByteWriter) {
        w.writeVarBytes(partitionKey)
        w.writeInt64(token.value)
        StorageCodec.writePartition(update, &w)
    }

    public static func decode(_ r: inout ByteReader) throws(DecodeError) -> PartitionResult {
        let key = try r.readVarBytes()
        let token = Token(try r.readInt64())
        return PartitionResult(partitionKey: key, token: token, update: try StorageCodec.readPartition(&r))
    }

    /// Versioned encoding: key, token, partition body.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.writeUInt8(StorageCodec.version)
        encode(into: &w)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> PartitionResult {
        var r = ByteReader(bytes)
        try StorageCodec.checkVersion(&r)
        let p = try decode(&r)
        try StorageCodec.requireEnd(r, "partition result")
        return p
    }

    /// A stable 128-bit digest of the response: Murmur3 x64_128 (seed 0) over the versioned encoding
    /// of the canonical (normalized) result. Two replicas holding the same data give the same digest.
    public func digest(_ cmp: ClusteringComparator) -> ResultDigest {
        let canonical = PartitionResult(partitionKey: partitionKey, token: token, update: update.normalized(cmp))
        return canonical.encoded().withUnsafeBytes { ResultDigest(Murmur3.hash128($0)) }
    }
}

/// A 128-bit digest of a read response (see ``PartitionResult/digest(_:)``).
public struct ResultDigest: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(_ h: (UInt64, UInt64)) {
        high = h.0
        low = h.1
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.writeUInt64(high)
        w.writeUInt64(low)
        return w.bytes
    }

    public var description: String { bytes.hexString }
}

extension ScanResult {
    /// Versioned encoding: partition count, partitions, continuation position.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        w.writeUInt8(StorageCodec.version)
        w.writeVarUInt(UInt64(partitions.count))
        for p in partitions { p.encode(into: &w) }
        StorageCodec.writePosition(next, &w)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ScanResult {
        var r = ByteReader(bytes)
        try StorageCodec.checkVersion(&r)
        let n = try StorageCodec.readCount(&r)
        var parts: [PartitionResult] = []
        for _ in 0 ..< n { parts.append(try PartitionResult.decode(&r)) }
        let next = try StorageCodec.readPosition(&r)
        try StorageCodec.requireEnd(r, "scan result")
        return ScanResult(partitions: parts, next: next)
    }
}
