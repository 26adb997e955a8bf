import BasaltCore
import BasaltProtocol

/// What a statement knows at execution time besides its bound values: the coordinator's clock
/// for `now()`, `currentTimestamp()` and friends.
public struct ExecutionContext: Sendable {
    /// µs since the epoch.
    public var nowMicros: Int64
    /// Low bits for `now()` timeuuids (clock sequence and node), fixed per node.
    public var timeUUIDNode: UInt64

    public init(nowMicros: Int64, timeUUIDNode: UInt64 = 0) {
        self.nowMicros = nowMicros
        self.timeUUIDNode = timeUUIDNode
    }
}

/// A value position of a bound statement, typed, waiting for the bound values.
///
/// Constants are serialized at bind time; markers and collection literals containing markers are
/// completed by ``resolve(_:context:)``, which builds the serialized collection directly from the
/// element bytes (sets sorted and deduplicated, maps sorted by key with the last entry winning).
public indirect enum Operand: Hashable, Sendable {
    /// A serialized value; nil is null.
    case constant([UInt8]?)
    /// The value of marker `index`, of `type`.
    case marker(Int, CQLType)
    case list(CQLType, [Operand])
    case set(CQLType, [Operand])
    case map(CQLType, [OperandPair])
    case tuple(CQLType, [Operand])
    case vector(CQLType, [Operand])
    /// A function evaluated at execution: now(), uuid(), currenttimestamp()…
    case function(String, CQLType)

    public var isConstant: Bool {
        if case .constant = self { return true }
        return false
    }

    /// The value, given the statement's bound values in marker order: bytes, null, or not set
    /// (`unset` leaves a column unchanged).
    public func resolve(_ values: [ProtocolValue], context: ExecutionContext) throws(CQLError) -> ProtocolValue {
        switch self {
        case let .constant(b): return b.map { .bytes($0) } ?? .null
        case let .marker(i, type):
            guard i < values.count else { throw .invalid("No value bound for marker \(i)") }
            switch values[i] {
            case .null: return .null
            case .unset: return .unset
            case let .bytes(b):
                do { try type.validate(b) } catch {
                    throw .invalid("Invalid value for bind marker \(i) of type \(type.cqlName): \(error.description)")
                }
                return .bytes(b)
            }
        case let .list(_, items):
            return .bytes(Self.elements(try items.map { i throws(CQLError) in try i.element(values, context) }))
        case let .set(type, items):
            guard case let .set(e) = type.unfrozen else { return .null }
            var elems = try items.map { i throws(CQLError) in try i.element(values, context) }
            elems.sort { e.compare($0, $1) < 0 }
            var unique = [[UInt8]]()
            for x in elems where unique.last.map({ e.compare($0, x) != 0 }) ?? true { unique.append(x) }
            return .bytes(Self.elements(unique))
        case let .map(type, pairs):
            guard case let .map(kt, _) = type.unfrozen else { return .null }
            var entries = [([UInt8], [UInt8])]()
            for p in pairs { entries.append((try p.key.element(values, context), try p.value.element(values, context))) }
            let order = entries.indices.sorted {
                let c = kt.compare(entries[$0].0, entries[$1].0)
                return c != 0 ? c < 0 : $0 < $1
            }
            var out = [([UInt8], [UInt8])]()
            for i in order {
                if let last = out.last, kt.compare(last.0, entries[i].0) == 0 { out[out.count - 1] = entries[i] } else { out.append(entries[i]) }
            }
            var w = ByteWriter(capacity: 16)
            w.writeInt32(Int32(out.count))
            for (k, v) in out { w.writeProtocolBytes(k); w.writeProtocolBytes(v) }
            return .bytes(w.bytes)
        case let .tuple(_, items):
            var w = ByteWriter(capacity: 16)
            for i in items {
                switch try i.resolve(values, context: context) {
                case let .bytes(b): w.writeProtocolBytes(b)
                case .null, .unset: w.writeInt32(-1)
                }
            }
            return .bytes(w.bytes)
        case let .vector(type, items):
            guard case let .vector(_, n) = type.unfrozen, items.count == n else {
                throw .invalid("Invalid vector literal for \(type.cqlName): expected \(type.fixedSize.map { $0 / 4 } ?? 0) elements but got \(items.count)")
            }
            var out = [UInt8]()
            out.reserveCapacity(4 * n)
            for i in items { out += try i.element(values, context) }
            return .bytes(out)
        case let .function(name, type):
            return .bytes(try Self.evaluate(name, type: type, context: context))
        }
    }

    /// An element of a collection literal: must be a non-null value.
    func element(_ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> [UInt8] {
        guard case let .bytes(b) = try resolve(values, context: context) else { throw .invalid("null is not supported inside collections") }
        return b
    }

    static func elements(_ items: [[UInt8]]) -> [UInt8] {
        var w = ByteWriter(capacity: 8 + items.reduce(0) { $0 + $1.count + 4 })
        w.writeInt32(Int32(items.count))
        for i in items { w.writeProtocolBytes(i) }
        return w.bytes
    }

    /// The functions of no arguments Basalt evaluates at execution time.
    public static let functionNames: Set<String> = ["now", "uuid", "currenttimestamp", "currenttimeuuid", "currentdate", "totimestamp(now)", "tounixtimestamp(now)"]

    static func evaluate(_ name: String, type: CQLType, context: ExecutionContext) throws(CQLError) -> [UInt8] {
        let now = context.nowMicros
        switch name {
        case "now", "currenttimeuuid": return UUIDValue.timeBased(unixMicros: now, sequenceAndNode: context.timeUUIDNode).bytes
        case "uuid": return UUIDValue.random().bytes
        case "currenttimestamp", "totimestamp(now)":
            var w = ByteWriter(capacity: 8); w.writeInt64(now / 1000); return w.bytes
        case "tounixtimestamp(now)":
            var w = ByteWriter(capacity: 8); w.writeInt64(now / 1000); return w.bytes
        case "currentdate":
            var w = ByteWriter(capacity: 4)
            let days = (now / 1000).quotientFloor(86_400_000)
            w.writeUInt32(UInt32(truncatingIfNeeded: days + (1 << 31)))
            return w.bytes
        default: throw .invalid("Unknown function \(name)")
        }
    }
}

/// A key/value pair of a map literal.
public struct OperandPair: Hashable, Sendable {
    public var key: Operand
    public var value: Operand
}

extension Int64 {
    func quotientFloor(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
