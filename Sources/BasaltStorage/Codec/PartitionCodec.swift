import BasaltCore

/// The binary encoding of partition contents, shared by the commit log, memtables, SSTable data
/// files and internode messages. Hand-written and versioned (see docs/storage.md, "Encodings"):
/// every top-level message starts with ``StorageCodec/version``; decoding never traps and throws
/// ``DecodeError`` on malformed input.
public enum StorageCodec {
    /// Version byte of every top-level encoding.
    public static let version: UInt8 = 1

    public static func checkVersion(_ r: inout ByteReader) throws(DecodeError) {
        let at = r.position
        let v = try r.readUInt8()
        if v != version { throw DecodeError.invalid("unsupported storage encoding version \(v)", at: at) }
    }

    /// A count that cannot exceed the bytes left, each element taking at least one byte.
    @inlinable
    static func readCount(_ r: inout ByteReader) throws(DecodeError) -> Int {
        let at = r.position
        let n = try r.readVarUInt()
        if n > UInt64(r.remaining) { throw DecodeError.invalid("count \(n) exceeds the \(r.remaining) bytes left", at: at) }
        return Int(n)
    }

    // MARK: deletions and bounds

    @inlinable
    static func writeDeletion(_ d: DeletionTime, _ w: inout ByteWriter) {
        w.writeVarInt(d.markedForDeleteAt)
        w.writeVarInt(d.localDeletionTime)
    }

    @inlinable
    static func readDeletion(_ r: inout ByteReader) throws(DecodeError) -> DeletionTime {
        DeletionTime(markedForDeleteAt: try r.readVarInt(), localDeletionTime: try r.readVarInt())
    }

    static func writeClustering(_ c: [[UInt8]], _ w: inout ByteWriter) {
        w.writeVarUInt(UInt64(c.count))
        for comp in c { w.writeVarBytes(comp) }
    }

    static func readClustering(_ r: inout ByteReader) throws(DecodeError) -> [[UInt8]] {
        let n = try readCount(&r)
        if n == 0 { return [] }
        var out: [[UInt8]] = []
        out.reserveCapacity(n)
        for _ in 0 ..< n { out.append(try r.readVarBytes()) }
        return out
    }

    static func writeBound(_ b: ClusteringBound, _ w: inout ByteWriter) {
        w.writeBool(b.isInclusive)
        writeClustering(b.prefix, &w)
    }

    static func readBound(_ r: inout ByteReader) throws(DecodeError) -> ClusteringBound {
        let incl = try r.readBool()
        return ClusteringBound(try readClustering(&r), inclusive: incl)
    }

    // MARK: cells and rows

    @usableFromInline static let cellHasPath: UInt8 = 1
    @usableFromInline static let cellHasTTL: UInt8 = 2
    @usableFromInline static let cellHasLocalTime: UInt8 = 4

    @inlinable
    static func writeCell(_ c: Cell, _ w: inout ByteWriter) {
        w.writeVarString(c.column)
        var flags: UInt8 = 0
        if c.path != nil { flags |= cellHasPath }
        if c.ttl != 0 { flags |= cellHasTTL }
        if c.localDeletionTime != Cell.noExpiration { flags |= cellHasLocalTime }
        w.writeUInt8(flags)
        if let p = c.path { w.writeVarBytes(p) }
        w.writeVarInt(c.timestamp)
        if c.ttl != 0 { w.writeVarUInt(UInt64(UInt32(bitPattern: c.ttl))) }
        if c.localDeletionTime != Cell.noExpiration { w.writeVarInt(c.localDeletionTime) }
        if !c.isTombstone { w.writeVarBytes(c.value) }
    }

    static func readCell(_ r: inout ByteReader) throws(DecodeError) -> Cell {
        let column = try r.readVarString()
        let at = r.position
        let flags = try r.readUInt8()
        if flags & ~7 != 0 { throw DecodeError.invalid("unknown cell flags \(flags)", at: at) }
        let path: [UInt8]? = flags & cellHasPath != 0 ? try r.readVarBytes() : nil
        let ts = try r.readVarInt()
        var ttl: Int32 = 0
        if flags & cellHasTTL != 0 {
            let t = try r.readVarUInt()
            guard t > 0, t <= UInt64(Int32.max) else { throw DecodeError.invalid("cell TTL \(t) out of range", at: at) }
            ttl = Int32(t)
        }
        var ldt = Cell.noExpiration
        if flags & cellHasLocalTime != 0 {
            ldt = try r.readVarInt()
            if ldt == Cell.noExpiration { throw DecodeError.invalid("cell local time is the no-expiration marker", at: at) }
        } else if ttl != 0 {
            throw DecodeError.invalid("expiring cell without expiry time", at: at)
        }
        let tombstone = ttl == 0 && ldt != Cell.noExpiration
        let value: [UInt8] = tombstone ? [] : try r.readVarBytes()
        return Cell(column: column, path: path, timestamp: ts, ttl: ttl, localDeletionTime: ldt, value: value)
    }

