import BasaltCore
import BasaltProtocol

/// The result of a server-side DESCRIBE: text columns and rows, as Cassandra 4 answers cqlsh
/// (`keyspace_name, type, name[, create_statement]`).
public struct DescribeResult: Hashable, Sendable {
    public var columns: [String]
    public var rows: [[String]]

    public init(columns: [String], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }
}

/// What DESCRIBE CLUSTER reports; supplied by the node.
public struct ClusterDescription: Hashable, Sendable {
    public var clusterName: String
    public var partitioner: String
    public var snitch: String

    public init(clusterName: String, partitioner: String = "org.apache.cassandra.dht.Murmur3Partitioner",
                snitch: String = "org.apache.cassandra.locator.SimpleSnitch") {
        self.clusterName = clusterName
        self.partitioner = partitioner
        self.snitch = snitch
    }
}

/// Renders CREATE statements the way Cassandra's DESCRIBE prints them, and answers DESCRIBE.
public enum SchemaDescriber {
    /// `name` as CQL must write it: bare when a lower-case identifier that is not reserved,
    /// otherwise double-quoted with `"` doubled.
    public static func identifier(_ name: String) -> String {
        let bare = !name.isEmpty && name.utf8.first.map { $0 >= 0x61 && $0 <= 0x7A } == true
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
            && !CQLParser.reservedWords.contains(name)
        return bare ? name : "\"" + name.replacingAll("\"", with: "\"\"") + "\""
    }

    static func quote(_ s: String) -> String { "'" + s.replacingAll("'", with: "''") + "'" }

    static func mapLiteral(_ entries: [(String, String)]) -> String {
        "{" + entries.map { "\(quote($0.0)): \(quote($0.1))" }.joined(separator: ", ") + "}"
    }

