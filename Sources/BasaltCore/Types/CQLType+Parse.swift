/// Why a CQL type's text could not be understood.
public struct CQLTypeParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "cannot parse type '\(text)': \(reason)" }
}

extension CQLType {
    /// Parses a CQL type as written in DDL or in `system_schema.columns.type`: case-insensitive
    /// names, `varchar` for `text`, nested `frozen<>`, `tuple<>` (always frozen), `vector<float, n>`.
    public init(parsing text: String) throws(CQLTypeParseError) {
        var p = TypeTextParser(text: text)
        let t = try p.parseType()
        p.skipSpace()
        guard p.atEnd else { throw p.error("unexpected text after the type") }
        self = t
    }

    /// The type of a simple (non-parameterised) name, nil if unknown.
    public static func simple(named name: String) -> CQLType? {
        switch name.lowercased() {
        case "ascii": .ascii
        case "bigint": .bigint
        case "blob": .blob
        case "boolean": .boolean
        case "date": .date
        case "double": .double
        case "float": .float
        case "inet": .inet
        case "int": .int
        case "smallint": .smallint
        case "text", "varchar": .text
        case "time": .time
        case "timestamp": .timestamp
        case "timeuuid": .timeuuid
        case "tinyint": .tinyint
        case "uuid": .uuid
        default: nil
        }
    }

    /// Names Cassandra knows that Basalt does not store; DDL using them gets a clear error.
    public static let unsupportedNames: Set<String> = ["counter", "decimal", "duration", "varint"]

    /// The type with nested collections and tuples frozen, as CQL requires inside a collection.
    func frozenIfNested() -> CQLType {
        switch self {
        case .list, .set, .map, .tuple: .frozen(self)
        default: self
        }
    }
}

/// A recursive-descent reader of type text.
private struct TypeTextParser {
    let text: String
    let chars: [UInt8]
    var i = 0

    init(text: String) {
        self.text = text
        chars = Array(text.utf8)
    }

    var atEnd: Bool { i >= chars.count }

    func error(_ reason: String) -> CQLTypeParseError {
        CQLTypeParseError(text: text, reason: "\(reason) at character \(i + 1)")
    }

    mutating func skipSpace() {
        while i < chars.count, chars[i] == 0x20 || chars[i] == 0x09 || chars[i] == 0x0a || chars[i] == 0x0d { i += 1 }
    }

    mutating func word() -> String {
        skipSpace()
        let s = i
        while i < chars.count, chars[i] == UInt8(ascii: "_") || (chars[i] | 0x20 >= UInt8(ascii: "a") && chars[i] | 0x20 <= UInt8(ascii: "z")) || (chars[i] >= UInt8(ascii: "0") && chars[i] <= UInt8(ascii: "9")) {
            i += 1
        }
        return String(decoding: chars[s ..< i], as: UTF8.self).lowercased()
    }

    mutating func expect(_ c: Character) throws(CQLTypeParseError) {
        skipSpace()
        guard i < chars.count, chars[i] == c.asciiValue else { throw error("expected '\(c)'") }
        i += 1
    }

    mutating func peek(_ c: Character) -> Bool {
        skipSpace()
        return i < chars.count && chars[i] == c.asciiValue
    }

    mutating func parseType() throws(CQLTypeParseError) -> CQLType {
        let name = word()
        if name.isEmpty { throw error("expected a type name") }
        switch name {
        case "frozen":
            try expect("<")
            let inner = try parseType()
            try expect(">")
            switch inner {
            case .list, .set, .map, .tuple: return .frozen(inner)
            case .frozen: return inner
            default: throw error("frozen<> applies to collections and tuples only")
            }
        case "list", "set":
            try expect("<")
            let e = try parseType().frozenIfNested()
            try expect(">")
            return name == "list" ? .list(e) : .set(e)
        case "map":
            try expect("<")
            let k = try parseType().frozenIfNested()
            try expect(",")
            let v = try parseType().frozenIfNested()
            try expect(">")
            return .map(k, v)
        case "tuple":
            try expect("<")
            var parts = [try parseType().frozenIfNested()]
            while peek(",") {
                i += 1
                parts.append(try parseType().frozenIfNested())
            }
            try expect(">")
            return .frozen(.tuple(parts))
        case "vector":
            try expect("<")
            let e = try parseType()
            guard e == .float else { throw error("vector elements must be float") }
            try expect(",")
            let n = word()
            guard let dim = Int(n), dim > 0, dim <= 8192 else { throw error("vector dimension must be 1...8192") }
            try expect(">")
            return .vector(e, dim)
        default:
            if let t = CQLType.simple(named: name) { return t }
            if CQLType.unsupportedNames.contains(name) { throw error("type '\(name)' is not supported by Basalt") }
            throw error("unknown type '\(name)'")
        }
    }
}