    static func writeRow(_ row: Row, _ w: inout ByteWriter) {
        writeClustering(row.clustering, &w)
        var flags: UInt8 = 0
        if row.liveness != nil { flags |= 1 }
        if let l = row.liveness, l.ttl != 0 { flags |= 2 }
        if row.deletion != nil { flags |= 4 }
        if !row.complexDeletions.isEmpty { flags |= 8 }
        w.writeUInt8(flags)
        if let l = row.liveness {
            w.writeVarInt(l.timestamp)
            if l.ttl != 0 {
                w.writeVarUInt(UInt64(UInt32(bitPattern: l.ttl)))
                w.writeVarInt(l.localExpirationTime)
            }
        }
        if let d = row.deletion { writeDeletion(d, &w) }
        if !row.complexDeletions.isEmpty {
            w.writeVarUInt(UInt64(row.complexDeletions.count))
            for cd in row.complexDeletions {
                w.writeVarString(cd.column)
                writeDeletion(cd.deletion, &w)
            }
        }
        w.writeVarUInt(UInt64(row.cells.count))
        for c in row.cells { writeCell(c, &w) }
    }

    static func readRow(_ r: inout ByteReader) throws(DecodeError) -> Row {
        try readRowBody(&r, clustering: try readClustering(&r))
    }

    /// The rest of a row whose clustering was just read.
    static func readRowBody(_ r: inout ByteReader, clustering: [[UInt8]]) throws(DecodeError) -> Row {
        var row = Row(clustering: clustering)
        let at = r.position
        let flags = try r.readUInt8()
        if flags & ~15 != 0 || (flags & 2 != 0 && flags & 1 == 0) { throw DecodeError.invalid("unknown row flags \(flags)", at: at) }
        if flags & 1 != 0 {
            let ts = try r.readVarInt()
            if flags & 2 != 0 {
                let t = try r.readVarUInt()
                guard t > 0, t <= UInt64(Int32.max) else { throw DecodeError.invalid("row TTL \(t) out of range", at: at) }
                row.liveness = LivenessInfo(timestamp: ts, ttl: Int32(t), localExpirationTime: try r.readVarInt())
            } else {
                row.liveness = LivenessInfo(timestamp: ts)
            }
        }
        if flags & 4 != 0 { row.deletion = try readDeletion(&r) }
        if flags & 8 != 0 {
            let n = try readCount(&r)
            row.complexDeletions.reserveCapacity(n)
            for _ in 0 ..< n {
                row.complexDeletions.append(ComplexDeletion(column: try r.readVarString(), deletion: try readDeletion(&r)))
            }
        }
        let n = try readCount(&r)
        row.cells.reserveCapacity(n)
        for _ in 0 ..< n { row.cells.append(try readCell(&r)) }
        return row
    }

    // MARK: partitions

    /// Steps over the rest of a row whose clustering was just read, checking its shape as
    /// ``readRowBody(_:clustering:)`` does but building nothing.
    static func skipRowBody(_ r: inout ByteReader) throws(DecodeError) {
        let at = r.position
        let flags = try r.readUInt8()
        if flags & ~15 != 0 || (flags & 2 != 0 && flags & 1 == 0) { throw DecodeError.invalid("unknown row flags \(flags)", at: at) }
        if flags & 1 != 0 {
            _ = try r.readVarInt()
            if flags & 2 != 0 {
                _ = try r.readVarUInt()
                _ = try r.readVarInt()
            }
        }
        if flags & 4 != 0 { _ = try readDeletion(&r) }
        if flags & 8 != 0 {
            for _ in 0 ..< (try readCount(&r)) {
                try r.skip(try r.readVarLength())
                _ = try readDeletion(&r)
            }
        }
        for _ in 0 ..< (try readCount(&r)) { try skipCell(&r) }
    }

    /// Steps over a cell, checking its flags as ``readCell(_:)`` does but building nothing.
    static func skipCell(_ r: inout ByteReader) throws(DecodeError) {
        try r.skip(try r.readVarLength())
        let at = r.position
        let flags = try r.readUInt8()
        if flags & ~7 != 0 { throw DecodeError.invalid("unknown cell flags \(flags)", at: at) }
        if flags & cellHasPath != 0 { try r.skip(try r.readVarLength()) }
        _ = try r.readVarInt()
        if flags & cellHasTTL != 0 { _ = try r.readVarUInt() }
        if flags & cellHasLocalTime != 0 { _ = try r.readVarInt() }
        // A tombstone (a local time without a TTL) has no value.
        if flags & (cellHasTTL | cellHasLocalTime) != cellHasLocalTime { try r.skip(try r.readVarLength()) }
    }

