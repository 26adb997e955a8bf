import BasaltCore

/// One schema change as nodes exchange it: the resolved change, the moment it was decided (µs,
/// the deciding node's timestamp generator) and the deciding node's host id.
public struct SchemaLogEntry: Hashable, Sendable {
    public var timestamp: Int64
    public var origin: UUIDValue
    public var change: SchemaChange

    public init(timestamp: Int64, origin: UUIDValue, change: SchemaChange) {
        self.timestamp = timestamp
        self.origin = origin
        self.change = change
    }

    /// The total order every node replays changes in: timestamp, then origin, then the change's
    /// encoding (so two identical entries collapse and no two differ without an order).
    static func precedes(_ a: SchemaLogEntry, _ b: SchemaLogEntry) -> Bool {
        if a.timestamp != b.timestamp { return a.timestamp < b.timestamp }
        if a.origin != b.origin { return (a.origin.msb, a.origin.lsb) < (b.origin.msb, b.origin.lsb) }
        return SchemaCodec.encode(a.change).lexicographicallyPrecedes(SchemaCodec.encode(b.change))
    }
}

/// The schema as the replay of every DDL ever accepted anywhere in the cluster, in one total order.
///
/// Convergence: two nodes holding the same set of entries hold the same schema, whatever order
/// they learned them in, because the schema is a pure function of the set: entries sorted by
/// ``SchemaLogEntry/precedes(_:_:)`` and applied one by one with ``Schema/applying(_:)``; an entry
/// that no longer applies (e.g. a second `CREATE TABLE t` decided concurrently on another node,
/// which lost the order) is skipped. Merging two logs is set union. Concurrent DDL on different
/// nodes therefore converges to the same content and so to the same ``Schema/version``.
public struct SchemaLog: Hashable, Sendable {
    public private(set) var entries: [SchemaLogEntry] = []
    public private(set) var schema: Schema = .empty

    public init() {}

    public init(entries: [SchemaLogEntry]) {
        _ = merge(entries)
    }

    /// Adds entries not yet present; returns whether anything changed. Appending a newest entry
    /// applies it alone; an entry that sorts before others replays the whole log.
    @discardableResult
    public mutating func merge(_ incoming: [SchemaLogEntry]) -> Bool {
        let known = Set(entries)
        let fresh = Set(incoming).subtracting(known).sorted(by: SchemaLogEntry.precedes)
        guard !fresh.isEmpty else { return false }
        if let last = entries.last, let first = fresh.first, !SchemaLogEntry.precedes(last, first) {
            entries = (entries + fresh).sorted(by: SchemaLogEntry.precedes)
            schema = Self.replay(entries)
        } else {
            entries += fresh
            for e in fresh { if let next = try? schema.applying(e.change).0 { schema = next } }
        }
        return true
    }

    static func replay(_ entries: [SchemaLogEntry]) -> Schema {
        var s = Schema.empty
        for e in entries { if let next = try? s.applying(e.change).0 { s = next } }
        return s
    }

    // MARK: - Encoding

    /// `01 varuint n, n × (varint timestamp, u64 msb, u64 lsb, varbytes change)`.
    public static func encode(_ entries: [SchemaLogEntry]) -> [UInt8] {
        var w = ByteWriter(capacity: 64 + entries.count * 64)
        w.writeUInt8(1)
        w.writeVarUInt(UInt64(entries.count))
        for e in entries {
            w.writeVarInt(e.timestamp)
            w.writeUInt64(e.origin.msb)
            w.writeUInt64(e.origin.lsb)
            w.writeVarBytes(SchemaCodec.encode(e.change))
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> [SchemaLogEntry] {
        var r = ByteReader(bytes)
        let v = try r.readUInt8()
        guard v == 1 else { throw DecodeError.invalid("unknown schema log version \(v)", at: 0) }
        let n = try r.readVarLength()
        var out = [SchemaLogEntry]()
        out.reserveCapacity(min(n, r.remaining / 20))
        for _ in 0 ..< n {
            let ts = try r.readVarInt()
            let uuid = UUIDValue(msb: try r.readUInt64(), lsb: try r.readUInt64())
            let change = try SchemaCodec.decodeChange(try r.readVarBytes())
            out.append(SchemaLogEntry(timestamp: ts, origin: uuid, change: change))
        }
        guard r.remaining == 0 else { throw DecodeError.invalid("\(r.remaining) trailing bytes after the schema log", at: r.position) }
        return out
    }
}
