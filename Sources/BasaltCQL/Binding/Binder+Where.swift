import BasaltCore
import BasaltProtocol

/// What a WHERE clause restricts, sorted by the role of the columns (Cassandra's
/// StatementRestrictions, reduced to what Basalt executes).
struct KeyRestrictions {
    /// Per partition-key column by position; nil where unrestricted.
    var partition: [OperandList?]
    /// The marker index of `pk = ?` per partition-key column (token-aware routing).
    var partitionMarkers: [Int?]
    /// Per clustering column by position: equality/IN values.
    var clusteringEq: [OperandList?]
    /// Per clustering column by position: range bounds.
    var clusteringSlice: [(lower: (Operand, Bool)?, upper: (Operand, Bool)?)?]
    var multiColumnSlice: SliceOperands?
    var tokenLower: (Operand, Bool)?
    var tokenUpper: (Operand, Bool)?
    /// Restrictions keys cannot answer: regular and static columns, and key columns out of key
    /// order. Each is filtered or, for a SELECT, answered by an index (``Binder/planIndexes``).
    var filters: [ColumnRestriction] = []

    var partitionFullyRestricted: Bool { partition.allSatisfy { $0 != nil } }
    var partitionUnrestricted: Bool { partition.allSatisfy { $0 == nil } }
    var hasToken: Bool { tokenLower != nil || tokenUpper != nil }

    /// The marker indexes forming the partition key, or empty if some part is not a plain marker.
    var pkIndexes: [UInt16] {
        let ms = partitionMarkers.compactMap { $0 }
        return ms.count == partitionMarkers.count ? ms.map { UInt16(truncatingIfNeeded: $0) } : []
    }
}

extension Binder {
    static let filteringMessage = "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING"

    func restrictions(_ relations: [Relation], _ t: TableSchema, terms: inout TermBinder) throws(CQLError) -> KeyRestrictions {
        var r = KeyRestrictions(partition: Array(repeating: nil, count: t.partitionKey.count),
                                partitionMarkers: Array(repeating: nil, count: t.partitionKey.count),
                                clusteringEq: Array(repeating: nil, count: t.clustering.count),
                                clusteringSlice: Array(repeating: nil, count: t.clustering.count))
        for rel in relations {
            if rel.op == .analyzerMatches {
                throw .invalid("The analyzer match operator ':' needs a storage-attached index with an index_analyzer, which Basalt does not support; restrict \(Self.relationColumns(rel)) with = or CONTAINS instead")
            }
            switch rel.target {
            case let .token(cols):
                guard cols == t.partitionKey.map(\.name) else {
                    throw .invalid("The token function arguments must be in the partition key order: \(t.partitionKey.map(\.name).joined(separator: ", "))")
                }
                guard let term = rel.value else { throw .invalid("IN restrictions are not supported on token()") }
                let op = try terms.operand(term, Self.spec(t, "partition key token", .bigint))
                switch rel.op {
                case .eq: try setBound(&r.tokenLower, (op, true), "start", cols); try setBound(&r.tokenUpper, (op, true), "end", cols)
                case .gt: try setBound(&r.tokenLower, (op, false), "start", cols)
                case .gte: try setBound(&r.tokenLower, (op, true), "start", cols)
                case .lt: try setBound(&r.tokenUpper, (op, false), "end", cols)
                case .lte: try setBound(&r.tokenUpper, (op, true), "end", cols)
                default: throw .invalid("\(rel.op.rawValue) restrictions are not supported on token()")
                }
            case let .column(name):
                let c = try Self.column(t, name)
                let values = try operandList(rel, c, t, terms: &terms)
                switch c.kind {
                case .partitionKey:
                    guard rel.op == .eq || rel.op == .in else {
                        throw .invalid("Only EQ and IN relation are supported on the partition key (unless you use the token() function)")
                    }
                    guard r.partition[c.position] == nil else { throw .invalid("\(c.name) cannot be restricted by more than one relation if it includes an Equal") }
                    r.partition[c.position] = values
                    if rel.op == .eq, case let .marker(m)? = rel.value { r.partitionMarkers[c.position] = m.index }
                case .clustering:
                    switch rel.op {
                    case .eq, .in:
                        guard r.clusteringEq[c.position] == nil, r.clusteringSlice[c.position] == nil else {
                            throw .invalid("\(c.name) cannot be restricted by more than one relation if it includes an Equal")
                        }
                        r.clusteringEq[c.position] = values
                    case .lt, .lte, .gt, .gte:
                        guard r.clusteringEq[c.position] == nil, case let .values(ops) = values, let op = ops.first else {
                            throw .invalid("\(c.name) cannot be restricted by both an equality and an inequality relation")
                        }
                        var s = r.clusteringSlice[c.position] ?? (nil, nil)
                        let inclusive = rel.op == .lte || rel.op == .gte
                        if rel.op == .gt || rel.op == .gte {
                            guard s.lower == nil else { throw .invalid("More than one restriction was found for the start bound on \(c.name)") }
                            s.lower = (op, inclusive)
                        } else {
                            guard s.upper == nil else { throw .invalid("More than one restriction was found for the end bound on \(c.name)") }
                            s.upper = (op, inclusive)
                        }
                        r.clusteringSlice[c.position] = s
                    default:
                        r.filters.append(ColumnRestriction(column: c, op: rel.op, values: values))
                    }
                case .regular, .static:
                    r.filters.append(ColumnRestriction(column: c, op: rel.op, values: values))
                }
            case let .columns(names):
                try multiColumn(rel, names, t, &r, terms: &terms)
            case let .element(name, key):
                r.filters.append(try mapEntryRestriction(rel, name, key, t, terms: &terms))
            }
        }
        if r.hasToken && !r.partitionUnrestricted {
            throw .invalid("Columns \"\(t.partitionKey.map(\.name).joined(separator: ", "))\" cannot be restricted by both a normal relation and a token relation")
        }
        return r
    }

