import BasaltCore

/// What a schema change did, as Schema_change results and SCHEMA_CHANGE events carry it (v4 spec
/// §4.2.6): change type, target, keyspace, then the object's name (and argument types for
/// functions and aggregates). Index changes are reported as an UPDATED table.
public struct SchemaChangeDescription: Hashable, Sendable {
    public enum Change: String, Hashable, Sendable { case created = "CREATED", updated = "UPDATED", dropped = "DROPPED" }
    public enum Target: String, Hashable, Sendable {
        case keyspace = "KEYSPACE", table = "TABLE", type = "TYPE", function = "FUNCTION", aggregate = "AGGREGATE"
    }

    public var change: Change
    public var target: Target
    public var keyspace: String
    /// Empty for a keyspace.
    public var name: String
    public var argumentTypes: [String]

    public init(change: Change, target: Target, keyspace: String, name: String = "", argumentTypes: [String] = []) {
        self.change = change
        self.target = target
        self.keyspace = keyspace
        self.name = name
        self.argumentTypes = argumentTypes
    }

    public func encode(into w: inout ByteWriter) {
        w.writeShortString(change.rawValue)
        w.writeShortString(target.rawValue)
        w.writeShortString(keyspace)
        switch target {
        case .keyspace: break
        case .table, .type: w.writeShortString(name)
        case .function, .aggregate:
            w.writeShortString(name)
            w.writeStringList(argumentTypes)
        }
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> SchemaChangeDescription {
        let at = r.position
        let c = try r.readShortString()
        let t = try r.readShortString()
        guard let change = Change(rawValue: c), let target = Target(rawValue: t) else {
            throw DecodeError.invalid("unknown schema change \(c) \(t)", at: at)
        }
        var d = SchemaChangeDescription(change: change, target: target, keyspace: try r.readShortString())
        switch target {
        case .keyspace: break
        case .table, .type: d.name = try r.readShortString()
        case .function, .aggregate:
            d.name = try r.readShortString()
            d.argumentTypes = try r.readStringList()
        }
        return d
    }
}

/// The body of a PREPARED result (v4 spec §4.2.5.4; in v5 the result metadata id follows the
/// statement id, ``ResultMetadata/metadataId``).
public struct PreparedResult: Hashable, Sendable {
    public var id: [UInt8]
    /// One spec per bind marker, in marker order.
    public var variables: [ColumnSpec]
    /// For each partition-key column in key order, the index of the marker that gives it;
    /// empty when some partition-key column has no plain marker (no token-aware routing).
    public var partitionKeyIndexes: [UInt16]
    public var resultMetadata: ResultMetadata

    public init(id: [UInt8], variables: [ColumnSpec], partitionKeyIndexes: [UInt16], resultMetadata: ResultMetadata) {
        self.id = id
        self.variables = variables
        self.partitionKeyIndexes = partitionKeyIndexes
        self.resultMetadata = resultMetadata
    }

    public func encode(into w: inout ByteWriter, version: UInt8 = 4) {
        w.writeShortBytes(id)
        if version >= 5 { w.writeShortBytes(resultMetadata.metadataId) }
        let global = ColumnSpec.sharedTable(variables)
        w.writeInt32(global != nil ? ResultMetadata.globalTablesSpecFlag : 0)
        w.writeInt32(Int32(truncatingIfNeeded: variables.count))
        w.writeInt32(Int32(truncatingIfNeeded: partitionKeyIndexes.count))
        for i in partitionKeyIndexes { w.writeUInt16(i) }
        ColumnSpec.encode(variables, global: global, into: &w)
        resultMetadata.encode(into: &w)
    }

    public static func decode(from r: inout ByteReader, version: UInt8 = 4) throws(DecodeError) -> PreparedResult {
        let id = try r.readShortBytes()
        if version >= 5 { _ = try r.readShortBytes() }  // the metadata id, recomputed from the metadata
        let flags = try r.readInt32()
        let countAt = r.position
        let count = try r.readInt32()
        let pkCount = try r.readInt32()
        guard count >= 0, pkCount >= 0, pkCount <= count else { throw DecodeError.invalid("bad prepared metadata counts", at: countAt) }
        var pk = [UInt16]()
        for _ in 0 ..< pkCount { pk.append(try r.readUInt16()) }
        let vars = try ColumnSpec.decode(count: Int(count), global: flags & ResultMetadata.globalTablesSpecFlag != 0, from: &r)
        return PreparedResult(id: id, variables: vars, partitionKeyIndexes: pk, resultMetadata: try ResultMetadata.decode(from: &r))
    }
}

/// A Rows result: metadata and the rows, each a value per column (nil is null).
public struct RowsResult: Hashable, Sendable {
    public var metadata: ResultMetadata
    public var rows: [[[UInt8]?]]

    public init(metadata: ResultMetadata, rows: [[[UInt8]?]]) {
        self.metadata = metadata
        self.rows = rows
    }
}

/// The body of a RESULT message (v4 spec §4.2.5).
public enum ResultBody: Hashable, Sendable {
    case void
    case rows(RowsResult)
    case setKeyspace(String)
    case prepared(PreparedResult)
    case schemaChange(SchemaChangeDescription)

    public var kind: Int32 {
        switch self {
        case .void: 1
        case .rows: 2
        case .setKeyspace: 3
        case .prepared: 4
        case .schemaChange: 5
        }
    }

    public func encode(into w: inout ByteWriter, version: UInt8 = 4) {
        w.writeInt32(kind)
        switch self {
        case .void: break
        case let .rows(rows):
            rows.metadata.encode(into: &w)
            w.writeInt32(Int32(truncatingIfNeeded: rows.rows.count))
            for row in rows.rows {
                for value in row { w.writeProtocolBytes(value) }
            }
        case let .setKeyspace(ks): w.writeShortString(ks)
        case let .prepared(p): p.encode(into: &w, version: version)
        case let .schemaChange(c): c.encode(into: &w)
        }
    }

    public static func decode(from r: inout ByteReader, version: UInt8 = 4) throws(DecodeError) -> ResultBody {
        let at = r.position
        switch try r.readInt32() {
        case 1: return .void
        case 2:
            let meta = try ResultMetadata.decode(from: &r)
            let countAt = r.position
            let count = try r.readInt32()
            guard count >= 0 else { throw DecodeError.invalid("negative row count", at: countAt) }
            let columns = meta.noMetadata ? meta.columnCount : meta.columns.count
            var rows = [[[UInt8]?]]()
            rows.reserveCapacity(min(Int(count), r.remaining / max(4 * columns, 1)))
            for _ in 0 ..< count {
                var row = [[UInt8]?]()
                row.reserveCapacity(columns)
                for _ in 0 ..< columns { row.append(try r.readProtocolBytes()) }
                rows.append(row)
            }
            return .rows(RowsResult(metadata: meta, rows: rows))
        case 3: return .setKeyspace(try r.readShortString())
        case 4: return .prepared(try PreparedResult.decode(from: &r, version: version))
        case 5: return .schemaChange(try SchemaChangeDescription.decode(from: &r))
        case let k: throw DecodeError.invalid("unknown result kind \(k)", at: at)
        }
    }
}
