import BasaltCore

/// The built-in keyspaces `system` and `system_schema`, with the tables (and Cassandra's column
/// names and types) that drivers and cqlsh query. They are listed in `system_schema` like any
/// other table, because cqlsh prints a SELECT's rows only for tables it finds there.
public enum SystemKeyspaces {
    public static let system = "system"
    public static let systemSchema = "system_schema"
    /// Keyspaces users cannot create, alter or drop, in the order DESCRIBE lists them.
    public static let names = [system, systemSchema]

    static func table(_ ks: String, _ name: String, partitionKey: [(String, CQLType)], clustering: [(String, CQLType)] = [],
                      regular: [(String, CQLType)], comment: String) -> TableSchema {
        var cols = [ColumnDefinition]()
        for (i, c) in partitionKey.enumerated() { cols.append(ColumnDefinition(name: c.0, type: c.1, kind: .partitionKey, position: i)) }
        for (i, c) in clustering.enumerated() { cols.append(ColumnDefinition(name: c.0, type: c.1, kind: .clustering, position: i)) }
        for c in regular { cols.append(ColumnDefinition(name: c.0, type: c.1, kind: .regular)) }
        var params = TableParams()
        params.comment = comment
        params.gcGraceSeconds = 0
        // Cassandra's id for system tables: the name-based UUID of keyspace + table name.
        return TableSchema(keyspace: ks, name: name, id: UUIDValue.nameBased(Array((ks + name).utf8)), columns: cols, params: params)
    }

    static let textMap = CQLType.frozen(.map(.text, .text))
    static let textList = CQLType.frozen(.list(.text))

    /// system.local, system.peers, system.peers_v2.
    public static let systemTables: [TableSchema] = [
        table(system, "local", partitionKey: [("key", .text)], regular: [
            ("bootstrapped", .text), ("broadcast_address", .inet), ("broadcast_port", .int), ("cluster_name", .text),
            ("cql_version", .text), ("data_center", .text), ("gossip_generation", .int), ("host_id", .uuid),
            ("listen_address", .inet), ("listen_port", .int), ("native_protocol_version", .text), ("partitioner", .text),
            ("rack", .text), ("release_version", .text), ("rpc_address", .inet), ("rpc_port", .int),
            ("schema_version", .uuid), ("tokens", .set(.text)), ("truncated_at", .map(.uuid, .blob)),
        ], comment: "information about the local node"),
        table(system, "peers", partitionKey: [("peer", .inet)], regular: [
            ("data_center", .text), ("host_id", .uuid), ("preferred_ip", .inet), ("rack", .text), ("release_version", .text),
            ("rpc_address", .inet), ("schema_version", .uuid), ("tokens", .set(.text)),
        ], comment: "information about known peers in the cluster"),
        table(system, "peers_v2", partitionKey: [("peer", .inet)], clustering: [("peer_port", .int)], regular: [
            ("data_center", .text), ("host_id", .uuid), ("native_address", .inet), ("native_port", .int), ("preferred_ip", .inet),
            ("preferred_port", .int), ("rack", .text), ("release_version", .text), ("schema_version", .uuid), ("tokens", .set(.text)),
        ], comment: "information about known peers in the cluster"),
    ]

    /// The system_schema tables the driver reads on connect (all nine must answer).
    public static let schemaTables: [TableSchema] = [
        table(systemSchema, "keyspaces", partitionKey: [("keyspace_name", .text)], regular: [
            ("durable_writes", .boolean), ("replication", textMap),
        ], comment: "keyspace definitions"),
        table(systemSchema, "tables", partitionKey: [("keyspace_name", .text)], clustering: [("table_name", .text)], regular: [
            ("additional_write_policy", .text), ("bloom_filter_fp_chance", .double), ("caching", textMap), ("cdc", .boolean),
            ("comment", .text), ("compaction", textMap), ("compression", textMap), ("crc_check_chance", .double),
            ("default_time_to_live", .int), ("extensions", .frozen(.map(.text, .blob))), ("flags", .frozen(.set(.text))),
            ("gc_grace_seconds", .int), ("id", .uuid), ("max_index_interval", .int), ("memtable_flush_period_in_ms", .int),
            ("min_index_interval", .int), ("read_repair", .text), ("speculative_retry", .text),
        ], comment: "table definitions"),
        table(systemSchema, "columns", partitionKey: [("keyspace_name", .text)], clustering: [("table_name", .text), ("column_name", .text)], regular: [
            ("clustering_order", .text), ("column_name_bytes", .blob), ("kind", .text), ("position", .int), ("type", .text),
        ], comment: "column definitions"),
        table(systemSchema, "dropped_columns", partitionKey: [("keyspace_name", .text)], clustering: [("table_name", .text), ("column_name", .text)], regular: [
            ("dropped_time", .timestamp), ("kind", .text), ("type", .text),
        ], comment: "dropped column registry"),
        table(systemSchema, "triggers", partitionKey: [("keyspace_name", .text)], clustering: [("table_name", .text), ("trigger_name", .text)], regular: [
            ("options", textMap),
        ], comment: "trigger definitions"),
        table(systemSchema, "views", partitionKey: [("keyspace_name", .text)], clustering: [("view_name", .text)], regular: [
            ("base_table_id", .uuid), ("base_table_name", .text), ("bloom_filter_fp_chance", .double), ("caching", textMap),
            ("comment", .text), ("compaction", textMap), ("compression", textMap), ("default_time_to_live", .int),
            ("gc_grace_seconds", .int), ("id", .uuid), ("include_all_columns", .boolean), ("where_clause", .text),
        ], comment: "view definitions"),
        table(systemSchema, "types", partitionKey: [("keyspace_name", .text)], clustering: [("type_name", .text)], regular: [
            ("field_names", textList), ("field_types", textList),
        ], comment: "user defined type definitions"),
        table(systemSchema, "functions", partitionKey: [("keyspace_name", .text)], clustering: [("function_name", .text), ("argument_types", textList)], regular: [
            ("argument_names", textList), ("body", .text), ("called_on_null_input", .boolean), ("language", .text), ("return_type", .text),
        ], comment: "user defined function definitions"),
        table(systemSchema, "aggregates", partitionKey: [("keyspace_name", .text)], clustering: [("aggregate_name", .text), ("argument_types", textList)], regular: [
            ("final_func", .text), ("initcond", .text), ("return_type", .text), ("state_func", .text), ("state_type", .text),
        ], comment: "user defined aggregate definitions"),
        table(systemSchema, "indexes", partitionKey: [("keyspace_name", .text)], clustering: [("table_name", .text), ("index_name", .text)], regular: [
            ("kind", .text), ("options", textMap),
        ], comment: "secondary index definitions"),
    ]

    /// The two system keyspaces with their tables (LocalStrategy, durable writes).
    public static let definitions: [String: KeyspaceDefinition] = {
        var out = [String: KeyspaceDefinition]()
        for ks in names {
            var tables = [String: TableSchema]()
            for t in systemTables + schemaTables where t.keyspace == ks { tables[t.name] = t }
            out[ks] = KeyspaceDefinition(params: KeyspaceSchema(name: ks, replication: .local, durableWrites: true), tables: tables)
        }
        return out
    }()
}
