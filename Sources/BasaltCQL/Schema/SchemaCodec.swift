import BasaltCore

/// A compact, canonical binary form of the schema and of single DDL changes, for replicating
/// schema between nodes and for the schema version digest.
///
/// Canonical: keyspaces, tables, columns, indexes, options and data centers are written in name
/// order, so equal schemas encode to equal bytes. Layout: a format byte, then var-int counts,
/// var-string names and types as CQL text (`map<text, int>`). Decoding validates everything and
/// throws ``DecodeError`` with the offset of the bad field.
///
/// Formats: 2 (written) stores an index's target kind, class name and user options as fields;
/// 1 (still read, from schema logs written before indexes had targets) stored an index as kind,
/// column and its `system_schema` options map, and indexed vector columns only. The other parts
/// are the same in both.
public enum SchemaCodec {
    static let format: UInt8 = 2
    static let readableFormats: ClosedRange<UInt8> = 1 ... 2

    public static func encode(_ schema: Schema) -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        w.writeUInt8(format)
        let names = schema.userKeyspaces.keys.sorted()
        w.writeVarUInt(UInt64(names.count))
        for n in names {
            guard let k = schema.userKeyspaces[n] else { continue }
            write(k.params, into: &w)
            let tables = k.tables.keys.sorted()
            w.writeVarUInt(UInt64(tables.count))
            for t in tables { if let table = k.tables[t] { write(table, into: &w) } }
            let indexes = k.indexes.keys.sorted()
            w.writeVarUInt(UInt64(indexes.count))
            for i in indexes { if let index = k.indexes[i] { write(index, into: &w) } }
        }
        return w.bytes
    }

    public static func decodeSchema(_ bytes: [UInt8]) throws(DecodeError) -> Schema {
        var r = ByteReader(bytes)
        let format = try readFormat(&r)
        var keyspaces = [String: KeyspaceDefinition]()
        for _ in 0 ..< (try r.readVarLength()) {
            var k = KeyspaceDefinition(params: try readKeyspace(&r))
            for _ in 0 ..< (try r.readVarLength()) {
                let t = try readTable(&r)
                k.tables[t.name] = t
            }
            for _ in 0 ..< (try r.readVarLength()) {
                let i = try readIndex(&r, format: format)
                k.indexes[i.name] = i
            }
            keyspaces[k.name] = k
        }
        return Schema(userKeyspaces: keyspaces)
    }

    public static func encode(_ change: SchemaChange) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.writeUInt8(format)
        switch change {
        case let .createKeyspace(k, ine): w.writeUInt8(0); write(k, into: &w); w.writeBool(ine)
        case let .alterKeyspace(k): w.writeUInt8(1); write(k, into: &w)
        case let .dropKeyspace(n, ie): w.writeUInt8(2); w.writeVarString(n); w.writeBool(ie)
        case let .createTable(t, ine): w.writeUInt8(3); write(t, into: &w); w.writeBool(ine)
        case let .alterTable(ks, t, alteration, ie):
            w.writeUInt8(4); w.writeVarString(ks); w.writeVarString(t); w.writeBool(ie)
            switch alteration {
            case let .addColumns(cols, ine):
                w.writeUInt8(0); w.writeBool(ine)
                w.writeVarUInt(UInt64(cols.count))
                for c in cols { write(c, into: &w) }
            case let .dropColumns(names, at, ie2):
                w.writeUInt8(1); w.writeBool(ie2); w.writeVarInt(at)
                w.writeVarUInt(UInt64(names.count))
                for n in names { w.writeVarString(n) }
            case let .params(p): w.writeUInt8(2); write(p, into: &w)
            }
        case let .dropTable(ks, t, ie): w.writeUInt8(5); w.writeVarString(ks); w.writeVarString(t); w.writeBool(ie)
        case let .createIndex(i, ine): w.writeUInt8(6); write(i, into: &w); w.writeBool(ine)
        case let .dropIndex(ks, i, ie): w.writeUInt8(7); w.writeVarString(ks); w.writeVarString(i); w.writeBool(ie)
        }
        return w.bytes
    }

    public static func decodeChange(_ bytes: [UInt8]) throws(DecodeError) -> SchemaChange {
        var r = ByteReader(bytes)
        let format = try readFormat(&r)
        let at = r.position
        switch try r.readUInt8() {
        case 0: return .createKeyspace(try readKeyspace(&r), ifNotExists: try r.readBool())
        case 1: return .alterKeyspace(try readKeyspace(&r))
        case 2: return .dropKeyspace(try r.readVarString(), ifExists: try r.readBool())
        case 3: return .createTable(try readTable(&r), ifNotExists: try r.readBool())
        case 4:
            let ks = try r.readVarString(), t = try r.readVarString(), ie = try r.readBool()
            let tagAt = r.position
            let alteration: SchemaChange.TableAlteration
            switch try r.readUInt8() {
            case 0:
                let ine = try r.readBool()
                var cols = [ColumnDefinition]()
                for _ in 0 ..< (try r.readVarLength()) { cols.append(try readColumn(&r)) }
                alteration = .addColumns(cols, ifNotExists: ine)
            case 1:
                let ie2 = try r.readBool(), micros = try r.readVarInt()
                var names = [String]()
                for _ in 0 ..< (try r.readVarLength()) { names.append(try r.readVarString()) }
                alteration = .dropColumns(names, at: micros, ifExists: ie2)
            case 2: alteration = .params(try readParams(&r))
            case let x: throw DecodeError.invalid("unknown table alteration \(x)", at: tagAt)
            }
            return .alterTable(keyspace: ks, table: t, alteration, ifExists: ie)
        case 5: return .dropTable(keyspace: try r.readVarString(), table: try r.readVarString(), ifExists: try r.readBool())
        case 6: return .createIndex(try readIndex(&r, format: format), ifNotExists: try r.readBool())
        case 7: return .dropIndex(keyspace: try r.readVarString(), index: try r.readVarString(), ifExists: try r.readBool())
        case let x: throw DecodeError.invalid("unknown schema change \(x)", at: at)
        }
    }

    static func readFormat(_ r: inout ByteReader) throws(DecodeError) -> UInt8 {
        let at = r.position
        let f = try r.readUInt8()
        guard readableFormats.contains(f) else { throw DecodeError.invalid("unknown schema encoding format \(f)", at: at) }
        return f
    }

    // MARK: - Parts

    static func write(_ k: KeyspaceSchema, into w: inout ByteWriter) {
        w.writeVarString(k.name)
        switch k.replication {
        case .local: w.writeUInt8(0)
        case let .simple(rf): w.writeUInt8(1); w.writeVarUInt(UInt64(max(rf, 0)))
        case let .networkTopology(dcs):
            w.writeUInt8(2)
            w.writeVarUInt(UInt64(dcs.count))
            for dc in dcs.keys.sorted() { w.writeVarString(dc); w.writeVarUInt(UInt64(max(dcs[dc] ?? 0, 0))) }
        }
        w.writeBool(k.durableWrites)
    }

    static func readKeyspace(_ r: inout ByteReader) throws(DecodeError) -> KeyspaceSchema {
        let name = try r.readVarString()
        let at = r.position
        let replication: ReplicationParams
        switch try r.readUInt8() {
        case 0: replication = .local
        case 1: replication = .simple(replicationFactor: Int(clamping: try r.readVarUInt()))
        case 2:
            var dcs = [String: Int]()
            for _ in 0 ..< (try r.readVarLength()) { dcs[try r.readVarString()] = Int(clamping: try r.readVarUInt()) }
            replication = .networkTopology(dcs)
        case let x: throw DecodeError.invalid("unknown replication strategy tag \(x)", at: at)
        }
        return KeyspaceSchema(name: name, replication: replication, durableWrites: try r.readBool())
    }

    static func write(_ c: ColumnDefinition, into w: inout ByteWriter) {
        w.writeVarString(c.name)
        w.writeVarString(c.type.cqlName)
        let kind: UInt8 = switch c.kind {
        case .partitionKey: 0
        case .clustering: 1
        case .regular: 2
        case .static: 3
        }
        w.writeUInt8(kind)
        w.writeVarInt(Int64(c.position))
        w.writeBool(c.isDescending)
    }

    static func readColumn(_ r: inout ByteReader) throws(DecodeError) -> ColumnDefinition {
        let name = try r.readVarString()
        let typeAt = r.position
        let typeText = try r.readVarString()
        let type: CQLType
        do { type = try CQLType(parsing: typeText) } catch { throw DecodeError.invalid(error.description, at: typeAt) }
        let kindAt = r.position
        let kind: ColumnDefinition.Kind
        switch try r.readUInt8() {
        case 0: kind = .partitionKey
        case 1: kind = .clustering
        case 2: kind = .regular
        case 3: kind = .static
        case let x: throw DecodeError.invalid("unknown column kind \(x)", at: kindAt)
        }
        let position = Int(clamping: try r.readVarInt())
        return ColumnDefinition(name: name, type: type, kind: kind, position: position, isDescending: try r.readBool())
    }

    static func write(_ p: TableParams, into w: inout ByteWriter) {
        w.writeVarUInt(UInt64(max(p.chunkLengthKiB, 0)))
        w.writeBool(p.compressionEnabled)
        switch p.compaction {
        case let .sizeTiered(minT, maxT): w.writeUInt8(0); w.writeVarInt(Int64(minT)); w.writeVarInt(Int64(maxT))
        case let .timeWindow(window, minT, maxT):
            w.writeUInt8(1); w.writeVarInt(Int64(window)); w.writeVarInt(Int64(minT)); w.writeVarInt(Int64(maxT))
        case let .leveled(sizeMiB, fanout): w.writeUInt8(2); w.writeVarInt(Int64(sizeMiB)); w.writeVarInt(Int64(fanout))
        }
        w.writeVarInt(Int64(p.gcGraceSeconds))
        w.writeVarInt(Int64(p.defaultTimeToLive))
        w.writeDouble(p.bloomFilterFPChance)
        w.writeVarString(p.comment)
    }

    static func readParams(_ r: inout ByteReader) throws(DecodeError) -> TableParams {
        var p = TableParams()
        p.chunkLengthKiB = Int(clamping: try r.readVarUInt())
        p.compressionEnabled = try r.readBool()
        let at = r.position
        switch try r.readUInt8() {
        case 0: p.compaction = .sizeTiered(minThreshold: Int(clamping: try r.readVarInt()), maxThreshold: Int(clamping: try r.readVarInt()))
        case 1:
            p.compaction = .timeWindow(windowSeconds: Int(clamping: try r.readVarInt()), minThreshold: Int(clamping: try r.readVarInt()),
                                       maxThreshold: Int(clamping: try r.readVarInt()))
        case 2: p.compaction = .leveled(sstableSizeMiB: Int(clamping: try r.readVarInt()), fanout: Int(clamping: try r.readVarInt()))
        case let x: throw DecodeError.invalid("unknown compaction tag \(x)", at: at)
        }
        p.gcGraceSeconds = Int(clamping: try r.readVarInt())
        p.defaultTimeToLive = Int(clamping: try r.readVarInt())
        p.bloomFilterFPChance = try r.readDouble()
        p.comment = try r.readVarString()
        return p
    }

    static func write(_ t: TableSchema, into w: inout ByteWriter) {
        w.writeVarString(t.keyspace)
        w.writeVarString(t.name)
        w.writeUInt64(t.id.msb)
        w.writeUInt64(t.id.lsb)
        let cols = t.columns
        w.writeVarUInt(UInt64(cols.count))
        for c in cols { write(c, into: &w) }
        write(t.params, into: &w)
        w.writeVarUInt(UInt64(t.droppedColumns.count))
        for name in t.droppedColumns.keys.sorted() {
            w.writeVarString(name)
            w.writeVarInt(t.droppedColumns[name] ?? 0)
        }
    }

    static func readTable(_ r: inout ByteReader) throws(DecodeError) -> TableSchema {
        let ks = try r.readVarString(), name = try r.readVarString()
        let id = UUIDValue(msb: try r.readUInt64(), lsb: try r.readUInt64())
        var cols = [ColumnDefinition]()
        for _ in 0 ..< (try r.readVarLength()) { cols.append(try readColumn(&r)) }
        let params = try readParams(&r)
        var dropped = [String: Int64]()
        for _ in 0 ..< (try r.readVarLength()) { dropped[try r.readVarString()] = try r.readVarInt() }
        return TableSchema(keyspace: ks, name: name, id: id, columns: cols, params: params, droppedColumns: dropped)
    }

    static let targetTags: [IndexSchema.Target] = [.column, .keys, .values, .entries, .full]

    static func write(_ i: IndexSchema, into w: inout ByteWriter) {
        w.writeVarString(i.keyspace)
        w.writeVarString(i.table)
        w.writeVarString(i.name)
        w.writeVarString(i.kind.rawValue)
        w.writeVarString(i.column)
        w.writeUInt8(UInt8(targetTags.firstIndex(of: i.target) ?? 0))
        w.writeVarString(i.className)
        w.writeVarUInt(UInt64(i.userOptions.count))
        for k in i.userOptions.keys.sorted() { w.writeVarString(k); w.writeVarString(i.userOptions[k] ?? "") }
    }

    static func readIndex(_ r: inout ByteReader, format: UInt8) throws(DecodeError) -> IndexSchema {
        let ks = try r.readVarString(), table = try r.readVarString(), name = try r.readVarString()
        let at = r.position
        let kindText = try r.readVarString()
        guard let kind = IndexSchema.Kind(rawValue: kindText) else { throw DecodeError.invalid("unknown index kind \(kindText)", at: at) }
        let column = try r.readVarString()
        if format == 1 {
            // Format 1 kept the system_schema options map; its indexes were on vector columns.
            var options = [String: String]()
            for _ in 0 ..< (try r.readVarLength()) { options[try r.readVarString()] = try r.readVarString() }
            let className = options.removeValue(forKey: "class_name") ?? IndexSchema.saiClassName
            options["target"] = nil
            return IndexSchema(keyspace: ks, table: table, name: name, kind: kind, column: column, target: .column,
                               className: className, userOptions: options)
        }
        let tagAt = r.position
        let tag = Int(try r.readUInt8())
        guard tag < targetTags.count else { throw DecodeError.invalid("unknown index target \(tag)", at: tagAt) }
        let className = try r.readVarString()
        var options = [String: String]()
        for _ in 0 ..< (try r.readVarLength()) { options[try r.readVarString()] = try r.readVarString() }
        return IndexSchema(keyspace: ks, table: table, name: name, kind: kind, column: column, target: targetTags[tag],
                           className: className, userOptions: options)
    }
}