    static func relationColumns(_ rel: Relation) -> String {
        switch rel.target {
        case let .column(c), let .element(c, _): c
        case let .token(cs): "token(\(cs.joined(separator: ", ")))"
        case let .columns(cs): "(\(cs.joined(separator: ", ")))"
        }
    }

    /// `m[key] = value` on a non-frozen map, as Cassandra allows it.
    func mapEntryRestriction(_ rel: Relation, _ name: String, _ key: Term, _ t: TableSchema, terms: inout TermBinder) throws(CQLError) -> ColumnRestriction {
        let c = try Self.column(t, name)
        if case .list = c.type.unfrozen { throw .invalid("Indexes on list entries (\(c.name)[index] = value) are not currently supported.") }
        guard case let .map(kt, vt) = c.type.unfrozen else { throw .invalid("Column \(c.name) cannot be used as a map") }
        guard c.type.isMultiCell else { throw .invalid("Map-entry equality predicates on frozen map column \(c.name) are not supported") }
        guard rel.op == .eq, let valueTerm = rel.value else { throw .invalid("Only EQ relations are supported on map entries") }
        let k = try terms.operand(key, Self.spec(t, "key(\(c.name))", kt))
        let v = try terms.operand(valueTerm, Self.spec(t, "value(\(c.name))", vt))
        if k == .constant(nil) || v == .constant(nil) { throw .invalid("Unsupported null map \(k == .constant(nil) ? "key" : "value") for column \(c.name)") }
        return ColumnRestriction(column: c, op: .eq, values: .values([v]), mapKey: k)
    }

    func setBound(_ slot: inout (Operand, Bool)?, _ v: (Operand, Bool), _ which: String, _ cols: [String]) throws(CQLError) {
        guard slot == nil else { throw .invalid("More than one restriction was found for the \(which) bound on \(cols.joined(separator: ", "))") }
        slot = v
    }

    /// The right side of a single-column relation as candidate values.
    func operandList(_ rel: Relation, _ c: ColumnDefinition, _ t: TableSchema, terms: inout TermBinder) throws(CQLError) -> OperandList {
        let receiver = Self.spec(t, c)
        switch rel.op {
        case .in:
            if let items = rel.inValues {
                return .values(try items.map { i throws(CQLError) in try terms.operand(i, receiver) })
            }
            guard let term = rel.value else { throw .invalid("Invalid IN relation on \(c.name)") }
            let listType = CQLType.list(c.type.unfrozen.isCollection ? .frozen(c.type.unfrozen) : c.type)
            if case let .marker(m) = term {
                terms.record(m, Self.spec(t, "in(\(c.name))", listType))
                return .listMarker(m.index, listType)
            }
            guard case let .list(items) = term else { throw .invalid("Invalid IN relation on \(c.name)") }
            return .values(try items.map { i throws(CQLError) in try terms.operand(i, receiver) })
        case .contains, .containsKey:
            let element: CQLType
            switch (c.type.unfrozen, rel.op) {
            case let (.list(e), .contains), let (.set(e), .contains), let (.map(_, e), .contains), let (.map(e, _), .containsKey): element = e
            case (_, .containsKey): throw .invalid("Cannot use CONTAINS KEY on non-map column \(c.name)")
            default: throw .invalid("Cannot use CONTAINS on non-collection column \(c.name)")
            }
            guard let term = rel.value else { throw .invalid("Invalid \(rel.op.rawValue) relation on \(c.name)") }
            let op = try terms.operand(term, Self.spec(t, "\(rel.op == .containsKey ? "key" : "value")(\(c.name))", element))
            if op == .constant(nil) { throw .invalid("Unsupported null value for column \(c.name)") }
            return .values([op])
        default:
            guard let term = rel.value else { throw .invalid("Invalid relation on \(c.name)") }
            let op = try terms.operand(term, receiver)
            if op == .constant(nil) { throw .invalid("Unsupported null value for column \(c.name)") }
            return .values([op])
        }
    }

