import BasaltCore
import BasaltProtocol

extension Binder {
    func usingOperands(_ u: UsingClause, _ t: TableSchema, terms: inout TermBinder) throws(CQLError) -> (Operand?, Operand?) {
        let ttl = try u.ttl.map { x throws(CQLError) in try terms.operand(x, Self.spec(t, "[ttl]", .int)) }
        let ts = try u.timestamp.map { x throws(CQLError) in try terms.operand(x, Self.spec(t, "[timestamp]", .bigint)) }
        if case let .constant(b?)? = ttl, case let .int(v)? = try? CQLType.int.decode(b) {
            if v < 0 { throw .invalid("A TTL must be greater or equal to 0, but was \(v)") }
            if v > 630_720_000 { throw .invalid("ttl is too large. requested (\(v)) maximum (630720000)") }
        }
        return (ttl, ts)
    }

    static func checkWritable(_ t: TableSchema) throws(CQLError) {
        if SystemKeyspaces.names.contains(t.keyspace) { throw .unauthorized("\(t.keyspace) keyspace is not user-modifiable.") }
    }

    static func lwtUnsupported(_ what: String) -> CQLError {
        .invalid("Conditional updates (\(what)) are not supported by Basalt: lightweight transactions are not implemented")
    }

    func bindInsert(_ s: InsertStatement, terms: inout TermBinder) throws(CQLError) -> BoundStatement {
        let t = try table(s.table)
        try Self.checkWritable(t)
        if s.ifNotExists { throw Self.lwtUnsupported("IF NOT EXISTS") }
        guard s.columns.count == s.values.count else { throw .invalid("Unmatched column names/values") }
        var seen = Set<String>()
        var pk = [OperandList?](repeating: nil, count: t.partitionKey.count)
        var pkMarkers = [Int?](repeating: nil, count: t.partitionKey.count)
        var ck = [OperandList?](repeating: nil, count: t.clustering.count)
        var cells = [CellMutation<Operand>]()
        for (name, term) in zip(s.columns, s.values) {
            guard seen.insert(name).inserted else { throw .invalid("The column names contains duplicates") }
            let c = try Self.column(t, name)
            let op = try terms.operand(term, Self.spec(t, c))
            switch c.kind {
            case .partitionKey:
                if op == .constant(nil) { throw .invalid("Invalid null value in condition for column \(c.name)") }
                pk[c.position] = .values([op])
                if case let .marker(m) = term { pkMarkers[c.position] = m.index }
            case .clustering:
                if op == .constant(nil) { throw .invalid("Invalid null value in condition for column \(c.name)") }
                ck[c.position] = .values([op])
            case .regular, .static:
                cells.append(CellMutation(column: c, operation: .set(op)))
            }
        }
        let missingPK = t.partitionKey.filter { pk[$0.position] == nil }.map(\.name)
        if !missingPK.isEmpty { throw .invalid("Some partition key parts are missing: \(missingPK.joined(separator: ", "))") }
        let missingCK = t.clustering.filter { ck[$0.position] == nil }.map(\.name)
        let onlyStatic = !cells.isEmpty && cells.allSatisfy { $0.column.kind == .static }
        if !missingCK.isEmpty && !(onlyStatic && missingCK.count == t.clustering.count) {
            throw .invalid("Some clustering keys are missing: \(missingCK.joined(separator: ", "))")
        }
        let (ttl, ts) = try usingOperands(s.using, t, terms: &terms)
        let plan = WritePlan(table: t, partitionKey: pk.compactMap { $0 }, clustering: ck.compactMap { $0 }, slice: nil,
                             action: .insert(cells), ttl: ttl, timestamp: ts)
        let ms = pkMarkers.compactMap { $0 }
        return BoundStatement(kind: .writes([plan], batch: nil), variables: [],
                              partitionKeyIndexes: ms.count == t.partitionKey.count ? ms.map { UInt16($0) } : [],
                              resultColumns: [], keyspace: t.keyspace)
    }

