/// A decoded CQL value. The storage engine and the wire carry values in their serialized form
/// (`CQLType.encode`), this enum is for literals, bound values shown to people, and tests.
public indirect enum CQLValue: Hashable, Sendable, CustomStringConvertible {
    case ascii(String)
    case bigint(Int64)
    case blob([UInt8])
    case boolean(Bool)
    /// Days since the epoch, stored with 2³¹ at the epoch as CQL `date` is.
    case date(UInt32)
    case double(Double)
    case float(Float)
    /// 4 or 16 address bytes.
    case inet([UInt8])
    case int(Int32)
    case smallint(Int16)
    case text(String)
    /// Nanoseconds since midnight.
    case time(Int64)
    /// Milliseconds since the epoch.
    case timestamp(Int64)
    case timeuuid(UUIDValue)
    case tinyint(Int8)
    case uuid(UUIDValue)
    case list([CQLValue])
    /// Elements in the element type's order, without duplicates (``CQLType/normalize(_:)``).
    case set([CQLValue])
    /// Entries in key order, keys unique.
    case map([CQLMapEntry])
    /// One entry per component; nil is a null component.
    case tuple([CQLValue?])
    case vector([Float])

    public var description: String { cqlLiteral }

    /// The value as a CQL literal (`'it''s'`, `0xcafe`, `[1, 2]`, `{'a': 1}`).
    public var cqlLiteral: String {
        switch self {
        case let .ascii(s), let .text(s): "'" + s.replacingAll("'", with: "''") + "'"
        case let .bigint(v): String(v)
        case let .blob(b): "0x" + b.hexString
        case let .boolean(v): v ? "true" : "false"
        case let .date(d): String(Int64(d) - (1 << 31))
        case let .double(v): v.isNaN ? "NaN" : v.isInfinite ? (v < 0 ? "-Infinity" : "Infinity") : String(v)
        case let .float(v): v.isNaN ? "NaN" : v.isInfinite ? (v < 0 ? "-Infinity" : "Infinity") : String(v)
        case let .inet(b): "'" + CQLValue.inetText(b) + "'"
        case let .int(v): String(v)
        case let .smallint(v): String(v)
        case let .time(v): String(v)
        case let .timestamp(v): String(v)
        case let .timeuuid(u), let .uuid(u): u.description
        case let .tinyint(v): String(v)
        case let .list(vs): "[" + vs.map(\.cqlLiteral).joined(separator: ", ") + "]"
        case let .set(vs): "{" + vs.map(\.cqlLiteral).joined(separator: ", ") + "}"
        case let .map(es): "{" + es.map { "\($0.key.cqlLiteral): \($0.value.cqlLiteral)" }.joined(separator: ", ") + "}"
        case let .tuple(vs): "(" + vs.map { $0?.cqlLiteral ?? "null" }.joined(separator: ", ") + ")"
        case let .vector(fs): "[" + fs.map { String($0) }.joined(separator: ", ") + "]"
        }
    }

    /// Dotted-quad or colon-hex text of an address.
    public static func inetText(_ b: [UInt8]) -> String {
        if b.count == 4 { return b.map { String($0) }.joined(separator: ".") }
        var groups = [String]()
        var i = 0
        while i + 1 < b.count {
            groups.append(String(UInt16(b[i]) << 8 | UInt16(b[i + 1]), radix: 16))
            i += 2
        }
        return groups.joined(separator: ":")
    }
}

/// One key/value pair of a map value.
public struct CQLMapEntry: Hashable, Sendable {
    public var key: CQLValue
    public var value: CQLValue
    public init(key: CQLValue, value: CQLValue) {
        self.key = key
        self.value = value
    }
}

extension Collection<UInt8> {
    /// Lower-case hex digits, two per byte.
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    /// Every occurrence of `target` replaced, without Foundation.
    public func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
