import BasaltCore
import BasaltProtocol

/// How a SELECT's WHERE clause is answered: partition keys (or a token range), clustering
/// prefixes and slice, storage-attached index restrictions, and ALLOW FILTERING filters.
struct SelectRestrictions {
    var partitionKey: [OperandList]?
    var clustering: [OperandList]
    var slice: SliceOperands?
    var filters: [ColumnRestriction]
    var indexRestrictions: [IndexRestriction<Operand>]
}

/// Planning a SELECT against the table's storage-attached indexes, with Cassandra 5's rules
/// (StatementRestrictions with SAI):
///
/// - An index is used when one answers a restriction the primary key cannot: on a regular or
///   static column, on part of the partition key, on a clustering column out of key order, or
///   on any clustering column when the partition key is not given — or when the query has an
///   `ORDER BY … ANN OF`. Then every such restriction an index answers becomes an
///   ``IndexRestriction``; the rest are filters and need ALLOW FILTERING.
/// - With a given partition key, a clustering prefix and slice are read as usual.
/// - ANN: every restricted column other than the partition key must have an index, and the
///   partition key may not be partly restricted, even with ALLOW FILTERING.
/// - A vector column's index answers only ANN; IN on the partition key cannot be combined with
///   an index.
extension Binder {
    static let annRequiresIndexedFiltering = "ANN ordering by vector requires all restricted column(s) to be indexed"

    static func annLimitMessage(_ limit: String) -> String {
        "Use of ANN OF in an ORDER BY clause requires a LIMIT that is not greater than \(SelectPlan.maxANNLimit). LIMIT was \(limit)"
    }

    /// `ORDER BY v ANN OF <vector>`, checked: a float vector column with an index, and a LIMIT.
    func annOrdering(_ s: SelectStatement, _ t: TableSchema, _ indexes: [IndexSchema], terms: inout TermBinder) throws(CQLError) -> ANNOrdering? {
        guard case let .ann(name, vectorTerm)? = s.ordering else { return nil }
        let c = try Self.column(t, name)
        guard case let .vector(element, _) = c.type.unfrozen, element == .float else {
            throw .invalid("ANN ordering is only supported on float vector indexes")
        }
        guard let index = indexes.first(where: { $0.column == c.name }) else { throw .invalid("ANN ordering by vector requires the column to be indexed") }
        if s.perPartitionLimit != nil { throw .invalid("SAI based ORDER BY clause does not support PER PARTITION LIMIT") }
        if s.limit == nil { throw .invalid(Self.annLimitMessage("NO LIMIT")) }
        return ANNOrdering(column: c, index: index, vector: try terms.operand(vectorTerm, Self.spec(t, c)))
    }

    func planRestrictions(_ restrictions: KeyRestrictions, _ t: TableSchema, indexes: [IndexSchema], ann: ANNOrdering?,
                          allowFiltering allow: Bool) throws(CQLError) -> SelectRestrictions
    {
        var r = restrictions
        try Self.checkMergeable(r.filters.filter { !$0.column.isPrimaryKey })
        if ann == nil, r.filters.contains(where: { f in
            if case .vector = f.column.type.unfrozen { return !f.column.isPrimaryKey && indexes.contains { $0.column == f.column.name } }
            return false
        }) {
            throw .invalid("Vector indexes only support ANN queries")
        }
        let keyRange = !r.partitionFullyRestricted
        let candidates = r.filters + Self.keyRestrictions(r, t)
        let queriable = ann != nil || candidates.contains { Self.supportingIndex($0, indexes) != nil }

        var partitionKey: [OperandList]?
        if r.partitionFullyRestricted {
            partitionKey = r.partition.compactMap { $0 }
        } else if !r.partitionUnrestricted {
            if ann != nil { throw .invalid(Self.annRequiresIndexedFiltering) }
            guard allow || queriable else { throw .invalid(Self.filteringMessage) }
            for c in t.partitionKey {
                if let v = r.partition[c.position] { r.filters.append(ColumnRestriction(column: c, op: v.isSingle ? .eq : .in, values: v)) }
            }
        }
        if queriable && keyRange {
            // Without a partition, clustering restrictions are per-row conditions an index may answer.
            for c in t.clustering {
                if let eq = r.clusteringEq[c.position] { r.filters.append(ColumnRestriction(column: c, op: eq.isSingle ? .eq : .in, values: eq)) }
                if let range = r.clusteringSlice[c.position] { r.filters += ColumnRestriction.bounds(c, range) }
                r.clusteringEq[c.position] = nil
                r.clusteringSlice[c.position] = nil
            }
        }
        let keyFilters = r.filters.count
        let (prefix, slice) = try clusteringPlan(&r, t, allowFiltering: allow || queriable)
        let clusteringNeedsFiltering = r.filters.count > keyFilters
        let usesIndex = queriable && (ann != nil || keyRange || clusteringNeedsFiltering || r.filters.contains { !$0.column.isPrimaryKey })
        guard usesIndex else {
            if partitionKey == nil && (!prefix.isEmpty || slice != nil) && !allow { throw .invalid(Self.filteringMessage) }
            let regular = r.filters.filter { !$0.column.isPrimaryKey || $0.op == .contains || $0.op == .containsKey }
            if !regular.isEmpty && !allow { throw .invalid(Self.filteringMessage) }
            return SelectRestrictions(partitionKey: partitionKey, clustering: prefix, slice: slice, filters: r.filters, indexRestrictions: [])
        }
        if let partitionKey, partitionKey.contains(where: { !$0.isSingle }) {
            throw .invalid("Select on indexed columns and with IN clause for the PRIMARY KEY are not supported")
        }
        if ann != nil {
            let restricted = r.filters.map(\.column) + Self.clusteringColumns(prefix: prefix, slice: slice, t)
            if restricted.contains(where: { c in c.kind != .partitionKey && !indexes.contains { $0.column == c.name } }) {
                throw .invalid(Self.annRequiresIndexedFiltering)
            }
        }
        var needsFiltering = keyRange && (!prefix.isEmpty || slice != nil)
        var filters = [ColumnRestriction]()
        var answered = [IndexRestriction<Operand>]()
        for f in r.filters {
            if let index = Self.supportingIndex(f, indexes) {
                Self.add(f, index, to: &answered)
            } else {
                filters.append(f)
                needsFiltering = true
            }
        }
        if needsFiltering && !allow { throw .invalid(Self.filteringMessage) }
        return SelectRestrictions(partitionKey: partitionKey, clustering: prefix, slice: slice, filters: filters, indexRestrictions: answered)
    }