    /// The key restrictions of an UPDATE or DELETE: the whole partition key by = / IN, and the
    /// clustering columns by = / IN (a prefix; with `allowSlice`, a range after it).
    func writeKeys(_ restrictions: KeyRestrictions, _ t: TableSchema, allowSlice: Bool, requireFullClustering: Bool)
        throws(CQLError) -> (KeyRestrictions, [OperandList], SliceOperands?)
    {
        var r = restrictions
        if r.hasToken { throw .invalid("The token function cannot be used in WHERE clauses for UPDATE and DELETE statements") }
        if let f = r.filters.first {
            throw f.column.isPrimaryKey
                ? .invalid("Invalid operator \(f.op.rawValue) for PRIMARY KEY part \(f.column.name)")
                : .invalid("Non PRIMARY KEY columns found in where clause: \(r.filters.map(\.column.name).joined(separator: ", "))")
        }
        let missing = t.partitionKey.filter { r.partition[$0.position] == nil }.map(\.name)
        if !missing.isEmpty { throw .invalid("Some partition key parts are missing: \(missing.joined(separator: ", "))") }
        let (prefix, slice) = try clusteringPlan(&r, t, allowFiltering: false)
        if slice != nil && !allowSlice {
            throw .invalid("Slice restrictions are not supported on the clustering columns in UPDATE statements")
        }
        if requireFullClustering && prefix.count < t.clustering.count {
            throw .invalid("Missing mandatory PRIMARY KEY part \(t.clustering[prefix.count].name)")
        }
        return (r, prefix, slice)
    }

    func bindUpdate(_ s: UpdateStatement, terms: inout TermBinder) throws(CQLError) -> BoundStatement {
        let t = try table(s.table)
        try Self.checkWritable(t)
        if let c = s.condition { throw Self.lwtUnsupported(c == .ifExists ? "IF EXISTS" : "IF") }
        let (ttl, ts) = try usingOperands(s.using, t, terms: &terms)
        var cells = [CellMutation<Operand>]()
        for a in s.assignments {
            let c = try Self.column(t, a.column)
            if c.isPrimaryKey { throw .invalid("PRIMARY KEY part \(c.name) found in SET part") }
            cells.append(CellMutation(column: c, operation: try assignment(a, c, t, terms: &terms)))
        }
        let rel = try restrictions(s.whereClause, t, terms: &terms)
        // Static-only updates need just the partition key.
        let staticOnly = cells.allSatisfy { $0.column.kind == .static } && rel.clusteringEq.allSatisfy { $0 == nil }
        let (r, prefix, _) = try writeKeys(rel, t, allowSlice: false, requireFullClustering: !staticOnly)
        let plan = WritePlan(table: t, partitionKey: r.partition.compactMap { $0 }, clustering: prefix, slice: nil, action: .update(cells), ttl: ttl, timestamp: ts)
        return BoundStatement(kind: .writes([plan], batch: nil), variables: [], partitionKeyIndexes: r.pkIndexes, resultColumns: [], keyspace: t.keyspace)
    }

    func assignment(_ a: Assignment, _ c: ColumnDefinition, _ t: TableSchema, terms: inout TermBinder) throws(CQLError) -> CellOperation<Operand> {
        let receiver = Self.spec(t, c)
        let type = c.type
        switch a {
        case let .set(_, v): return .set(try terms.operand(v, receiver))
        case let .append(_, v), let .prepend(_, v), let .remove(_, v):
            guard type.isMultiCell else {
                throw .invalid("Invalid operation (\(c.name) = \(c.name) \(a.isRemove ? "-" : "+") ...) for non counter column \(c.name)")
            }
            var operandReceiver = receiver
            if case let .map(k, _) = type, case .remove = a { operandReceiver.type = .set(k) }
            if case .prepend = a, case .list = type {} else if case .prepend = a {
                throw .invalid("Invalid operation (\(c.name) = ... + \(c.name)) for non list column \(c.name)")
            }
            let op = try terms.operand(v, operandReceiver)
            if op == .constant(nil) { throw .invalid("Invalid null value for \(c.name)") }
            switch a {
            case .append: return .add(op)
            case .prepend: return .prepend(op)
            default: return .remove(op)
            }
        case let .setElement(_, key, value):
            switch type {
            case let .map(kt, vt):
                return .setElement(key: try terms.operand(key, Self.spec(t, "key(\(c.name))", kt)), value: try terms.operand(value, Self.spec(t, "value(\(c.name))", vt)))
            case let .list(e):
                return .setElement(key: try terms.operand(key, Self.spec(t, "idx(\(c.name))", .int)), value: try terms.operand(value, Self.spec(t, "value(\(c.name))", e)))
            default:
                throw .invalid("Invalid operation (\(c.name)[...] = ...) for non list or map column \(c.name) (or a frozen collection)")
            }
        }
    }