    public static func createKeyspace(_ k: KeyspaceSchema) -> String {
        let map = k.replication.map
        let entries = [("class", map["class"] ?? "")] + map.filter { $0.key != "class" }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return "CREATE KEYSPACE \(identifier(k.name)) WITH replication = \(mapLiteral(entries))  AND durable_writes = \(k.durableWrites);"
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) + ".0" : String(d)
    }

    public static func createTable(_ t: TableSchema) -> String {
        var lines = [String]()
        let simpleKey = t.partitionKey.count == 1 && t.clustering.isEmpty
        for c in t.columns {
            var line = "    \(identifier(c.name)) \(c.type.cqlName)"
            if c.kind == .static { line += " static" }
            if simpleKey && c.kind == .partitionKey { line += " PRIMARY KEY" }
            lines.append(line)
        }
        if !simpleKey {
            let pk = t.partitionKey.map { identifier($0.name) }
            var key = pk.count == 1 ? pk[0] : "(" + pk.joined(separator: ", ") + ")"
            if !t.clustering.isEmpty { key += ", " + t.clustering.map { identifier($0.name) }.joined(separator: ", ") }
            lines.append("    PRIMARY KEY (\(key))")
        }
        var options = [String]()
        if !t.clustering.isEmpty {
            options.append("CLUSTERING ORDER BY (" + t.clustering.map { "\(identifier($0.name)) \($0.isDescending ? "DESC" : "ASC")" }.joined(separator: ", ") + ")")
        }
        let p = t.params
        options += [
            "additional_write_policy = '99p'",
            "bloom_filter_fp_chance = \(p.bloomFilterFPChance)",
            "caching = \(mapLiteral(TableOptions.cachingMap()))",
            "cdc = false",
            "comment = \(quote(p.comment))",
            "compaction = \(mapLiteral(TableOptions.compactionMap(p)))",
            "compression = \(mapLiteral(TableOptions.compressionMap(p)))",
            "memtable = 'default'",
            "crc_check_chance = 1.0",
            "default_time_to_live = \(p.defaultTimeToLive)",
            "extensions = {}",
            "gc_grace_seconds = \(p.gcGraceSeconds)",
            "max_index_interval = 2048",
            "memtable_flush_period_in_ms = 0",
            "min_index_interval = 128",
            "read_repair = 'BLOCKING'",
            "speculative_retry = '99p'",
        ]
        return "CREATE TABLE \(identifier(t.keyspace)).\(identifier(t.name)) (\n" + lines.joined(separator: ",\n") + "\n) WITH "
            + options.joined(separator: "\n    AND ") + ";"
    }

    /// `CREATE CUSTOM INDEX name ON ks.t (target) USING 'class' [WITH OPTIONS = {…}];` as
    /// Cassandra 5 prints it: the stored target and class name, the user's options sorted by key.
    public static func createIndex(_ i: IndexSchema) -> String {
        let on = "\(identifier(i.name)) ON \(identifier(i.keyspace)).\(identifier(i.table)) (\(i.targetText))"
        guard i.kind == .custom else { return "CREATE INDEX \(on);" }
        var s = "CREATE CUSTOM INDEX \(on) USING \(quote(i.className))"
        let extra = i.userOptions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if !extra.isEmpty { s += " WITH OPTIONS = \(mapLiteral(extra))" }
        return s + ";"
    }

    static let statementColumns = ["keyspace_name", "type", "name", "create_statement"]
    static let listingColumns = ["keyspace_name", "type", "name"]
    static let clusterColumns = ["cluster", "partitioner", "snitch"]

    /// The (text) result columns a DESCRIBE answers with.
    public static func columns(for d: DescribeStatement) -> [String] {
        switch d {
        case .cluster: clusterColumns
        case .keyspaces, .tables, .types, .functions, .aggregates: listingColumns
        case .keyspace, .table, .index, .schema, .name: statementColumns
        }
    }

    static func keyspaceRows(_ k: KeyspaceDefinition, only: Bool) -> [[String]] {
        var rows = [[k.name, "keyspace", k.name, createKeyspace(k.params)]]
        if only { return rows }
        for name in k.tables.keys.sorted() {
            guard let t = k.tables[name] else { continue }
            rows += tableRows(t, in: k)
        }
        return rows
    }

    static func tableRows(_ t: TableSchema, in k: KeyspaceDefinition) -> [[String]] {
        [[t.keyspace, "table", t.name, createTable(t)]] + k.indexes(on: t.name).map { [t.keyspace, "index", $0.name, createIndex($0)] }
    }

    /// Answers a DESCRIBE statement. Unknown names are Invalid errors worded like Cassandra's.
    public static func describe(_ d: DescribeStatement, schema: Schema, currentKeyspace: String?, cluster: ClusterDescription) throws(CQLError) -> DescribeResult {
        func keyspace(_ name: String?) throws(CQLError) -> KeyspaceDefinition {
            guard let name = name ?? currentKeyspace else { throw .invalid("No keyspace specified and no current keyspace") }
            guard let k = schema.keyspace(name) else { throw .invalid("'\(name)' not found in keyspaces") }
            return k
        }
        switch d {
        case .cluster:
            return DescribeResult(columns: clusterColumns, rows: [[cluster.clusterName, cluster.partitioner, cluster.snitch]])
        case .keyspaces:
            return DescribeResult(columns: listingColumns, rows: schema.allKeyspaces.map { [$0.name, "keyspace", $0.name] })
        case let .keyspace(name, only):
            return DescribeResult(columns: statementColumns, rows: keyspaceRows(try keyspace(name), only: only))
        case .tables:
            let spaces = currentKeyspace.flatMap { schema.keyspace($0) }.map { [$0] } ?? schema.allKeyspaces
            return DescribeResult(columns: listingColumns, rows: spaces.flatMap { k in k.tables.keys.sorted().map { [k.name, "table", $0] } })
        case let .table(q):
            let k = try keyspace(q.keyspace)
            guard let t = k.tables[q.name] else { throw .invalid("'\(q.name)' not found in keyspace '\(k.name)'") }
            return DescribeResult(columns: statementColumns, rows: tableRows(t, in: k))
        case let .index(q):
            let k = try keyspace(q.keyspace)
            guard let i = k.indexes[q.name] else { throw .invalid("'\(q.name)' not found in keyspace '\(k.name)'") }
            return DescribeResult(columns: statementColumns, rows: [[k.name, "index", i.name, createIndex(i)]])
        case let .schema(full):
            let spaces = full ? schema.allKeyspaces : schema.userKeyspaces.keys.sorted().compactMap { schema.userKeyspaces[$0] }
            return DescribeResult(columns: statementColumns, rows: spaces.flatMap { keyspaceRows($0, only: false) })
        case .types, .functions, .aggregates:
            return DescribeResult(columns: listingColumns, rows: [])
        case let .name(q):
            if q.keyspace == nil, let k = schema.keyspace(q.name) {
                return DescribeResult(columns: statementColumns, rows: keyspaceRows(k, only: false))
            }
            let k = try keyspace(q.keyspace)
            if let t = k.tables[q.name] { return DescribeResult(columns: statementColumns, rows: tableRows(t, in: k)) }
            if let i = k.indexes[q.name] { return DescribeResult(columns: statementColumns, rows: [[k.name, "index", i.name, createIndex(i)]]) }
            throw .invalid("'\(q.name)' not found in keyspace '\(k.name)'")
        }
    }
}
