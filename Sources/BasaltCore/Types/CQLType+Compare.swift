extension CQLType {
    /// Orders two serialized values of this type the way Cassandra's comparator for the type does:
    /// the order of clustering columns and of set elements and map keys. Negative, zero, positive.
    ///
    /// text, ascii, blob and inet compare as unsigned bytes; integers and timestamps as signed
    /// numbers; floats as Java's `Float.compare` (-0.0 < 0.0, NaN last); uuids by version, then time
    /// (version 1) or unsigned high bits, then the low bits as signed bytes; timeuuids by time;
    /// frozen collections, tuples and vectors element by element, shorter first on a tie.
    /// Malformed input falls back to unsigned byte order rather than trapping.
    @inlinable
    public func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compare(pa, pb) } }
    }

    public func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        switch unfrozen {
        case .ascii, .text, .blob, .inet:
            return Self.compareUnsigned(a, b)
        case .boolean, .date:
            return Self.compareUnsigned(a, b)
        case .tinyint, .smallint, .int, .bigint, .timestamp, .time:
            guard a.count == b.count, a.count > 0 else { return Self.compareUnsigned(a, b) }
            // Flipping the sign bit of the first byte turns signed big-endian into unsigned order.
            let fa = a[0] ^ 0x80, fb = b[0] ^ 0x80
            if fa != fb { return fa < fb ? -1 : 1 }
            return Self.compareUnsigned(UnsafeRawBufferPointer(rebasing: a[1...]), UnsafeRawBufferPointer(rebasing: b[1...]))
        case .float:
            guard a.count == 4, b.count == 4 else { return Self.compareUnsigned(a, b) }
            return Self.compareFloat(Double(Float(bitPattern: Self.be32(a, 0))), Double(Float(bitPattern: Self.be32(b, 0))))
        case .double:
            guard a.count == 8, b.count == 8 else { return Self.compareUnsigned(a, b) }
            return Self.compareFloat(Double(bitPattern: Self.be64(a, 0)), Double(bitPattern: Self.be64(b, 0)))
        case .uuid, .timeuuid:
            guard a.count == 16, b.count == 16 else { return Self.compareUnsigned(a, b) }
            let ua = UUIDValue(msb: Self.be64(a, 0), lsb: Self.be64(a, 8))
            let ub = UUIDValue(msb: Self.be64(b, 0), lsb: Self.be64(b, 8))
            if ua.version != ub.version { return ua.version < ub.version ? -1 : 1 }
            if ua.version == 1 {
                let ta = ua.timestamp100ns, tb = ub.timestamp100ns
                if ta != tb { return ta < tb ? -1 : 1 }
            } else if ua.msb != ub.msb {
                return ua.msb < ub.msb ? -1 : 1
            }
            let la = Int64(bitPattern: ua.lsb ^ 0x8080_8080_8080_8080), lb = Int64(bitPattern: ub.lsb ^ 0x8080_8080_8080_8080)
            return la == lb ? 0 : (la < lb ? -1 : 1)
        case let .list(e), let .set(e):
            return Self.compareSequences(a, b, count: 1, types: [e], countPrefixed: true)
        case let .map(k, v):
            return Self.compareSequences(a, b, count: 2, types: [k, v], countPrefixed: true)
        case let .tuple(ts):
            return Self.compareSequences(a, b, count: ts.count, types: ts, countPrefixed: false)
        case let .vector(_, n):
            guard a.count == 4 * n, b.count == 4 * n else { return Self.compareUnsigned(a, b) }
            for i in 0 ..< n {
                let c = Self.compareFloat(Double(Float(bitPattern: Self.be32(a, 4 * i))), Double(Float(bitPattern: Self.be32(b, 4 * i))))
                if c != 0 { return c }
            }
            return 0
        case .frozen:
            return Self.compareUnsigned(a, b)
        }
    }

    @inlinable
    public static func compareUnsigned(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = Swift.min(a.count, b.count)
        if n > 0, let pa = a.baseAddress, let pb = b.baseAddress {
            let c = memcmpBytes(pa, pb, n)
            if c != 0 { return c }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    @inlinable
    static func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int {
        var i = 0
        while i + 8 <= n {
            let x = UInt64(bigEndian: a.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let y = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            if x != y { return x < y ? -1 : 1 }
            i += 8
        }
        while i < n {
            let x = a.load(fromByteOffset: i, as: UInt8.self), y = b.load(fromByteOffset: i, as: UInt8.self)
            if x != y { return x < y ? -1 : 1 }
            i += 1
        }
        return 0
    }

    static func be32(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
        UInt32(bigEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }

    static func be64(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt64 {
        UInt64(bigEndian: p.loadUnaligned(fromByteOffset: o, as: UInt64.self))
    }

    /// Java's `Double.compare`: -0.0 before 0.0, NaN after everything, NaN equal to NaN.
    static func compareFloat(_ x: Double, _ y: Double) -> Int {
        if x < y { return -1 }
        if x > y { return 1 }
        if x.isNaN || y.isNaN { return x.isNaN ? (y.isNaN ? 0 : 1) : -1 }
        if x == 0 && y == 0 && x.sign != y.sign { return x.sign == .minus ? -1 : 1 }
        return 0
    }

    /// Element-wise comparison of collection encodings (`countPrefixed`) or tuple encodings.
    /// `types` cycles: one type for list/set elements, key then value for maps.
    static func compareSequences(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, count: Int, types: [CQLType], countPrefixed: Bool) -> Int {
        var ia = 0, ib = 0
        var na = Int.max, nb = Int.max
        if countPrefixed {
            guard a.count >= 4, b.count >= 4 else { return compareUnsigned(a, b) }
            na = Int(Int32(bitPattern: be32(a, 0))) * count
            nb = Int(Int32(bitPattern: be32(b, 0))) * count
            ia = 4; ib = 4
        }
        var k = 0
        while true {
            let endA = countPrefixed ? k >= na : ia >= a.count
            let endB = countPrefixed ? k >= nb : ib >= b.count
            if endA || endB { return endA == endB ? 0 : (endA ? -1 : 1) }
            guard ia + 4 <= a.count, ib + 4 <= b.count else { return compareUnsigned(a, b) }
            let la = Int(Int32(bitPattern: be32(a, ia))), lb = Int(Int32(bitPattern: be32(b, ib)))
            ia += 4; ib += 4
            if la < 0 || lb < 0 {
                if la < 0 && lb < 0 { k += 1; continue }
                return la < 0 ? -1 : 1 // null sorts first
            }
            guard ia + la <= a.count, ib + lb <= b.count else { return compareUnsigned(a, b) }
            let c = types[k % types.count].compare(UnsafeRawBufferPointer(rebasing: a[ia ..< ia + la]), UnsafeRawBufferPointer(rebasing: b[ib ..< ib + lb]))
            if c != 0 { return c }
            ia += la; ib += lb; k += 1
        }
    }
}