    func bindDelete(_ s: DeleteStatement, terms: inout TermBinder) throws(CQLError) -> BoundStatement {
        let t = try table(s.table)
        try Self.checkWritable(t)
        if let c = s.condition { throw Self.lwtUnsupported(c == .ifExists ? "IF EXISTS" : "IF") }
        var cells = [CellMutation<Operand>]()
        for target in s.targets {
            switch target {
            case let .column(name):
                let c = try Self.column(t, name)
                if c.isPrimaryKey { throw .invalid("Invalid identifier \(c.name) for deletion (should not be a PRIMARY KEY part)") }
                cells.append(CellMutation(column: c, operation: .delete))
            case let .element(name, key):
                let c = try Self.column(t, name)
                let keyType: CQLType
                switch c.type {
                case let .map(k, _): keyType = k
                case .list: keyType = .int
                case let .set(e): keyType = e
                default: throw .invalid("Invalid deletion operation for non collection column \(c.name)")
                }
                cells.append(CellMutation(column: c, operation: .deleteElement(key: try terms.operand(key, Self.spec(t, "key(\(c.name))", keyType)))))
            }
        }
        let (_, ts) = try usingOperands(s.using, t, terms: &terms)
        let onlyStatic = !cells.isEmpty && cells.allSatisfy { $0.column.kind == .static }
        let (r, prefix, slice) = try writeKeys(try restrictions(s.whereClause, t, terms: &terms), t, allowSlice: cells.isEmpty,
                                               requireFullClustering: !cells.isEmpty && !onlyStatic)
        let plan = WritePlan(table: t, partitionKey: r.partition.compactMap { $0 }, clustering: prefix, slice: slice, action: .delete(cells), ttl: nil, timestamp: ts)
        return BoundStatement(kind: .writes([plan], batch: nil), variables: [], partitionKeyIndexes: r.pkIndexes, resultColumns: [], keyspace: t.keyspace)
    }

    func bindBatch(_ b: BatchStatement, terms: inout TermBinder) throws(CQLError) -> BoundStatement {
        if b.kind == .counter { throw .invalid("Counter batches are not supported by Basalt (no counter columns)") }
        var plans = [WritePlan]()
        var pk = [UInt16]()
        var keyspace: String?
        let batchTimestamp = try b.using.timestamp.map { x throws(CQLError) in
            try terms.operand(x, ColumnSpec(keyspace: "", table: "", name: "[timestamp]", type: .bigint))
        }
        for (i, s) in b.statements.enumerated() {
            let bound = try bind(s, terms: &terms)
            guard case let .writes(ps, _) = bound.kind else { throw .invalid("Only INSERT, UPDATE and DELETE statements are allowed in a BATCH") }
            for var p in ps {
                if let batchTimestamp {
                    if p.timestamp != nil { throw .invalid("Timestamp must be set either on BATCH or individual statements") }
                    p.timestamp = batchTimestamp
                }
                plans.append(p)
            }
            if i == 0 { pk = bound.partitionKeyIndexes; keyspace = bound.keyspace }
        }
        return BoundStatement(kind: .writes(plans, batch: b.kind), variables: [], partitionKeyIndexes: pk, resultColumns: [], keyspace: keyspace)
    }
}

extension Assignment {
    var isRemove: Bool {
        if case .remove = self { return true }
        return false
    }
}
