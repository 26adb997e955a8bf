import BasaltCore
import BasaltProtocol

/// Turns terms into typed ``Operand``s for a receiver column, recording each bind marker's spec
/// (name, keyspace, table, type) for PREPARED metadata.
struct TermBinder {
    /// Specs by marker index; nil until the marker's position is bound.
    var specs: [ColumnSpec?]

    init(markerCount: Int) {
        specs = Array(repeating: nil, count: markerCount)
    }

    mutating func record(_ m: BindMarker, _ receiver: ColumnSpec) {
        guard m.index < specs.count else { return }
        var spec = receiver
        if let n = m.name { spec.name = n }
        specs[m.index] = spec
    }

    static func kindName(_ l: Literal) -> String {
        switch l {
        case .string: "STRING"
        case .integer: "INTEGER"
        case .float, .nan, .infinity: "FLOAT"
        case .boolean: "BOOLEAN"
        case .hex: "HEX"
        case .uuid: "UUID"
        case .null: "NULL"
        }
    }

    static func literalText(_ l: Literal) -> String {
        switch l {
        case let .string(s): s
        case let .integer(s), let .float(s), let .uuid(s): s
        case let .boolean(b): b ? "true" : "false"
        case let .hex(b): "0x" + b.hexString
        case .null: "null"
        case .nan: "NaN"
        case let .infinity(n): n ? "-Infinity" : "Infinity"
        }
    }

    /// The receiver's name quoted as Cassandra's messages quote it.
    static func invalidConstant(_ l: Literal, _ receiver: ColumnSpec) -> CQLError {
        .invalid("Invalid \(kindName(l)) constant (\(literalText(l))) for \"\(receiver.name)\" of type \(receiver.type.cqlName)")
    }

    /// A scalar literal serialized as `receiver.type`.
    static func scalar(_ l: Literal, _ receiver: ColumnSpec) throws(CQLError) -> [UInt8] {
        let type = receiver.type.unfrozen
        func enc(_ v: CQLValue) throws(CQLError) -> [UInt8] {
            do { return try type.encode(v) } catch { throw invalidConstant(l, receiver) }
        }
        switch (l, type) {
        case let (.string(s), .text), let (.string(s), .ascii): return try enc(.text(s))
        case let (.string(s), .timestamp):
            guard let ms = LiteralParsing.timestampMillis(s) ?? Int64(s) else {
                throw .invalid("Unable to coerce '\(s)' to a formatted date (long)")
            }
            return try enc(.timestamp(ms))
        case let (.string(s), .date):
            guard let d = LiteralParsing.dateValue(s) ?? UInt32(s) else { throw .invalid("Unable to coerce '\(s)' to a formatted date (long)") }
            return try enc(.date(d))
        case let (.string(s), .time):
            guard let t = LiteralParsing.timeValue(s) ?? Int64(s) else { throw .invalid("Unable to coerce '\(s)' to a formatted time (long)") }
            return try enc(.time(t))
        case let (.string(s), .inet):
            guard let b = LiteralParsing.inetBytes(s) else { throw .invalid("Unable to make inet address from '\(s)'") }
            return try enc(.inet(b))
        case let (.string(s), .uuid), let (.string(s), .timeuuid), let (.uuid(s), .uuid), let (.uuid(s), .timeuuid):
            guard let u = UUIDValue(s) else { throw invalidConstant(l, receiver) }
            if type == .timeuuid, u.version != 1 { throw .invalid("Unsupported UUID type: version \(u.version) is not a time-based UUID") }
            return u.bytes
        case let (.integer(s), .tinyint):
            guard let v = Int8(s) else { throw .invalid("Unable to make tinyint from '\(s)'") }
            return try enc(.tinyint(v))
        case let (.integer(s), .smallint):
            guard let v = Int16(s) else { throw .invalid("Unable to make smallint from '\(s)'") }
            return try enc(.smallint(v))
        case let (.integer(s), .int):
            guard let v = Int32(s) else { throw .invalid("Unable to make int from '\(s)'") }
            return try enc(.int(v))
        case let (.integer(s), .bigint):
            guard let v = Int64(s) else { throw .invalid("Unable to make long from '\(s)'") }
            return try enc(.bigint(v))
        case let (.integer(s), .timestamp):
            guard let v = Int64(s) else { throw .invalid("Unable to make long from '\(s)'") }
            return try enc(.timestamp(v))
        case let (.integer(s), .date):
            guard let v = UInt32(s) else { throw .invalid("Unable to make unsigned int (for date) from: '\(s)'") }
            return try enc(.date(v))
        case let (.integer(s), .time):
            guard let v = Int64(s), v >= 0, v < 86_400_000_000_000 else { throw .invalid("Unable to make time from '\(s)'") }
            return try enc(.time(v))
        case let (.integer(s), .float), let (.float(s), .float):
            guard let v = Float(s) else { throw .invalid("Unable to make float from '\(s)'") }
            return try enc(.float(v))
        case let (.integer(s), .double), let (.float(s), .double):
            guard let v = Double(s) else { throw .invalid("Unable to make double from '\(s)'") }
            return try enc(.double(v))
        case (.nan, .float): return try enc(.float(.nan))
        case (.nan, .double): return try enc(.double(.nan))
        case let (.infinity(neg), .float): return try enc(.float(neg ? -.infinity : .infinity))
        case let (.infinity(neg), .double): return try enc(.double(neg ? -.infinity : .infinity))
        case let (.boolean(b), .boolean): return try enc(.boolean(b))
        case let (.hex(b), .blob): return b
        default:
            throw invalidConstant(l, receiver)
        }
    }

