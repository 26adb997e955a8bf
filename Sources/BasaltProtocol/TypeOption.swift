import BasaltCore

/// CQL types as the protocol's [option] carries them in result and prepared metadata (v4 spec
/// §4.2.5.2). `frozen<>` is not visible on the wire; vectors travel as the custom type
/// `org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType , n)`.
public enum TypeOption {
    public static let custom: UInt16 = 0x0000
    public static let list: UInt16 = 0x0020
    public static let map: UInt16 = 0x0021
    public static let set: UInt16 = 0x0022
    public static let udt: UInt16 = 0x0030
    public static let tuple: UInt16 = 0x0031

    /// The option id of a type without parameters.
    public static func id(of type: CQLType) -> UInt16? {
        switch type {
        case .ascii: 0x0001
        case .bigint: 0x0002
        case .blob: 0x0003
        case .boolean: 0x0004
        case .double: 0x0007
        case .float: 0x0008
        case .int: 0x0009
        case .timestamp: 0x000B
        case .uuid: 0x000C
        case .text: 0x000D
        case .timeuuid: 0x000F
        case .inet: 0x0010
        case .date: 0x0011
        case .time: 0x0012
        case .smallint: 0x0013
        case .tinyint: 0x0014
        default: nil
        }
    }

    static let simpleTypes: [UInt16: CQLType] = [
        0x0001: .ascii, 0x0002: .bigint, 0x0003: .blob, 0x0004: .boolean, 0x0007: .double, 0x0008: .float,
        0x0009: .int, 0x000B: .timestamp, 0x000C: .uuid, 0x000D: .text, 0x000F: .timeuuid, 0x0010: .inet,
        0x0011: .date, 0x0012: .time, 0x0013: .smallint, 0x0014: .tinyint,
    ]

    public static func encode(_ type: CQLType, into w: inout ByteWriter) {
        if let id = id(of: type) {
            w.writeUInt16(id)
            return
        }
        switch type {
        case let .frozen(inner): encode(inner, into: &w)
        case let .list(e): w.writeUInt16(list); encode(e, into: &w)
        case let .set(e): w.writeUInt16(set); encode(e, into: &w)
        case let .map(k, v): w.writeUInt16(map); encode(k, into: &w); encode(v, into: &w)
        case let .tuple(ts):
            w.writeUInt16(tuple)
            w.writeUInt16(UInt16(truncatingIfNeeded: ts.count))
            for t in ts { encode(t, into: &w) }
        case .vector:
            w.writeUInt16(custom)
            w.writeShortString(type.marshalClassName)
        default:
            w.writeUInt16(custom)
            w.writeShortString(type.marshalClassName)
        }
    }

    /// Reads an [option] type. Collections inside collections come back frozen, as CQL has them.
    public static func decode(from r: inout ByteReader, depth: Int = 0) throws(DecodeError) -> CQLType {
        let at = r.position
        guard depth < 32 else { throw DecodeError.invalid("type nested too deeply", at: at) }
        let id = try r.readUInt16()
        if let t = simpleTypes[id] { return t }
        switch id {
        case custom:
            let name = try r.readShortString()
            guard let t = customType(named: name) else { throw DecodeError.invalid("unsupported custom type \(name)", at: at) }
            return t
        case list: return .list(nested(try decode(from: &r, depth: depth + 1)))
        case set: return .set(nested(try decode(from: &r, depth: depth + 1)))
        case map:
            let k = nested(try decode(from: &r, depth: depth + 1))
            return .map(k, nested(try decode(from: &r, depth: depth + 1)))
        case tuple:
            let n = Int(try r.readUInt16())
            var ts = [CQLType]()
            for _ in 0 ..< n { ts.append(nested(try decode(from: &r, depth: depth + 1))) }
            return .frozen(.tuple(ts))
        default:
            throw DecodeError.invalid("unsupported type option 0x\(String(id, radix: 16))", at: at)
        }
    }

    static func nested(_ t: CQLType) -> CQLType {
        switch t {
        case .list, .set, .map, .tuple: .frozen(t)
        default: t
        }
    }

    /// The type named by a custom class name: vectors of floats only.
    public static func customType(named name: String) -> CQLType? {
        let compact = String(name.filter { $0 != " " })
        let prefix = "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,"
        guard compact.hasPrefix(prefix), compact.hasSuffix(")") else { return nil }
        let digits = compact.dropFirst(prefix.count).dropLast()
        guard let n = Int(digits), n > 0, n <= 8192 else { return nil }
        return .vector(.float, n)
    }
}

/// One column of result metadata, or one bind marker of prepared metadata.
public struct ColumnSpec: Hashable, Sendable {
    public var keyspace: String
    public var table: String
    public var name: String
    public var type: CQLType

    public init(keyspace: String, table: String, name: String, type: CQLType) {
        self.keyspace = keyspace
        self.table = table
        self.name = name
        self.type = type
    }
}

