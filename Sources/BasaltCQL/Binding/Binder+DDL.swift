import BasaltCore
import BasaltProtocol

extension Binder {
    static func keyspaceSchema(_ s: CreateKeyspaceStatement, existing: KeyspaceSchema? = nil) throws(CQLError) -> KeyspaceSchema {
        var replication = existing?.replication
        var durable = existing?.durableWrites ?? true
        var seen = Set<String>()
        for p in s.properties {
            let name = p.name.lowercased()
            guard seen.insert(name).inserted else { throw .syntaxError("Multiple definitions for property \(name)") }
            switch name {
            case "replication":
                guard let m = p.value.mapValue else { throw .syntaxError("Invalid value for property 'replication'. It should be a map.") }
                replication = try Self.replication(m, keyspace: s.name)
            case "durable_writes":
                guard case let .constant(c) = p.value, let b = Bool(c.lowercased()) else {
                    throw .syntaxError("Invalid value for property 'durable_writes'. It should be a boolean")
                }
                durable = b
            default:
                throw .syntaxError("Unknown property '\(p.name)'")
            }
        }
        guard let replication else { throw .configError("Missing mandatory option 'replication'") }
        return KeyspaceSchema(name: s.name, replication: replication, durableWrites: durable)
    }

    static func replication(_ m: [String: String], keyspace: String) throws(CQLError) -> ReplicationParams {
        guard let cls = m["class"] else { throw .configError("Missing replication strategy class") }
        func factor(_ key: String, _ text: String) throws(CQLError) -> Int {
            guard let v = Int(text) else { throw .configError("Replication factor must be numeric; found \(text)") }
            guard v >= 0 else { throw .configError("Replication factor must be non-negative; found \(v)") }
            return v
        }
        switch cls.split(separator: ".").last.map(String.init) ?? cls {
        case "SimpleStrategy":
            guard let rfText = m["replication_factor"] else { throw .configError("SimpleStrategy requires a replication_factor strategy option.") }
            if let extra = m.keys.sorted().first(where: { $0 != "class" && $0 != "replication_factor" }) {
                throw .configError("Unrecognized strategy option {\(extra)} passed to SimpleStrategy for keyspace \(keyspace)")
            }
            return .simple(replicationFactor: try factor("replication_factor", rfText))
        case "NetworkTopologyStrategy":
            var dcs = [String: Int]()
            for (k, v) in m where k != "class" {
                if k == "replication_factor" {
                    throw .configError("Basalt needs explicit data center names for NetworkTopologyStrategy (e.g. {'class': 'NetworkTopologyStrategy', 'datacenter1': 3})")
                }
                dcs[k] = try factor(k, v)
            }
            return .networkTopology(dcs)
        case "LocalStrategy", "EverywhereStrategy":
            throw .configError("Unable to use given strategy class: \(cls) is reserved for internal use.")
        default:
            throw .configError("Unable to find replication strategy class '\(cls)'")
        }
    }

    func tableSchema(_ s: CreateTableStatement) throws(CQLError) -> TableSchema {
        let ks = try keyspaceName(s.name)
        try Self.checkName(s.name.name, what: "Table")
        var byName = [String: ColumnDeclaration]()
        for c in s.columns {
            guard byName[c.name] == nil else { throw .invalid("Multiple definition of identifier \(c.name)") }
            byName[c.name] = c
        }
        let inline = s.columns.filter(\.isPrimaryKey)
        if inline.count > 1 || (!inline.isEmpty && !s.partitionKey.isEmpty) {
            throw .invalid("Multiple PRIMARY KEY specifications (only one is allowed)")
        }
        let partition = inline.isEmpty ? s.partitionKey : [inline[0].name]
        let clustering = inline.isEmpty ? s.clustering : []
        guard !partition.isEmpty else { throw .invalid("No PRIMARY KEY specifed for table '\(s.name.name)' (exactly one required)") }
        var keyNames = Set<String>()
        for n in partition + clustering {
            guard byName[n] != nil else { throw .invalid("Unknown definition \(n) referenced in PRIMARY KEY") }
            guard keyNames.insert(n).inserted else { throw .invalid("Multiple definition of identifier \(n)") }
        }
        var descending = [String: Bool]()
        for (i, o) in s.clusteringOrder.enumerated() {
            guard let pos = clustering.firstIndex(of: o.column) else {
                throw .invalid("Only clustering key columns can be defined in CLUSTERING ORDER directive: \(o.column) is not a clustering column")
            }
            guard pos == i else {
                throw .invalid("The order of columns in the CLUSTERING ORDER directive must match that of the clustering columns (\(clustering[i]) must appear before \(o.column))")
            }
            descending[o.column] = o.descending
        }
        if !s.clusteringOrder.isEmpty, s.clusteringOrder.count < clustering.count {
            throw .invalid("Missing CLUSTERING ORDER for column \(clustering[s.clusteringOrder.count])")
        }
        var columns = [ColumnDefinition]()
        for (i, n) in partition.enumerated() {
            guard let d = byName[n] else { continue }
            try Self.checkKeyType(d)
            columns.append(ColumnDefinition(name: n, type: d.type, kind: .partitionKey, position: i))
        }
        for (i, n) in clustering.enumerated() {
            guard let d = byName[n] else { continue }
            try Self.checkKeyType(d)
            columns.append(ColumnDefinition(name: n, type: d.type, kind: .clustering, position: i, isDescending: descending[n] ?? false))
        }
        for d in s.columns where !keyNames.contains(d.name) {
            if d.isStatic && clustering.isEmpty {
                throw .invalid("Static columns are only useful (and thus allowed) if the table has at least one clustering column")
            }
            columns.append(ColumnDefinition(name: d.name, type: d.type, kind: d.isStatic ? .static : .regular))
        }
        let params = try TableOptions.applying(s.properties, to: TableParams())
        return TableSchema(keyspace: ks, name: s.name.name, id: newTableID(), columns: columns, params: params)
    }

    static func checkKeyType(_ d: ColumnDeclaration) throws(CQLError) {
        if d.isStatic { throw .invalid("Static column \(d.name) cannot be part of the PRIMARY KEY") }
        if d.type.isMultiCell { throw .invalid("Invalid non-frozen collection type \(d.type.cqlName) for PRIMARY KEY component \(d.name)") }
    }

    func alterTable(_ s: AlterTableStatement) throws(CQLError) -> SchemaChange {
        let ks = try keyspaceName(s.table)
        let alteration: SchemaChange.TableAlteration
        switch s.action {
        case let .add(decls, ine):
            alteration = .addColumns(decls.map { ColumnDefinition(name: $0.name, type: $0.type, kind: $0.isStatic ? .static : .regular) }, ifNotExists: ine)
        case let .drop(names, ie):
            alteration = .dropColumns(names, at: nowMicros, ifExists: ie)
        case let .with(props):
            guard let t = schema.table(ks, s.table.name) else {
                if s.ifExists { return .alterTable(keyspace: ks, table: s.table.name, .params(TableParams()), ifExists: true) }
                throw .invalid("Table '\(ks).\(s.table.name)' doesn't exist")
            }
            alteration = .params(try TableOptions.applying(props, to: t.params))
        case .rename:
            throw .invalid("ALTER TABLE ... RENAME is not supported by Basalt")
        }
        return .alterTable(keyspace: ks, table: s.table.name, alteration, ifExists: s.ifExists)
    }
}
