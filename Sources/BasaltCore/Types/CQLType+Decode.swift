extension CQLType {
    /// Decodes a serialized value, checking that it is well formed for this type.
    public func decode(_ bytes: [UInt8]) throws(DecodeError) -> CQLValue {
        var r = ByteReader(bytes)
        let v = try decode(from: &r, length: bytes.count)
        if !r.isAtEnd { throw DecodeError.invalid("\(r.remaining) extra bytes after \(cqlName) value", at: r.position) }
        return v
    }

    /// Checks that `bytes` is a well-formed value of this type without keeping the result.
    public func validate(_ bytes: [UInt8]) throws(DecodeError) {
        _ = try decode(bytes)
    }

    func decode(from r: inout ByteReader, length n: Int) throws(DecodeError) -> CQLValue {
        let start = r.position
        func fixed(_ size: Int) throws(DecodeError) {
            if n != size { throw DecodeError.invalid("\(cqlName) needs \(size) bytes, got \(n)", at: start) }
        }
        switch unfrozen {
        case .ascii:
            let b = try r.readBytes(n)
            guard b.allSatisfy({ $0 < 0x80 }) else { throw DecodeError.invalid("non-ASCII byte in ascii value", at: start) }
            return .ascii(String(decoding: b, as: UTF8.self))
        case .text: return .text(try r.readUTF8(n))
        case .blob: return .blob(try r.readBytes(n))
        case .boolean: try fixed(1); return .boolean(try r.readBool())
        case .tinyint: try fixed(1); return .tinyint(try r.readInt8())
        case .smallint: try fixed(2); return .smallint(try r.readInt16())
        case .int: try fixed(4); return .int(try r.readInt32())
        case .bigint: try fixed(8); return .bigint(try r.readInt64())
        case .float: try fixed(4); return .float(try r.readFloat())
        case .double: try fixed(8); return .double(try r.readDouble())
        case .timestamp: try fixed(8); return .timestamp(try r.readInt64())
        case .date: try fixed(4); return .date(try r.readUInt32())
        case .time:
            try fixed(8)
            let v = try r.readInt64()
            guard v >= 0 && v < 86_400_000_000_000 else { throw DecodeError.invalid("time out of range", at: start) }
            return .time(v)
        case .uuid:
            try fixed(16)
            return .uuid(UUIDValue(msb: try r.readUInt64(), lsb: try r.readUInt64()))
        case .timeuuid:
            try fixed(16)
            let u = UUIDValue(msb: try r.readUInt64(), lsb: try r.readUInt64())
            guard u.version == 1 else { throw DecodeError.invalid("timeuuid must be a version 1 UUID", at: start) }
            return .timeuuid(u)
        case .inet:
            guard n == 4 || n == 16 else { throw DecodeError.invalid("inet needs 4 or 16 bytes, got \(n)", at: start) }
            return .inet(try r.readBytes(n))
        case let .list(e):
            return .list(try Self.readElements(of: e, from: &r, end: start + n))
        case let .set(e):
            return .set(try Self.readElements(of: e, from: &r, end: start + n))
        case let .map(kt, vt):
            let count = try r.readInt32()
            guard count >= 0 && Int(count) <= (start + n - r.position) / 8 else {
                throw DecodeError.invalid("bad map entry count \(count)", at: start)
            }
            var es = [CQLMapEntry]()
            es.reserveCapacity(Int(count))
            for _ in 0 ..< count {
                guard let k = try Self.readElement(of: kt, from: &r, end: start + n),
                      let v = try Self.readElement(of: vt, from: &r, end: start + n)
                else { throw DecodeError.invalid("null inside a map", at: r.position) }
                es.append(CQLMapEntry(key: k, value: v))
            }
            return .map(es)
        case let .tuple(ts):
            var vs = [CQLValue?]()
            for t in ts {
                if r.position == start + n { break } // trailing components may be omitted
                vs.append(try Self.readElement(of: t, from: &r, end: start + n))
            }
            guard r.position == start + n else { throw DecodeError.invalid("extra bytes in tuple", at: r.position) }
            return .tuple(vs)
        case let .vector(_, dim):
            try fixed(4 * dim)
            var fs = [Float]()
            fs.reserveCapacity(dim)
            for _ in 0 ..< dim { fs.append(try r.readFloat()) }
            return .vector(fs)
        case .frozen:
            throw DecodeError.invalid("doubly frozen type", at: start)
        }
    }

    static func readElement(of t: CQLType, from r: inout ByteReader, end: Int) throws(DecodeError) -> CQLValue? {
        let at = r.position
        let len = try r.readInt32()
        if len < 0 { return nil }
        guard Int(len) <= end - r.position else {
            throw DecodeError.truncated(needed: Int(len), available: end - r.position, at: at)
        }
        return try t.decode(from: &r, length: Int(len))
    }

    static func readElements(of t: CQLType, from r: inout ByteReader, end: Int) throws(DecodeError) -> [CQLValue] {
        let at = r.position
        let count = try r.readInt32()
        guard count >= 0 && Int(count) <= (end - r.position) / 4 else {
            throw DecodeError.invalid("bad collection element count \(count)", at: at)
        }
        var vs = [CQLValue]()
        vs.reserveCapacity(Int(count))
        for _ in 0 ..< count {
            guard let v = try readElement(of: t, from: &r, end: end) else {
                throw DecodeError.invalid("null inside a collection", at: r.position)
            }
            vs.append(v)
        }
        return vs
    }
}
