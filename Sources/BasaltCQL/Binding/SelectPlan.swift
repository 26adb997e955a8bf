import BasaltCore
import BasaltProtocol
import BasaltStorage

/// Where a result column's value comes from.
public enum SelectionSource<Vector: Hashable & Sendable>: Hashable, Sendable {
    case column(ColumnDefinition)
    /// `writetime(c)`: the cell's write timestamp (bigint µs).
    case writetime(ColumnDefinition)
    /// `ttl(c)`: the cell's remaining TTL in seconds (int, null without TTL).
    case ttl(ColumnDefinition)
    /// `token(pk…)`: the partition's token (bigint).
    case token
    /// `count(*)`: the number of rows (bigint), the query's only column.
    case countRows
    /// `similarity_*(column, vector)`: a float score.
    case similarity(IndexSchema.Similarity, ColumnDefinition, Vector)
}

/// One result column: its metadata and its source.
public struct SelectedColumn<Vector: Hashable & Sendable>: Hashable, Sendable {
    public var spec: ColumnSpec
    public var source: SelectionSource<Vector>
}

/// A `token(pk) > x AND token(pk) <= y` restriction.
public struct TokenRestriction: Hashable, Sendable {
    public var lower: (token: Token, inclusive: Bool)?
    public var upper: (token: Token, inclusive: Bool)?

    public static func == (a: TokenRestriction, b: TokenRestriction) -> Bool {
        a.lower?.token == b.lower?.token && a.lower?.inclusive == b.lower?.inclusive && a.upper?.token == b.upper?.token && a.upper?.inclusive == b.upper?.inclusive
    }

    public func hash(into h: inout Hasher) {
        h.combine(lower?.token)
        h.combine(upper?.token)
    }
}

/// A restriction on a column that neither the keys nor an index answer, applied by filtering
/// (ALLOW FILTERING).
public struct ColumnFilter: Hashable, Sendable {
    public var column: ColumnDefinition
    public var op: RelationOperator
    /// One value, or the IN list; for `m[k] = v` the value v.
    public var values: [[UInt8]]
    /// `m[k] = v`: the key k.
    public var mapKey: [UInt8]?

    public init(column: ColumnDefinition, op: RelationOperator, values: [[UInt8]], mapKey: [UInt8]? = nil) {
        self.column = column
        self.op = op
        self.values = values
        self.mapKey = mapKey
    }
}

/// `ORDER BY v ANN OF [...] LIMIT k`, bound: return the k rows whose `column` is most similar to
/// `vector` under `index.similarity`, most similar first (among the rows that satisfy the rest of
/// the query).
public struct ANNQuery: Hashable, Sendable {
    public var column: ColumnDefinition
    public var index: IndexSchema
    /// Exactly the column's dimension; never all-zero for a cosine index.
    public var vector: [Float]
    /// 1…``SelectPlan/maxANNLimit``.
    public var k: Int
}

/// A concrete read: everything the coordinator needs, values bound.
public struct ReadQuery: Hashable, Sendable {
    public var table: TableSchema
    public var selection: [SelectedColumn<[Float]>]
    /// Serialized partition keys when the partition key is restricted by = / IN; nil for a range scan.
    public var partitionKeys: [[UInt8]]?
    public var tokenRange: TokenRestriction?
    /// Clustering prefixes restricted by = / IN (one empty prefix when none).
    public var clusteringPrefixes: [[[UInt8]]]
    /// The rows to read, in clustering order: per prefix its range restriction, or every row
    /// starting with the prefix (`[.all]` when nothing restricts the clustering).
    public var slices: [ClusteringSlice]
    public var filters: [ColumnFilter]
    /// Restrictions answered by storage-attached indexes (ANDed with everything else). A query
    /// with any, or with ``ann``, is an index query.
    public var indexRestrictions: [IndexRestriction<[UInt8]>]
    /// ORDER BY opposite to the table's clustering order.
    public var reversed: Bool
    public var limit: Int?
    public var perPartitionLimit: Int?
    public var distinct: Bool
    public var ann: ANNQuery?

    public var isCount: Bool { selection.count == 1 && selection[0].source == .countRows }

    /// Whether answering the query needs a storage-attached index (index restrictions or ANN).
    public var usesIndex: Bool { ann != nil || !indexRestrictions.isEmpty }
}

/// A bound SELECT, waiting for marker values; ``query(_:context:)`` gives the ``ReadQuery``.
public struct SelectPlan: Hashable, Sendable {
    public var table: TableSchema
    public var selection: [SelectedColumn<Operand>]
    public var partitionKey: [OperandList]?
    public var tokenLower: (Operand, Bool)?
    public var tokenUpper: (Operand, Bool)?
    public var clustering: [OperandList]
    public var slice: SliceOperands?
    /// Restrictions filtered after reading (the query said ALLOW FILTERING).
    public var filters: [ColumnRestriction]
    /// Restrictions answered by storage-attached indexes.
    public var indexRestrictions: [IndexRestriction<Operand>]
    public var reversed: Bool
    public var limit: Operand?
    public var perPartitionLimit: Operand?
    public var distinct: Bool
    public var ann: ANNOrdering?

