/// A CQL data type.
///
/// Names, text forms and value encodings follow CQL 3 and the native protocol v4 spec §6; text forms
/// are what `system_schema.columns.type` holds (`map<text, int>`, `frozen<list<int>>`,
/// `vector<float, 3>`). Collections inside collections and tuple components are always frozen.
public indirect enum CQLType: Hashable, Sendable, CustomStringConvertible {
    case ascii
    case bigint
    case blob
    case boolean
    case date
    case double
    case float
    case inet
    case int
    case smallint
    case text
    case time
    case timestamp
    case timeuuid
    case tinyint
    case uuid
    case list(CQLType)
    case set(CQLType)
    case map(CQLType, CQLType)
    case tuple([CQLType])
    /// A fixed-length vector; Basalt supports `float` elements.
    case vector(CQLType, Int)
    /// The frozen form of a collection or tuple: stored and compared as one value.
    case frozen(CQLType)

    /// The type with any outer `frozen<>` removed.
    @inlinable public var unfrozen: CQLType {
        if case let .frozen(t) = self { return t }
        return self
    }

    @inlinable public var isFrozen: Bool {
        if case .frozen = self { return true }
        return false
    }

    /// A list, set or map (frozen or not).
    public var isCollection: Bool {
        switch unfrozen {
        case .list, .set, .map: true
        default: false
        }
    }

    /// A collection whose elements are stored as separate cells (not frozen).
    public var isMultiCell: Bool {
        switch self {
        case .list, .set, .map: true
        default: false
        }
    }

    /// The encoded size when every value has the same length, else nil.
    public var fixedSize: Int? {
        switch unfrozen {
        case .bigint, .double, .timestamp, .time: 8
        case .int, .float, .date: 4
        case .smallint: 2
        case .tinyint, .boolean: 1
        case .uuid, .timeuuid: 16
        case let .vector(e, n): e.fixedSize.map { $0 * n }
        default: nil
        }
    }

    public var description: String { cqlName }

    /// The CQL text form, as in `system_schema.columns.type` and `DESCRIBE`.
    public var cqlName: String {
        switch self {
        case .ascii: "ascii"
        case .bigint: "bigint"
        case .blob: "blob"
        case .boolean: "boolean"
        case .date: "date"
        case .double: "double"
        case .float: "float"
        case .inet: "inet"
        case .int: "int"
        case .smallint: "smallint"
        case .text: "text"
        case .time: "time"
        case .timestamp: "timestamp"
        case .timeuuid: "timeuuid"
        case .tinyint: "tinyint"
        case .uuid: "uuid"
        case let .list(e): "list<\(e.cqlName)>"
        case let .set(e): "set<\(e.cqlName)>"
        case let .map(k, v): "map<\(k.cqlName), \(v.cqlName)>"
        case let .tuple(ts): "frozen<tuple<\(ts.map(\.cqlName).joined(separator: ", "))>>"
        case let .vector(e, n): "vector<\(e.cqlName), \(n)>"
        case let .frozen(t):
            if case .tuple = t { t.cqlName } else { "frozen<\(t.cqlName)>" }
        }
    }

    /// Cassandra's marshal class name for the type, used where the native protocol sends a custom
    /// type (vectors) and in `DESCRIBE` output of custom types.
    public var marshalClassName: String {
        let p = "org.apache.cassandra.db.marshal."
        switch self {
        case .ascii: return p + "AsciiType"
        case .bigint: return p + "LongType"
        case .blob: return p + "BytesType"
        case .boolean: return p + "BooleanType"
        case .date: return p + "SimpleDateType"
        case .double: return p + "DoubleType"
        case .float: return p + "FloatType"
        case .inet: return p + "InetAddressType"
        case .int: return p + "Int32Type"
        case .smallint: return p + "ShortType"
        case .text: return p + "UTF8Type"
        case .time: return p + "TimeType"
        case .timestamp: return p + "TimestampType"
        case .timeuuid: return p + "TimeUUIDType"
        case .tinyint: return p + "ByteType"
        case .uuid: return p + "UUIDType"
        case let .list(e): return p + "ListType(\(e.marshalClassName))"
        case let .set(e): return p + "SetType(\(e.marshalClassName))"
        case let .map(k, v): return p + "MapType(\(k.marshalClassName),\(v.marshalClassName))"
        case let .tuple(ts): return p + "TupleType(\(ts.map(\.marshalClassName).joined(separator: ",")))"
        case let .vector(e, n): return p + "VectorType(\(e.marshalClassName) , \(n))"
        case let .frozen(t): return p + "FrozenType(\(t.marshalClassName))"
        }
    }
}
