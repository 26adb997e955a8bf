import BasaltCore
import BasaltProtocol

/// `CREATE [CUSTOM] INDEX`: every index is a storage-attached index (Cassandra 5's SAI), checked
/// with Cassandra's rules in Cassandra's order so the first error a client sees is the one
/// Cassandra would report.
extension Binder {
    /// Whether `cls` names the storage-attached index: `sai` and `StorageAttachedIndex` in any
    /// case (Cassandra's aliases), or the full class name exactly.
    static func isStorageAttachedIndexClass(_ cls: String) -> Bool {
        ["sai", "storageattachedindex"].contains(cls.lowercased()) || cls == IndexSchema.saiClassName
    }

    func createIndex(_ s: CreateIndexStatement) throws(CQLError) -> SchemaChange {
        let className = try Self.indexClassName(s)
        let ks = try keyspaceName(s.table)
        guard let k = schema.keyspace(ks) else { throw .invalid("Keyspace '\(ks)' doesn't exist") }
        guard let t = k.tables[s.table.name] else { throw .invalid("Table '\(s.table.name)' doesn't exist") }
        if let name = s.name, let existing = k.indexes[name] {
            // IF NOT EXISTS makes the statement a no-op before anything else is checked.
            if s.ifNotExists { return .createIndex(existing, ifNotExists: true) }
            throw .invalid("Index '\(name)' already exists")
        }
        let column = try Self.column(t, s.column)
        let target = try Self.indexTarget(s.target, column, t)
        let name = s.name ?? Self.defaultIndexName(table: t.name, column: column.name, in: k)
        try Self.checkName(name, what: "Index")
        var userOptions = [String: String]()
        for (key, value) in s.options {
            if key == "class_name" || key == "target" { throw .invalid("Cannot specify \(key) as a CUSTOM option") }
            userOptions[key] = value
        }
        let index = IndexSchema(keyspace: ks, table: t.name, name: name, column: column.name, target: target,
                                className: className, userOptions: userOptions)
        let existing = k.indexes(on: t.name)
        if let same = existing.first(where: { $0.kind == index.kind && $0.options == index.options }) {
            if s.ifNotExists { return .createIndex(same, ifNotExists: true) }
            throw .invalid("Index \(name) is a duplicate of existing index \(same.name)")
        }
        let unknown = userOptions.keys.filter { !IndexOptions.knownKeys.contains($0) }
        if unknown.isEmpty, existing.contains(where: { $0.column == index.column && $0.target == index.target }) {
            throw .invalid("Cannot create more than one storage-attached index on the same column: \(column.name)")
        }
        _ = try IndexOptions.validated(userOptions, indexName: name, column: column, term: Self.indexedTerm(column, target))
        return .createIndex(index, ifNotExists: s.ifNotExists)
    }

    /// The class to record: the one written in `USING`, or `sai` when none was given (Cassandra 5
    /// with `default_secondary_index: sai`). Other implementations are refused.
    static func indexClassName(_ s: CreateIndexStatement) throws(CQLError) -> String {
        guard let cls = s.using else { return IndexSchema.defaultClassName }
        if isStorageAttachedIndexClass(cls) { return cls }
        let lower = cls.lowercased()
        if lower == "legacy_local_table" && !s.isCustom {
            throw .invalid("Basalt builds only storage-attached indexes: legacy_local_table secondary indexes are not supported (use USING 'sai')")
        }
        if lower == "sasiindex" || lower.hasSuffix(".sasiindex") {
            throw .invalid("Basalt builds only storage-attached indexes: SASI indexes are not supported (use USING 'sai')")
        }
        throw .configError("Unable to find custom indexer class '\(cls)'")
    }

    /// The target of `CREATE INDEX … (target)`, as Cassandra resolves and checks it: a bare
    /// collection column means `values(c)`; frozen collections need `full(c)`; `keys` and
    /// `entries` need a non-frozen map.
    static func indexTarget(_ written: String?, _ c: ColumnDefinition, _ t: TableSchema) throws(CQLError) -> IndexSchema.Target {
        var target: IndexSchema.Target
        switch written {
        case nil: target = .column
        case "keys": target = .keys
        case "values": target = .values
        case "entries": target = .entries
        case "full": target = .full
        case let w?: throw .invalid("Unknown index target \(w)(\(c.name))")
        }
        if target == .column && c.type.isCollection { target = .values }
        if c.kind == .partitionKey && t.partitionKey.count == 1 {
            throw .invalid("Cannot create secondary index on the only partition key column \(c.name)")
        }
        let frozenCollection = c.type.isCollection && !c.type.isMultiCell
        if frozenCollection && target != .full {
            throw .invalid("Cannot create \(target.rawValue)() index on frozen column \(c.name). Frozen collections are immutable and must be fully indexed by using the 'full(\(c.name))' modifier")
        }
        if !frozenCollection && target == .full { throw .invalid("full() indexes can only be created on frozen collections") }
        if !c.type.isCollection && target != .column {
            throw .invalid("Cannot create \(target.rawValue)() index on \(c.name). Non-collection columns only support simple indexes")
        }
        if target == .keys || target == .entries, !(c.type.isMultiCell && { if case .map = c.type { true } else { false } }()) {
            throw .invalid("Cannot create index on \(target.rawValue) of column \(c.name) with non-map type")
        }
        return target
    }

    /// What the index stores per row: the column value, a collection's elements, keys or entries.
    static func indexedTerm(_ c: ColumnDefinition, _ target: IndexSchema.Target) -> IndexOptions.Term {
        switch (target, c.type.unfrozen) {
        case let (.values, .list(e)), let (.values, .set(e)), let (.values, .map(_, e)), let (.keys, .map(e, _)): .single(e)
        case let (.entries, .map(k, v)): .entries(key: k, value: v)
        default: .single(c.type)
        }
    }

    /// Cassandra's name for an unnamed index: `<table>_<column>_idx` without non-word characters,
    /// with `_1`, `_2`… appended until it is free in the keyspace.
    static func defaultIndexName(table: String, column: String, in k: KeyspaceDefinition) -> String {
        let base = String(String.UnicodeScalarView((table + "_" + column + "_idx").unicodeScalars.filter {
            ($0.value >= 0x30 && $0.value <= 0x39) || ($0.value >= 0x41 && $0.value <= 0x5A) || ($0.value >= 0x61 && $0.value <= 0x7A) || $0 == "_"
        }))
        var name = base
        var i = 0
        while k.indexes[name] != nil {
            i += 1
            name = "\(base)_\(i)"
        }
        return name
    }
}
