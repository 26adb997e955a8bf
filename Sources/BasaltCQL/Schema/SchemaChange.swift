import BasaltCore
import BasaltProtocol

/// One DDL change, fully resolved (ids and drop times chosen by the coordinator), so that every
/// node applying it reaches the same schema. This is what is replicated between nodes
/// (``SchemaCodec/encode(_:)-(SchemaChange)``).
public enum SchemaChange: Hashable, Sendable {
    public enum TableAlteration: Hashable, Sendable {
        case addColumns([ColumnDefinition], ifNotExists: Bool)
        /// Columns dropped at `micros` (data written at or before it is ignored).
        case dropColumns([String], at: Int64, ifExists: Bool)
        case params(TableParams)
    }

    case createKeyspace(KeyspaceSchema, ifNotExists: Bool)
    case alterKeyspace(KeyspaceSchema)
    case dropKeyspace(String, ifExists: Bool)
    case createTable(TableSchema, ifNotExists: Bool)
    case alterTable(keyspace: String, table: String, TableAlteration, ifExists: Bool)
    case dropTable(keyspace: String, table: String, ifExists: Bool)
    case createIndex(IndexSchema, ifNotExists: Bool)
    case dropIndex(keyspace: String, index: String, ifExists: Bool)
}

extension Schema {
    /// The schema with `change` applied, and what to announce (nil when an IF [NOT] EXISTS made it
    /// a no-op). Throws Cassandra's errors: AlreadyExists, Invalid for unknown names and broken
    /// rules, Unauthorized for system keyspaces.
    public func applying(_ change: SchemaChange) throws(CQLError) -> (Schema, SchemaChangeDescription?) {
        var s = self
        switch change {
        case let .createKeyspace(ks, ifNotExists):
            try Self.checkUserKeyspaceName(ks.name)
            if keyspace(ks.name) != nil {
                if ifNotExists { return (self, nil) }
                throw .alreadyExists("Cannot add existing keyspace \"\(ks.name)\"", keyspace: ks.name, table: "")
            }
            s.setKeyspace(KeyspaceDefinition(params: ks), named: ks.name)
            return (s, .init(change: .created, target: .keyspace, keyspace: ks.name))

        case let .alterKeyspace(ks):
            try Self.checkUserKeyspaceName(ks.name)
            guard var k = userKeyspaces[ks.name] else { throw .invalid("Keyspace '\(ks.name)' doesn't exist") }
            k.params = ks
            s.setKeyspace(k, named: ks.name)
            return (s, .init(change: .updated, target: .keyspace, keyspace: ks.name))

        case let .dropKeyspace(name, ifExists):
            try Self.checkUserKeyspaceName(name)
            guard userKeyspaces[name] != nil else {
                if ifExists { return (self, nil) }
                throw .invalid("Keyspace '\(name)' doesn't exist")
            }
            s.setKeyspace(nil, named: name)
            return (s, .init(change: .dropped, target: .keyspace, keyspace: name))

        case let .createTable(t, ifNotExists):
            try Self.checkUserKeyspaceName(t.keyspace)
            guard var k = userKeyspaces[t.keyspace] else { throw .invalid("Keyspace '\(t.keyspace)' doesn't exist") }
            if k.tables[t.name] != nil {
                if ifNotExists { return (self, nil) }
                throw .alreadyExists("Cannot add already existing table \"\(t.name)\" to keyspace \"\(t.keyspace)\"", keyspace: t.keyspace, table: t.name)
            }
            k.tables[t.name] = t
            s.setKeyspace(k, named: t.keyspace)
            return (s, .init(change: .created, target: .table, keyspace: t.keyspace, name: t.name))

        case let .alterTable(ksName, tableName, alteration, ifExists):
            try Self.checkUserKeyspaceName(ksName)
            guard var k = userKeyspaces[ksName] else { throw .invalid("Keyspace '\(ksName)' doesn't exist") }
            guard var t = k.tables[tableName] else {
                if ifExists { return (self, nil) }
                throw .invalid("Table '\(ksName).\(tableName)' doesn't exist")
            }
            switch alteration {
            case let .addColumns(cols, ifNotExists):
                var added = false
                for c in cols {
                    if t.column(named: c.name) != nil {
                        if ifNotExists { continue }
                        throw .invalid("Column with name '\(c.name)' already exists")
                    }
                    if c.kind == .static && t.clustering.isEmpty {
                        throw .invalid("Static columns are only useful (and thus allowed) if the table has at least one clustering column")
                    }
                    t.addColumn(c)
                    added = true
                }
                if !added { return (self, nil) }
            case let .dropColumns(names, micros, ifExists):
                var dropped = false
                for n in names {
                    guard let c = t.column(named: n) else {
                        if ifExists { continue }
                        throw .invalid("Column \(n) was not found in table \(ksName).\(tableName)")
                    }
                    if c.isPrimaryKey { throw .invalid("Cannot drop PRIMARY KEY column \(n)") }
                    let dependents = k.indexes(on: tableName).filter { $0.column == n }.map(\.name)
                    if !dependents.isEmpty {
                        throw .invalid("Cannot drop column \(n) because it has dependent secondary indexes (\(dependents.joined(separator: ", ")))")
                    }
                    t.dropColumn(named: n, at: micros)
                    dropped = true
                }
                if !dropped { return (self, nil) }
            case let .params(p):
                t.params = p
            }
            k.tables[tableName] = t
            s.setKeyspace(k, named: ksName)
            return (s, .init(change: .updated, target: .table, keyspace: ksName, name: tableName))

        case let .dropTable(ksName, tableName, ifExists):
            try Self.checkUserKeyspaceName(ksName)
            guard var k = userKeyspaces[ksName] else {
                if ifExists { return (self, nil) }
                throw .invalid("Keyspace '\(ksName)' doesn't exist")
            }
            guard k.tables[tableName] != nil else {
                if ifExists { return (self, nil) }
                throw .invalid("Table '\(ksName).\(tableName)' doesn't exist")
            }
            k.tables[tableName] = nil
            for i in k.indexes(on: tableName) { k.indexes[i.name] = nil }
            s.setKeyspace(k, named: ksName)
            return (s, .init(change: .dropped, target: .table, keyspace: ksName, name: tableName))

        case let .createIndex(index, ifNotExists):
            try Self.checkUserKeyspaceName(index.keyspace)
            guard var k = userKeyspaces[index.keyspace] else { throw .invalid("Keyspace '\(index.keyspace)' doesn't exist") }
            guard let t = k.tables[index.table] else { throw .invalid("Table '\(index.keyspace).\(index.table)' doesn't exist") }
            if k.indexes[index.name] != nil {
                if ifNotExists { return (self, nil) }
                throw .invalid("Index '\(index.name)' already exists")
            }
            guard t.column(named: index.column) != nil else { throw .invalid("Column '\(index.column)' doesn't exist") }
            let others = k.indexes(on: index.table)
            if let same = others.first(where: { $0.kind == index.kind && $0.options == index.options }) {
                if ifNotExists { return (self, nil) }
                throw .invalid("Index \(index.name) is a duplicate of existing index \(same.name)")
            }
            if others.contains(where: { $0.column == index.column && $0.target == index.target }) {
                throw .invalid("Cannot create more than one storage-attached index on the same column: \(index.column)")
            }
            k.indexes[index.name] = index
            s.setKeyspace(k, named: index.keyspace)
            return (s, .init(change: .updated, target: .table, keyspace: index.keyspace, name: index.table))

        case let .dropIndex(ksName, indexName, ifExists):
            try Self.checkUserKeyspaceName(ksName)
            guard var k = userKeyspaces[ksName], let index = k.indexes[indexName] else {
                if ifExists { return (self, nil) }
                throw .invalid("Index '\(ksName).\(indexName)' doesn't exist")
            }
            k.indexes[indexName] = nil
            s.setKeyspace(k, named: ksName)
            return (s, .init(change: .updated, target: .table, keyspace: ksName, name: index.table))
        }
    }

    static func checkUserKeyspaceName(_ name: String) throws(CQLError) {
        if SystemKeyspaces.names.contains(name) { throw .unauthorized("\(name) keyspace is not user-modifiable.") }
    }
}
