import BasaltCore

/// One row of a system table: column name → serialized value; a missing column is null.
public typealias SchemaRow = [String: [UInt8]]

/// Renders the `system_schema` tables of a ``Schema`` as rows, with the columns and value forms
/// the Python driver's schema parser reads (flags `{'compound'}`, `kind`, `position` -1 for
/// regular columns, `clustering_order`, type text such as `vector<float, 5>`, index options with
/// `target` and `class_name`). System keyspaces are included.
public enum SchemaRows {
    /// The rows of `system_schema.<table>`, nil for a table that is not one of them.
    public static func rows(of table: String, in schema: Schema) -> [SchemaRow]? {
        let keyspaces = schema.allKeyspaces
        switch table {
        case "keyspaces": return keyspaces.map(keyspaceRow)
        case "tables": return keyspaces.flatMap { k in k.tables.keys.sorted().compactMap { k.tables[$0] }.map(tableRow) }
        case "columns": return keyspaces.flatMap { k in k.tables.keys.sorted().compactMap { k.tables[$0] }.flatMap(columnRows) }
        case "dropped_columns": return keyspaces.flatMap { k in k.tables.keys.sorted().compactMap { k.tables[$0] }.flatMap(droppedColumnRows) }
        case "indexes":
            // Clustered by (table_name, index_name).
            return keyspaces.flatMap { k in k.indexes.values.sorted { ($0.table, $0.name) < ($1.table, $1.name) }.map(indexRow) }
        case "triggers", "views", "types", "functions", "aggregates": return []
        default: return nil
        }
    }

    static func text(_ s: String) -> [UInt8] { Array(s.utf8) }
    static func int(_ v: Int) -> [UInt8] { (try? CQLType.int.encode(.int(Int32(clamping: v)))) ?? [] }
    static func double(_ v: Double) -> [UInt8] { (try? CQLType.double.encode(.double(v))) ?? [] }
    static func bool(_ v: Bool) -> [UInt8] { [v ? 1 : 0] }

    static func textMap(_ entries: [(String, String)]) -> [UInt8] {
        (try? CQLType.map(.text, .text).encode(.map(entries.map { CQLMapEntry(key: .text($0.0), value: .text($0.1)) }))) ?? []
    }

    public static func keyspaceRow(_ k: KeyspaceDefinition) -> SchemaRow {
        ["keyspace_name": text(k.name), "durable_writes": bool(k.params.durableWrites),
         "replication": textMap(k.params.replication.map.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })]
    }

    public static func tableRow(_ t: TableSchema) -> SchemaRow {
        let p = t.params
        return [
            "keyspace_name": text(t.keyspace), "table_name": text(t.name),
            "additional_write_policy": text("99p"), "bloom_filter_fp_chance": double(p.bloomFilterFPChance),
            "caching": textMap(TableOptions.cachingMap()), "cdc": bool(false), "comment": text(p.comment),
            "compaction": textMap(TableOptions.compactionMap(p)), "compression": textMap(TableOptions.compressionMap(p)),
            "crc_check_chance": double(1.0), "default_time_to_live": int(p.defaultTimeToLive),
            "extensions": (try? CQLType.map(.text, .blob).encode(.map([]))) ?? [],
            "flags": (try? CQLType.set(.text).encode(.set([.text("compound")]))) ?? [],
            "gc_grace_seconds": int(p.gcGraceSeconds), "id": t.id.bytes, "max_index_interval": int(2048),
            "memtable_flush_period_in_ms": int(0), "min_index_interval": int(128), "read_repair": text("BLOCKING"),
            "speculative_retry": text("99p"),
        ]
    }

    public static func columnRows(_ t: TableSchema) -> [SchemaRow] {
        t.columns.map { c in
            ["keyspace_name": text(t.keyspace), "table_name": text(t.name), "column_name": text(c.name),
             "clustering_order": text(c.clusteringOrderName), "column_name_bytes": text(c.name), "kind": text(c.kind.rawValue),
             "position": int(c.isPrimaryKey ? c.position : -1), "type": text(c.type.cqlName)]
        }
    }

    public static func droppedColumnRows(_ t: TableSchema) -> [SchemaRow] {
        t.droppedColumns.keys.sorted().map { name in
            ["keyspace_name": text(t.keyspace), "table_name": text(t.name), "column_name": text(name),
             "dropped_time": (try? CQLType.timestamp.encode(.timestamp((t.droppedColumns[name] ?? 0) / 1000))) ?? [],
             "kind": text("regular"), "type": text("blob")]
        }
    }

    public static func indexRow(_ i: IndexSchema) -> SchemaRow {
        ["keyspace_name": text(i.keyspace), "table_name": text(i.table), "index_name": text(i.name), "kind": text(i.kind.rawValue),
         "options": textMap(i.options.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })]
    }
}