    public static func == (a: SelectPlan, b: SelectPlan) -> Bool {
        a.table == b.table && a.selection == b.selection && a.partitionKey == b.partitionKey && a.clustering == b.clustering
            && a.slice == b.slice && a.filters == b.filters && a.indexRestrictions == b.indexRestrictions && a.reversed == b.reversed
            && a.limit == b.limit && a.distinct == b.distinct && a.ann == b.ann
    }

    public func hash(into h: inout Hasher) {
        h.combine(table)
        h.combine(selection)
    }

    /// The ANN limit Cassandra enforces for SAI ORDER BY.
    public static let maxANNLimit = 1000

    public func query(_ values: [ProtocolValue], context: ExecutionContext) throws(CQLError) -> ReadQuery {
        var keys: [[UInt8]]?
        if let partitionKey {
            var choices = [[[UInt8]]]()
            for (i, list) in partitionKey.enumerated() { choices.append(try list.resolve(values, context, column: table.partitionKey[i].name)) }
            keys = WritePlan.product(choices).map { TableSchema.partitionKeyBytes($0) }
        }
        var tokens: TokenRestriction?
        if tokenLower != nil || tokenUpper != nil {
            var t = TokenRestriction()
            if let (op, inc) = tokenLower { t.lower = (try Self.token(op, values, context), inc) }
            if let (op, inc) = tokenUpper { t.upper = (try Self.token(op, values, context), inc) }
            tokens = t
        }
        var ck = [[[UInt8]]]()
        for (i, list) in clustering.enumerated() { ck.append(try list.resolve(values, context, column: table.clustering[i].name)) }
        let prefixes = WritePlan.product(ck)
        var slices = [ClusteringSlice]()
        for p in prefixes {
            if let slice { slices.append(try slice.resolve(prefix: p, values, context)) } else { slices.append(.equal(p)) }
        }
        var resolvedFilters = [ColumnFilter]()
        for f in filters {
            var key: [UInt8]?
            if let k = f.mapKey { key = try OperandList.values([k]).resolve(values, context, column: f.column.name).first }
            resolvedFilters.append(ColumnFilter(column: f.column, op: f.op, values: try f.values.resolve(values, context, column: f.column.name), mapKey: key))
        }
        var indexed = [IndexRestriction<[UInt8]>]()
        for r in indexRestrictions { indexed.append(try r.bind(values, context)) }
        let lim = try Self.positive(limit, "LIMIT", values, context)
        let ppl = try Self.positive(perPartitionLimit, "PER PARTITION LIMIT", values, context)
        var annQuery: ANNQuery?
        if let ann {
            guard let k = lim, k <= Self.maxANNLimit else { throw .invalid(Binder.annLimitMessage(lim.map(String.init) ?? "NO LIMIT")) }
            let vector = try Self.vector(ann.vector, ann.column, values, context)
            if ann.index.similarity == .cosine && vector.allSatisfy({ abs($0) <= 1e-6 }) {
                throw .invalid("Zero and near-zero vectors cannot be indexed or queried with cosine similarity")
            }
            annQuery = ANNQuery(column: ann.column, index: ann.index, vector: vector, k: k)
        }
        var sel = [SelectedColumn<[Float]>]()
        for s in selection {
            let source: SelectionSource<[Float]>
            switch s.source {
            case let .column(c): source = .column(c)
            case let .writetime(c): source = .writetime(c)
            case let .ttl(c): source = .ttl(c)
            case .token: source = .token
            case .countRows: source = .countRows
            case let .similarity(f, c, op):
                let vector = try Self.vector(op, c, values, context)
                if f == .cosine && vector.allSatisfy({ $0 == 0 }) { throw RowAssembler.zeroVectorError }
                source = .similarity(f, c, vector)
            }
            sel.append(SelectedColumn(spec: s.spec, source: source))
        }
        return ReadQuery(table: table, selection: sel, partitionKeys: keys, tokenRange: tokens, clusteringPrefixes: prefixes, slices: slices,
                         filters: resolvedFilters, indexRestrictions: indexed, reversed: reversed, limit: lim, perPartitionLimit: ppl,
                         distinct: distinct, ann: annQuery)
    }

    static func token(_ op: Operand, _ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> Token {
        guard case let .bytes(b) = try op.resolve(values, context: context), case let .bigint(v)? = try? CQLType.bigint.decode(b) else {
            throw .invalid("Invalid null value for partition key token")
        }
        return Token(v)
    }

    static func positive(_ op: Operand?, _ what: String, _ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> Int? {
        guard let op else { return nil }
        switch try op.resolve(values, context: context) {
        case .null: throw .invalid("Invalid null value of \(what.lowercased())")
        case .unset: return nil
        case let .bytes(b):
            guard case let .int(v)? = try? CQLType.int.decode(b) else { throw .invalid("Invalid \(what) value") }
            guard v > 0 else { throw .invalid("\(what) must be strictly positive") }
            return Int(v)
        }
    }

    static func vector(_ op: Operand, _ column: ColumnDefinition, _ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> [Float] {
        guard case let .bytes(b) = try op.resolve(values, context: context), case let .vector(fs)? = try? column.type.decode(b) else {
            throw .invalid("Invalid vector for column \(column.name) of type \(column.type.cqlName)")
        }
        return fs
    }
}
