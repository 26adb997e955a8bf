import BasaltCore
import BasaltProtocol

extension Binder {
    func bindSelect(_ s: SelectStatement, terms: inout TermBinder) throws(CQLError) -> BoundStatement {
        let t = try table(s.table)
        if s.json { throw .invalid("SELECT JSON is not supported by Basalt") }
        let selection = try selectionColumns(s, t, terms: &terms)
        let r = try restrictions(s.whereClause, t, terms: &terms)
        let indexes = schema.keyspace(t.keyspace)?.indexes(on: t.name) ?? []
        let ann = try annOrdering(s, t, indexes, terms: &terms)
        let planned = try planRestrictions(r, t, indexes: indexes, ann: ann, allowFiltering: s.allowFiltering)
        let (prefix, slice) = (planned.clustering, planned.slice)

        var reversed = false
        if case let .columns(orders)? = s.ordering {
            guard planned.partitionKey != nil else { throw .invalid("ORDER BY is only supported when the partition key is restricted by an EQ or an IN.") }
            var direction: Bool?
            for (i, o) in orders.enumerated() {
                let c = try Self.column(t, o.column)
                guard c.kind == .clustering else { throw .invalid("Order by is currently only supported on the clustered columns of the PRIMARY KEY, got \(c.name)") }
                guard c.position == i else { throw .invalid("Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY") }
                let rev = o.descending != c.isDescending
                if let d = direction, d != rev { throw .invalid("Unsupported order by relation") }
                direction = rev
            }
            reversed = direction ?? false
        }
        let limit = try s.limit.map { x throws(CQLError) in try terms.operand(x, Self.spec(t, "[limit]", .int)) }
        let ppl = try s.perPartitionLimit.map { x throws(CQLError) in try terms.operand(x, Self.spec(t, "[per_partition_limit]", .int)) }
        if case let .constant(b?)? = limit, case let .int(v)? = try? CQLType.int.decode(b) {
            if v <= 0 { throw .invalid("LIMIT must be strictly positive") }
            if ann != nil && v > SelectPlan.maxANNLimit { throw .invalid(Self.annLimitMessage(String(v))) }
        }
        if s.distinct {
            for sel in selection {
                if case let .column(c) = sel.source, c.kind != .partitionKey && c.kind != .static {
                    throw .invalid("SELECT DISTINCT queries must only request partition key columns and/or static columns (not \(c.name))")
                }
            }
            if !prefix.isEmpty || slice != nil { throw .invalid("SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.") }
        }
        let plan = SelectPlan(table: t, selection: selection, partitionKey: planned.partitionKey, tokenLower: r.tokenLower, tokenUpper: r.tokenUpper,
                              clustering: prefix, slice: slice, filters: planned.filters, indexRestrictions: planned.indexRestrictions,
                              reversed: reversed, limit: limit, perPartitionLimit: ppl, distinct: s.distinct, ann: ann)
        return BoundStatement(kind: .select(plan), variables: [], partitionKeyIndexes: r.pkIndexes, resultColumns: selection.map(\.spec), keyspace: t.keyspace)
    }

    func selectionColumns(_ s: SelectStatement, _ t: TableSchema, terms: inout TermBinder) throws(CQLError) -> [SelectedColumn<Operand>] {
        if s.selection.isEmpty {
            return t.columns.map { SelectedColumn(spec: Self.spec(t, $0), source: .column($0)) }
        }
        var out = [SelectedColumn<Operand>]()
        for clause in s.selection {
            var col = try selected(clause.selector, t, terms: &terms)
            if let alias = clause.alias { col.spec.name = alias }
            out.append(col)
        }
        if out.count > 1, out.contains(where: { $0.source == .countRows }) {
            throw .invalid("count(*) can only be selected on its own in Basalt")
        }
        return out
    }

    func selected(_ selector: Selector, _ t: TableSchema, terms: inout TermBinder) throws(CQLError) -> SelectedColumn<Operand> {
        func argColumn(_ fn: String, _ args: [Selector], count: Int = 1) throws(CQLError) -> ColumnDefinition {
            guard args.count == count, case let .column(name) = args[0] else { throw .invalid("Invalid arguments for function \(fn)") }
            return try Self.column(t, name)
        }
        switch selector {
        case let .column(name):
            let c = try Self.column(t, name)
            return SelectedColumn(spec: Self.spec(t, c), source: .column(c))
        case .countRows:
            return SelectedColumn(spec: Self.spec(t, "count", .bigint), source: .countRows)
        case let .function(name, args):
            switch name {
            case "writetime", "ttl":
                let c = try argColumn(name, args)
                if c.isPrimaryKey { throw .invalid("Cannot use selection function \(name == "ttl" ? "ttl" : "writeTime") on PRIMARY KEY part \(c.name)") }
                if c.type.isMultiCell { throw .invalid("Cannot use selection function \(name) on non-frozen collection \(c.name)") }
                return name == "ttl"
                    ? SelectedColumn(spec: Self.spec(t, "ttl(\(c.name))", .int), source: .ttl(c))
                    : SelectedColumn(spec: Self.spec(t, "writetime(\(c.name))", .bigint), source: .writetime(c))
            case "token":
                let names = args.compactMap { if case let .column(n) = $0 { n } else { nil } }
                guard names.count == args.count, names == t.partitionKey.map(\.name) else {
                    throw .invalid("The token function arguments must be in the partition key order: \(t.partitionKey.map(\.name).joined(separator: ", "))")
                }
                return SelectedColumn(spec: Self.spec(t, "system.token(\(names.joined(separator: ", ")))", .bigint), source: .token)
            case "similarity_cosine", "similarity_euclidean", "similarity_dot_product":
                let function: IndexSchema.Similarity = name == "similarity_cosine" ? .cosine : name == "similarity_euclidean" ? .euclidean : .dotProduct
                guard args.count == 2 else { throw .invalid("Invalid number of arguments for function system.\(name)") }
                var column: ColumnDefinition?
                var vector: Term?
                for a in args {
                    switch a {
                    case let .column(n): column = try Self.column(t, n)
                    case let .term(term): vector = term
                    default: throw .invalid("Invalid arguments for function system.\(name)")
                    }
                }
                guard let column, let vector, case .vector = column.type.unfrozen else {
                    throw .invalid("Function system.\(name) requires a vector column and a vector of the same dimension")
                }
                let op = try terms.operand(vector, Self.spec(t, column))
                return SelectedColumn(spec: Self.spec(t, "system.\(name)(\(column.name), ?)", .float), source: .similarity(function, column, op))
            case "count":
                throw .invalid("Only count(*) and count(1) are supported by Basalt")
            default:
                throw .invalid("Unknown function '\(name)'")
            }
        case .term:
            throw .invalid("Constants and bind markers are not supported as selectors by Basalt")
        }
    }
}