/// The `<metadata>` of a Rows result (v4 spec §4.2.5.2): flags, column count, optional paging
/// state, then either one global table spec and per-column names and types, or nothing
/// (No_metadata). The Global_tables_spec flag is set whenever every column has the same table.
public struct ResultMetadata: Hashable, Sendable {
    public static let globalTablesSpecFlag: Int32 = 0x0001
    public static let hasMorePagesFlag: Int32 = 0x0002
    public static let noMetadataFlag: Int32 = 0x0004
    /// v5: the metadata differs from the result metadata id the EXECUTE named; the new id follows.
    public static let metadataChangedFlag: Int32 = 0x0008

    public var columns: [ColumnSpec]
    /// Present when more pages follow.
    public var pagingState: [UInt8]?
    /// Whether the column specs are left out (Skip_metadata was asked for, or not a SELECT).
    public var noMetadata: Bool
    /// The column count written when `noMetadata` (columns may then be empty).
    public var columnCount: Int
    /// v5 Metadata_changed: the id of these columns, sent when the client's was stale.
    public var newMetadataId: [UInt8]?

    public init(columns: [ColumnSpec], pagingState: [UInt8]? = nil, noMetadata: Bool = false) {
        self.columns = columns
        self.pagingState = pagingState
        self.noMetadata = noMetadata
        columnCount = columns.count
    }

    /// The metadata of a result with no columns (what PREPARED carries for non-SELECTs).
    public static let empty = ResultMetadata(columns: [], noMetadata: true)

    var usesGlobalSpec: Bool { ColumnSpec.sharedTable(columns) != nil }

    /// The v5 result metadata id of these columns: the MD5 of their specs as the protocol writes
    /// them, so equal column lists have equal ids on every node.
    public var metadataId: [UInt8] {
        var w = ByteWriter(capacity: 64)
        ColumnSpec.encode(columns, global: ColumnSpec.sharedTable(columns), into: &w)
        return MD5.digest(w.bytes)
    }

    public func encode(into w: inout ByteWriter) {
        var flags: Int32 = 0
        let global = !noMetadata ? ColumnSpec.sharedTable(columns) : nil
        if global != nil { flags |= Self.globalTablesSpecFlag }
        if pagingState != nil { flags |= Self.hasMorePagesFlag }
        if noMetadata { flags |= Self.noMetadataFlag }
        if newMetadataId != nil { flags |= Self.metadataChangedFlag }
        w.writeInt32(flags)
        w.writeInt32(Int32(truncatingIfNeeded: noMetadata ? columnCount : columns.count))
        if let pagingState { w.writeProtocolBytes(pagingState) }
        if let newMetadataId { w.writeShortBytes(newMetadataId) }
        guard !noMetadata else { return }
        ColumnSpec.encode(columns, global: global, into: &w)
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> ResultMetadata {
        let at = r.position
        let flags = try r.readInt32()
        let count = try r.readInt32()
        guard count >= 0 else { throw DecodeError.invalid("negative column count \(count)", at: at) }
        var paging: [UInt8]?
        if flags & hasMorePagesFlag != 0 { paging = try r.readProtocolBytes() ?? [] }
        let newId = flags & metadataChangedFlag != 0 ? try r.readShortBytes() : nil
        if flags & noMetadataFlag != 0 {
            var m = ResultMetadata(columns: [], pagingState: paging, noMetadata: true)
            m.columnCount = Int(count)
            m.newMetadataId = newId
            return m
        }
        let columns = try ColumnSpec.decode(count: Int(count), global: flags & globalTablesSpecFlag != 0, from: &r)
        var m = ResultMetadata(columns: columns, pagingState: paging)
        m.newMetadataId = newId
        return m
    }
}

extension ColumnSpec {
    /// The (keyspace, table) every spec shares, nil if they differ or there are none.
    static func sharedTable(_ specs: [ColumnSpec]) -> (String, String)? {
        guard let first = specs.first else { return nil }
        for s in specs where s.keyspace != first.keyspace || s.table != first.table { return nil }
        return (first.keyspace, first.table)
    }

    static func encode(_ specs: [ColumnSpec], global: (String, String)?, into w: inout ByteWriter) {
        if let (ks, table) = global {
            w.writeShortString(ks)
            w.writeShortString(table)
        }
        for s in specs {
            if global == nil {
                w.writeShortString(s.keyspace)
                w.writeShortString(s.table)
            }
            w.writeShortString(s.name)
            TypeOption.encode(s.type, into: &w)
        }
    }

    static func decode(count: Int, global: Bool, from r: inout ByteReader) throws(DecodeError) -> [ColumnSpec] {
        var ks = "", table = ""
        if global {
            ks = try r.readShortString()
            table = try r.readShortString()
        }
        var out = [ColumnSpec]()
        out.reserveCapacity(min(count, r.remaining / 4))
        for _ in 0 ..< count {
            var k = ks, t = table
            if !global {
                k = try r.readShortString()
                t = try r.readShortString()
            }
            let name = try r.readShortString()
            out.append(ColumnSpec(keyspace: k, table: t, name: name, type: try TypeOption.decode(from: &r)))
        }
        return out
    }
}
