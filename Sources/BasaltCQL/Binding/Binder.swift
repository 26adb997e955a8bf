import BasaltCore
import BasaltProtocol

/// Resolves parsed statements against a schema and the connection's current keyspace, producing
/// ``BoundStatement``s or Cassandra-worded Invalid errors (unknown names, missing key parts,
/// wrong literal types, bad DDL).
///
/// Pure: reads nothing but its inputs. Time and table ids for DDL come from the caller
/// (`nowMicros` is the drop time of dropped columns; `newTableID` names a created table), so the
/// coordinator decides them once and every node applies the same change.
public struct Binder: Sendable {
    public var schema: Schema
    public var keyspace: String?
    public var nowMicros: Int64
    public var newTableID: @Sendable () -> UUIDValue

    public init(schema: Schema, keyspace: String?, nowMicros: Int64 = 0, newTableID: @escaping @Sendable () -> UUIDValue = { UUIDValue.random() }) {
        self.schema = schema
        self.keyspace = keyspace
        self.nowMicros = nowMicros
        self.newTableID = newTableID
    }

    /// Parses and binds `text`; syntax errors come back as 0x2000 (or 0x2200 for unsupported statements).
    public func bind(_ text: String) throws(CQLError) -> BoundStatement {
        let parsed: ParsedStatement
        do { parsed = try CQLParser.parse(text) } catch { throw error.cqlError }
        return try bind(parsed)
    }

    public func bind(_ parsed: ParsedStatement) throws(CQLError) -> BoundStatement {
        var terms = TermBinder(markerCount: parsed.markers.count)
        var out = try bind(parsed.statement, terms: &terms)
        var specs = [ColumnSpec]()
        for (i, s) in terms.specs.enumerated() {
            guard let s else { throw .invalid("Bind marker \(i) is not allowed in this position") }
            specs.append(s)
        }
        out.variables = specs
        return out
    }

    func bind(_ statement: Statement, terms: inout TermBinder) throws(CQLError) -> BoundStatement {
        func ddl(_ change: SchemaChange, keyspace: String?) -> BoundStatement {
            BoundStatement(kind: .schemaChange(change), variables: [], partitionKeyIndexes: [], resultColumns: [], keyspace: keyspace)
        }
        switch statement {
        case let .use(ks):
            guard schema.keyspace(ks) != nil else { throw .invalid("Keyspace '\(ks)' does not exist") }
            return BoundStatement(kind: .use(ks), variables: [], partitionKeyIndexes: [], resultColumns: [], keyspace: ks)
        case let .createKeyspace(s):
            try Self.checkName(s.name, what: "Keyspace")
            return ddl(.createKeyspace(try Self.keyspaceSchema(s), ifNotExists: s.ifNotExists), keyspace: s.name)
        case let .alterKeyspace(s):
            guard let existing = schema.keyspace(s.name) else { throw .invalid("Keyspace '\(s.name)' doesn't exist") }
            return ddl(.alterKeyspace(try Self.keyspaceSchema(s, existing: existing.params)), keyspace: s.name)
        case let .dropKeyspace(name, ifExists):
            return ddl(.dropKeyspace(name, ifExists: ifExists), keyspace: name)
        case let .createTable(s):
            let t = try tableSchema(s)
            return ddl(.createTable(t, ifNotExists: s.ifNotExists), keyspace: t.keyspace)
        case let .alterTable(s):
            return ddl(try alterTable(s), keyspace: s.table.keyspace ?? keyspace)
        case let .dropTable(q, ifExists):
            let ks = try keyspaceName(q)
            return ddl(.dropTable(keyspace: ks, table: q.name, ifExists: ifExists), keyspace: ks)
        case let .truncate(q):
            let t = try table(q)
            if SystemKeyspaces.names.contains(t.keyspace) { throw .unauthorized("\(t.keyspace) keyspace is not user-modifiable.") }
            return BoundStatement(kind: .truncate(t), variables: [], partitionKeyIndexes: [], resultColumns: [], keyspace: t.keyspace)
        case let .createIndex(s):
            return ddl(try createIndex(s), keyspace: try keyspaceName(s.table))
        case let .dropIndex(q, ifExists):
            let ks = try keyspaceName(q)
            return ddl(.dropIndex(keyspace: ks, index: q.name, ifExists: ifExists), keyspace: ks)
        case let .insert(s): return try bindInsert(s, terms: &terms)
        case let .update(s): return try bindUpdate(s, terms: &terms)
        case let .delete(s): return try bindDelete(s, terms: &terms)
        case let .batch(b): return try bindBatch(b, terms: &terms)
        case let .select(s): return try bindSelect(s, terms: &terms)
        case let .describe(d):
            let columns = SchemaDescriber.columns(for: d).map { ColumnSpec(keyspace: "", table: "", name: $0, type: .text) }
            return BoundStatement(kind: .describe(d), variables: [], partitionKeyIndexes: [], resultColumns: columns, keyspace: nil)
        case let .auth(a): return try bindAuth(a)
        }
    }

    // MARK: - Names

    func keyspaceName(_ q: QualifiedName) throws(CQLError) -> String {
        guard let ks = q.keyspace ?? keyspace else {
            throw .invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
        }
        return ks
    }

    /// The table a statement names, or `unconfigured table x` as Cassandra says.
    func table(_ q: QualifiedName) throws(CQLError) -> TableSchema {
        let ks = try keyspaceName(q)
        guard let k = schema.keyspace(ks) else { throw .invalid("Keyspace \(ks) does not exist") }
        guard let t = k.tables[q.name] else { throw .invalid("unconfigured table \(q.name)") }
        return t
    }

    static func checkName(_ name: String, what: String) throws(CQLError) {
        let ok = !name.isEmpty && name.utf8.count <= 48 && name.utf8.allSatisfy {
            ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F
        }
        guard ok else {
            throw .invalid("\(what) name must not be empty, more than 48 characters long, or contain non-alphanumeric-underscore characters (got \"\(name)\")")
        }
    }

    static func column(_ t: TableSchema, _ name: String) throws(CQLError) -> ColumnDefinition {
        guard let c = t.column(named: name) else { throw .invalid("Undefined column name \(name) in table \(t.keyspace).\(t.name)") }
        return c
    }

    static func spec(_ t: TableSchema, _ c: ColumnDefinition) -> ColumnSpec {
        ColumnSpec(keyspace: t.keyspace, table: t.name, name: c.name, type: c.type)
    }

    static func spec(_ t: TableSchema, _ name: String, _ type: CQLType) -> ColumnSpec {
        ColumnSpec(keyspace: t.keyspace, table: t.name, name: name, type: type)
    }
}