    /// `(c1, c2) = (a, b)` and `(c1, c2) > (a, b)` on consecutive clustering columns.
    func multiColumn(_ rel: Relation, _ names: [String], _ t: TableSchema, _ r: inout KeyRestrictions, terms: inout TermBinder) throws(CQLError) {
        var cols = [ColumnDefinition]()
        for n in names {
            let c = try Self.column(t, n)
            guard c.kind == .clustering else { throw .invalid("Multi-column relations can only be applied to clustering columns but was applied to: \(n)") }
            cols.append(c)
        }
        guard let first = cols.first, cols.enumerated().allSatisfy({ $0.element.position == first.position + $0.offset }) else {
            throw .invalid("Clustering columns must appear in the PRIMARY KEY order in multi-column relations: (\(names.joined(separator: ", ")))")
        }
        guard rel.op != .in else { throw .invalid("Multi-column IN relations are not supported by Basalt") }
        guard case let .tuple(items)? = rel.value, items.count == cols.count else {
            throw .invalid("Expected \(cols.count) elements in value tuple, but got a different value for (\(names.joined(separator: ", ")))")
        }
        var ops = [Operand]()
        for (c, item) in zip(cols, items) { ops.append(try terms.operand(item, Self.spec(t, c))) }
        switch rel.op {
        case .eq:
            for (c, op) in zip(cols, ops) {
                guard r.clusteringEq[c.position] == nil else { throw .invalid("\(c.name) cannot be restricted by more than one relation if it includes an Equal") }
                r.clusteringEq[c.position] = .values([op])
            }
        case .lt, .lte, .gt, .gte:
            var s = r.multiColumnSlice ?? SliceOperands(columns: cols)
            guard s.columns.first == first else { throw .invalid("Mixed multi-column slice restrictions are not supported by Basalt") }
            let inclusive = rel.op == .lte || rel.op == .gte
            if rel.op == .gt || rel.op == .gte {
                guard s.lower == nil else { throw .invalid("More than one restriction was found for the start bound on \(names.joined(separator: ", "))") }
                s.lower = (ops, inclusive)
            } else {
                guard s.upper == nil else { throw .invalid("More than one restriction was found for the end bound on \(names.joined(separator: ", "))") }
                s.upper = (ops, inclusive)
            }
            if cols.count > s.columns.count { s.columns = cols }
            r.multiColumnSlice = s
        default:
            throw .invalid("\(rel.op.rawValue) is not supported on multi-column relations")
        }
    }

    /// The clustering prefix (= / IN in key order) and an optional slice right after it.
    /// `allowFiltering` lets later restrictions become filters instead of errors.
    func clusteringPlan(_ r: inout KeyRestrictions, _ t: TableSchema, allowFiltering: Bool) throws(CQLError) -> ([OperandList], SliceOperands?) {
        var prefix = [OperandList]()
        var slice: SliceOperands?
        var stop: (ColumnDefinition, String)?
        for c in t.clustering {
            if let s = slice, s.columns.count > 1, s.columns.contains(c) { continue }
            let eq = r.clusteringEq[c.position], range = r.clusteringSlice[c.position]
            let inMulti = r.multiColumnSlice?.columns.contains(c) ?? false
            if eq == nil && range == nil && !inMulti {
                if stop == nil { stop = (c, "unrestricted") }
                continue
            }
            if let (prev, why) = stop {
                guard allowFiltering else {
                    throw why == "unrestricted"
                        ? .invalid("PRIMARY KEY column \"\(c.name)\" cannot be restricted as preceding column \"\(prev.name)\" is not restricted")
                        : .invalid("Clustering column \"\(c.name)\" cannot be restricted (preceding column \"\(prev.name)\" is restricted by a non-EQ relation)")
                }
                if let eq { r.filters.append(ColumnRestriction(column: c, op: eq.isSingle ? .eq : .in, values: eq)) }
                if let range { r.filters += ColumnRestriction.bounds(c, range) }
                if inMulti { throw .invalid("Multi-column restrictions after an unrestricted clustering column are not supported by Basalt") }
                continue
            }
            if let eq {
                prefix.append(eq)
            } else if let range {
                slice = SliceOperands(columns: [c], lower: range.lower.map { ([$0.0], $0.1) }, upper: range.upper.map { ([$0.0], $0.1) })
                stop = (c, "slice")
            } else if inMulti, let m = r.multiColumnSlice, m.columns.first == c {
                slice = m
                stop = (c, "slice")
            }
        }
        return (prefix, slice)
    }
}