    /// A term as a value of `receiver.type`.
    mutating func operand(_ term: Term, _ receiver: ColumnSpec) throws(CQLError) -> Operand {
        let type = receiver.type.unfrozen
        func sub(_ name: String, _ t: CQLType) -> ColumnSpec {
            ColumnSpec(keyspace: receiver.keyspace, table: receiver.table, name: name, type: t)
        }
        switch term {
        case .literal(.null): return .constant(nil)
        case let .literal(l): return .constant(try Self.scalar(l, receiver))
        case let .marker(m):
            record(m, receiver)
            return .marker(m.index, receiver.type)
        case let .list(items):
            switch type {
            case let .list(e):
                let ops = try items.map { i throws(CQLError) in try operand(i, sub("value(\(receiver.name))", e)) }
                return try Self.folded(.list(receiver.type, ops))
            case let .vector(e, n):
                guard items.count == n else {
                    throw .invalid("Invalid vector literal for \(receiver.name) of type \(type.cqlName); expected \(n) elements, but given \(items.count)")
                }
                let ops = try items.map { i throws(CQLError) in try operand(i, sub("value(\(receiver.name))", e)) }
                return try Self.folded(.vector(receiver.type, ops))
            default:
                throw .invalid("Invalid list literal for \(receiver.name) of type \(type.cqlName)")
            }
        case let .set(items):
            switch type {
            case let .set(e):
                let ops = try items.map { i throws(CQLError) in try operand(i, sub("value(\(receiver.name))", e)) }
                return try Self.folded(.set(receiver.type, ops))
            case .map where items.isEmpty:
                return try Self.folded(.map(receiver.type, []))
            default:
                throw .invalid("Invalid set literal for \(receiver.name) of type \(type.cqlName)")
            }
        case let .map(entries):
            guard case let .map(kt, vt) = type else { throw .invalid("Invalid map literal for \(receiver.name) of type \(type.cqlName)") }
            var pairs = [OperandPair]()
            for e in entries {
                pairs.append(OperandPair(key: try operand(e.key, sub("key(\(receiver.name))", kt)),
                                         value: try operand(e.value, sub("value(\(receiver.name))", vt))))
            }
            return try Self.folded(.map(receiver.type, pairs))
        case let .tuple(items):
            guard case let .tuple(ts) = type, items.count <= ts.count else {
                throw .invalid("Invalid tuple literal for \(receiver.name) of type \(type.cqlName)")
            }
            var ops = [Operand]()
            for (i, item) in items.enumerated() { ops.append(try operand(item, sub("\(receiver.name)[\(i)]", ts[i]))) }
            return try Self.folded(.tuple(receiver.type, ops))
        case let .function(name, args):
            let key = args.isEmpty ? name : "\(name)(\(args.map { if case let .function(n, []) = $0 { n } else { "?" } }.joined(separator: ",")))"
            let resultType: CQLType? = switch key {
            case "now", "currenttimeuuid": .timeuuid
            case "uuid": .uuid
            case "currenttimestamp", "totimestamp(now)": .timestamp
            case "tounixtimestamp(now)": .bigint
            case "currentdate": .date
            default: nil
            }
            guard let resultType else { throw .invalid("Unknown function '\(name)' (Basalt evaluates now(), uuid(), currentTimestamp(), currentDate(), toTimestamp(now()))") }
            let compatible = resultType == type || (resultType == .timeuuid && type == .uuid)
            guard compatible else {
                throw .invalid("Type error: cannot assign result of function system.\(name) (type \(resultType.cqlName)) to \(receiver.name) (type \(type.cqlName))")
            }
            return .function(key, resultType)
        }
    }

    /// Collections of constants become a constant now; others wait for bound values.
    static func folded(_ op: Operand) throws(CQLError) -> Operand {
        let parts: [Operand] = switch op {
        case let .list(_, xs), let .set(_, xs), let .tuple(_, xs), let .vector(_, xs): xs
        case let .map(_, ps): ps.flatMap { [$0.key, $0.value] }
        default: []
        }
        guard parts.allSatisfy(\.isConstant) else { return op }
        return .constant(try op.resolve([], context: ExecutionContext(nowMicros: 0)).bytes)
    }
}
