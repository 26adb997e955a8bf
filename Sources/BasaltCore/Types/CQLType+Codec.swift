/// A value that does not fit the type it is written as.
public struct CQLTypeMismatch: Error, Equatable, Sendable, CustomStringConvertible {
    public var type: CQLType
    public var value: String
    public var description: String { "value \(value) is not of type \(type.cqlName)" }
}

extension CQLType {
    /// Serializes `value` in the native-protocol v4 value format (spec §6), the same bytes the
    /// storage engine keeps. Sets and maps are written in element order without duplicates.
    public func encode(_ value: CQLValue) throws(CQLTypeMismatch) -> [UInt8] {
        var w = ByteWriter(capacity: fixedSize ?? 32)
        try encode(value, into: &w)
        return w.bytes
    }

    public func encode(_ value: CQLValue, into w: inout ByteWriter) throws(CQLTypeMismatch) {
        switch (unfrozen, value) {
        case let (.ascii, .ascii(s)), let (.ascii, .text(s)):
            guard s.utf8.allSatisfy({ $0 < 0x80 }) else { throw mismatch(value) }
            w.writeBytes(s.utf8)
        case let (.text, .text(s)), let (.text, .ascii(s)): w.writeBytes(s.utf8)
        case let (.blob, .blob(b)): w.writeBytes(b)
        case let (.boolean, .boolean(b)): w.writeBool(b)
        case let (.tinyint, .tinyint(v)): w.writeInt8(v)
        case let (.smallint, .smallint(v)): w.writeInt16(v)
        case let (.int, .int(v)): w.writeInt32(v)
        case let (.bigint, .bigint(v)): w.writeInt64(v)
        case let (.float, .float(v)): w.writeFloat(v)
        case let (.double, .double(v)): w.writeDouble(v)
        case let (.timestamp, .timestamp(v)): w.writeInt64(v)
        case let (.date, .date(v)): w.writeUInt32(v)
        case let (.time, .time(v)):
            guard v >= 0 && v < 86_400_000_000_000 else { throw mismatch(value) }
            w.writeInt64(v)
        case let (.uuid, .uuid(u)), let (.uuid, .timeuuid(u)):
            w.writeUInt64(u.msb); w.writeUInt64(u.lsb)
        case let (.timeuuid, .timeuuid(u)), let (.timeuuid, .uuid(u)):
            guard u.version == 1 else { throw mismatch(value) }
            w.writeUInt64(u.msb); w.writeUInt64(u.lsb)
        case let (.inet, .inet(b)):
            guard b.count == 4 || b.count == 16 else { throw mismatch(value) }
            w.writeBytes(b)
        case let (.list(e), .list(vs)):
            try Self.writeElements(vs, of: e, into: &w)
        case let (.set(e), .set(vs)), let (.set(e), .list(vs)):
            try Self.writeElements(try e.sortedUnique(vs), of: e, into: &w)
        case let (.map(kt, vt), .map(es)):
            let sorted = try kt.sortedUnique(es)
            w.writeInt32(Int32(sorted.count))
            for entry in sorted {
                try Self.writeElement(entry.key, of: kt, into: &w)
                try Self.writeElement(entry.value, of: vt, into: &w)
            }
        case let (.tuple(ts), .tuple(vs)):
            guard vs.count <= ts.count else { throw mismatch(value) }
            for (i, t) in ts.enumerated() {
                if i < vs.count, let v = vs[i] {
                    try Self.writeElement(v, of: t, into: &w)
                } else {
                    w.writeInt32(-1)
                }
            }
        case let (.vector(_, n), .vector(fs)):
            guard fs.count == n else { throw mismatch(value) }
            for f in fs { w.writeFloat(f) }
        case let (.vector(_, n), .list(vs)):
            guard vs.count == n else { throw mismatch(value) }
            for v in vs {
                switch v {
                case let .float(f): w.writeFloat(f)
                case let .double(d): w.writeFloat(Float(d))
                default: throw mismatch(value)
                }
            }
        default:
            throw mismatch(value)
        }
    }

    func mismatch(_ v: CQLValue) -> CQLTypeMismatch { CQLTypeMismatch(type: self, value: v.cqlLiteral) }

    static func writeElement(_ v: CQLValue, of t: CQLType, into w: inout ByteWriter) throws(CQLTypeMismatch) {
        let lengthAt = w.count
        w.writeInt32(0)
        try t.encode(v, into: &w)
        w.setUInt32(UInt32(w.count - lengthAt - 4), at: lengthAt)
    }

    static func writeElements(_ vs: [CQLValue], of t: CQLType, into w: inout ByteWriter) throws(CQLTypeMismatch) {
        w.writeInt32(Int32(vs.count))
        for v in vs { try writeElement(v, of: t, into: &w) }
    }

    /// Elements sorted by this type's order with duplicates removed (set semantics).
    func sortedUnique(_ vs: [CQLValue]) throws(CQLTypeMismatch) -> [CQLValue] {
        var encoded = [([UInt8], CQLValue)]()
        for v in vs { encoded.append((try encode(v), v)) }
        encoded.sort { compare($0.0, $1.0) < 0 }
        var out = [CQLValue]()
        var last: [UInt8]?
        for (e, v) in encoded where e != last {
            out.append(v)
            last = e
        }
        return out
    }

    /// Entries sorted by key with later duplicates winning (map semantics).
    func sortedUnique(_ es: [CQLMapEntry]) throws(CQLTypeMismatch) -> [CQLMapEntry] {
        var byKey = [([UInt8], CQLMapEntry)]()
        for e in es { byKey.append((try encode(e.key), e)) }
        // Stable: a later entry for the same key replaces an earlier one.
        let indexed = byKey.enumerated().sorted {
            let c = compare($0.element.0, $1.element.0)
            return c != 0 ? c < 0 : $0.offset < $1.offset
        }
        var out = [CQLMapEntry]()
        var lastKey: [UInt8]?
        for (_, pair) in indexed {
            if pair.0 == lastKey { out[out.count - 1] = pair.1 } else { out.append(pair.1) }
            lastKey = pair.0
        }
        return out
    }
}