    /// The single-column restrictions on key columns, as column restrictions (to ask whether an
    /// index could answer one).
    static func keyRestrictions(_ r: KeyRestrictions, _ t: TableSchema) -> [ColumnRestriction] {
        var out = [ColumnRestriction]()
        for c in t.partitionKey {
            if let v = r.partition[c.position] { out.append(ColumnRestriction(column: c, op: v.isSingle ? .eq : .in, values: v)) }
        }
        for c in t.clustering {
            if let eq = r.clusteringEq[c.position] { out.append(ColumnRestriction(column: c, op: eq.isSingle ? .eq : .in, values: eq)) }
            if let range = r.clusteringSlice[c.position] { out += ColumnRestriction.bounds(c, range) }
        }
        return out
    }

    static func clusteringColumns(prefix: [OperandList], slice: SliceOperands?, _ t: TableSchema) -> [ColumnDefinition] {
        Array(t.clustering.prefix(prefix.count)) + (slice?.columns ?? [])
    }

    /// What an index would have to answer for `r`, or nil when no index answers its operator.
    static func indexOperator(_ r: ColumnRestriction) -> IndexRestrictionOperator? {
        if r.mapKey != nil { return .entryEquals }
        switch r.op {
        case .eq: return r.values.isSingle ? .eq : nil
        case .lt, .lte, .gt, .gte: return .range
        case .contains: return .contains
        case .containsKey: return .containsKey
        case .in, .neq, .analyzerMatches: return nil
        }
    }

    static func supportingIndex(_ r: ColumnRestriction, _ indexes: [IndexSchema]) -> IndexSchema? {
        guard let op = indexOperator(r) else { return nil }
        return indexes.first { $0.column == r.column.name && $0.supports(op, columnType: r.column.type) }
    }

    /// Adds `r` to the index restrictions, merging bounds on one column into one range.
    static func add(_ r: ColumnRestriction, _ index: IndexSchema, to out: inout [IndexRestriction<Operand>]) {
        guard let value = r.values.single else { return }
        let predicate: IndexRestriction<Operand>.Predicate
        switch r.op {
        case .lt, .lte, .gt, .gte:
            let bound = IndexBound(value: value, inclusive: r.op == .lte || r.op == .gte)
            let isLower = r.op == .gt || r.op == .gte
            if let i = out.firstIndex(where: { $0.column == r.column && { if case .range = $0.predicate { true } else { false } }($0) }),
               case let .range(lo, hi) = out[i].predicate
            {
                out[i].predicate = isLower ? .range(lower: bound, upper: hi) : .range(lower: lo, upper: bound)
                return
            }
            predicate = isLower ? .range(lower: bound, upper: nil) : .range(lower: nil, upper: bound)
        case .contains: predicate = .contains(value)
        case .containsKey: predicate = .containsKey(value)
        default:
            if let key = r.mapKey { predicate = .entry(key: key, value: value) } else { predicate = .equals(value) }
        }
        out.append(IndexRestriction(index: index, column: r.column, predicate: predicate))
    }

    /// Cassandra's rules for several restrictions on one non-key column: `=` and IN stand alone,
    /// ranges combine with ranges (one bound each side), CONTAINS, CONTAINS KEY and `m[k] =`
    /// combine with each other.
    static func checkMergeable(_ restrictions: [ColumnRestriction]) throws(CQLError) {
        var first = [String: ColumnRestriction]()
        var lower = Set<String>(), upper = Set<String>()
        for r in restrictions {
            let name = r.column.name
            let isRange = [.lt, .lte, .gt, .gte].contains(r.op) && r.mapKey == nil
            let isCollection = r.op == .contains || r.op == .containsKey || r.mapKey != nil
            if let f = first[name] {
                let fRange = [.lt, .lte, .gt, .gte].contains(f.op) && f.mapKey == nil
                let fCollection = f.op == .contains || f.op == .containsKey || f.mapKey != nil
                if f.op == .in { throw .invalid("\(name) cannot be restricted by more than one relation if it includes a IN") }
                if !fRange && !fCollection { throw .invalid("\(name) cannot be restricted by more than one relation if it includes an Equal") }
                if fRange && !isRange { throw .invalid("Column \"\(name)\" cannot be restricted by both an equality and an inequality relation") }
                if fCollection && !isCollection {
                    throw .invalid("Collection column '\(name)' can only be restricted by CONTAINS, CONTAINS KEY, or map-entry equality")
                }
            } else {
                first[name] = r
            }
            if isRange {
                let isLower = r.op == .gt || r.op == .gte
                let fresh = isLower ? lower.insert(name).inserted : upper.insert(name).inserted
                guard fresh else {
                    throw .invalid("More than one restriction was found for the \(isLower ? "start" : "end") bound on \(name)")
                }
            }
        }
    }
}