    /// The partition body: deletion, range tombstones, static row, rows.
    public static func writePartition(_ p: PartitionUpdate, _ w: inout ByteWriter) {
        var flags: UInt8 = 0
        if p.partitionDeletion != nil { flags |= 1 }
        if p.staticRow != nil { flags |= 2 }
        if !p.rangeTombstones.isEmpty { flags |= 4 }
        w.writeUInt8(flags)
        if let d = p.partitionDeletion { writeDeletion(d, &w) }
        if !p.rangeTombstones.isEmpty {
            w.writeVarUInt(UInt64(p.rangeTombstones.count))
            for rt in p.rangeTombstones {
                writeBound(rt.start, &w)
                writeBound(rt.end, &w)
                writeDeletion(rt.deletion, &w)
            }
        }
        if let s = p.staticRow { writeRow(s, &w) }
        w.writeVarUInt(UInt64(p.rows.count))
        for row in p.rows { writeRow(row, &w) }
    }

    public static func readPartition(_ r: inout ByteReader) throws(DecodeError) -> PartitionUpdate {
        var (p, n) = try readPartitionHeader(&r)
        p.rows.reserveCapacity(n)
        for _ in 0 ..< n { p.rows.append(try readRow(&r)) }
        return p
    }

    /// A partition's header (deletion, range tombstones, static row) and only the first `rowLimit`
    /// of its rows that lie in the forward `slice`: rows before the slice are stepped over without
    /// being built, and decoding stops at the slice's end or the limit.
    static func readPartition(_ r: inout ByteReader, slice: ClusteringSlice, rowLimit: Int,
                              _ cmp: ClusteringComparator) throws(DecodeError) -> PartitionUpdate {
        var (p, n) = try readPartitionHeader(&r)
        for _ in 0 ..< n {
            if p.rows.count >= rowLimit { break }
            let c = try readClustering(&r)
            if !cmp.isAfter(c, start: slice.start) {
                try skipRowBody(&r)
                continue
            }
            if !cmp.isBefore(c, end: slice.end) { break }
            p.rows.append(try readRowBody(&r, clustering: c))
        }
        return p
    }

    /// Everything of a partition's encoding before its rows, and the number of rows that follow.
    static func readPartitionHeader(_ r: inout ByteReader) throws(DecodeError) -> (PartitionUpdate, Int) {
        let at = r.position
        let flags = try r.readUInt8()
        if flags & ~7 != 0 { throw DecodeError.invalid("unknown partition flags \(flags)", at: at) }
        var p = PartitionUpdate()
        if flags & 1 != 0 { p.partitionDeletion = try readDeletion(&r) }
        if flags & 4 != 0 {
            let n = try readCount(&r)
            p.rangeTombstones.reserveCapacity(n)
            for _ in 0 ..< n {
                let s = try readBound(&r)
                let e = try readBound(&r)
                p.rangeTombstones.append(RangeTombstone(start: s, end: e, deletion: try readDeletion(&r)))
            }
        }
        if flags & 2 != 0 { p.staticRow = try readRow(&r) }
        return (p, try readCount(&r))
    }

    public static func writeTableRef(keyspace: String, table: String, id: UUIDValue, _ w: inout ByteWriter) {
        w.writeVarString(keyspace)
        w.writeVarString(table)
        w.writeUInt64(id.msb)
        w.writeUInt64(id.lsb)
    }

    public static func readTableRef(_ r: inout ByteReader) throws(DecodeError) -> (String, String, UUIDValue) {
        let ks = try r.readVarString()
        let t = try r.readVarString()
        let id = UUIDValue(msb: try r.readUInt64(), lsb: try r.readUInt64())
        return (ks, t, id)
    }
}

extension Mutation {
    /// Appends the versioned encoding: version, keyspace, table, table id, key, partition body.
    public func encode(into w: inout ByteWriter) {
        w.writeUInt8(StorageCodec.version)
        StorageCodec.writeTableRef(keyspace: keyspace, table: table, id: tableId, &w)
        w.writeVarBytes(partitionKey)
        StorageCodec.writePartition(update, &w)
    }

    public func encoded() -> [UInt8] {
        // Room for a typical row with its table reference, without growing.
        var w = ByteWriter(capacity: 256)
        encode(into: &w)
        return w.bytes
    }

    public static func decode(_ r: inout ByteReader) throws(DecodeError) -> Mutation {
        try StorageCodec.checkVersion(&r)
        let (ks, t, id) = try StorageCodec.readTableRef(&r)
        let key = try r.readVarBytes()
        return Mutation(keyspace: ks, table: t, tableId: id, partitionKey: key, update: try StorageCodec.readPartition(&r))
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Mutation {
        var r = ByteReader(bytes)
        let m = try decode(&r)
        if !r.isAtEnd { throw DecodeError.invalid("\(r.remaining) trailing bytes after mutation", at: r.position) }
        return m
    }
}
