import BasaltCore
import BasaltProtocol
import BasaltStorage

/// A statement resolved against the schema: names checked, literals typed and serialized, bind
/// markers described. It is what PREPARE answers with and what the executor runs; values for its
/// markers are supplied later (`WritePlan.mutations(…)`, `SelectPlan.query(…)`).
public struct BoundStatement: Sendable {
    public enum Kind: Sendable {
        case use(String)
        case schemaChange(SchemaChange)
        case truncate(TableSchema)
        /// One INSERT/UPDATE/DELETE, or the statements of a batch with its kind.
        case writes([WritePlan], batch: BatchStatement.Kind?)
        case select(SelectPlan)
        case describe(DescribeStatement)
        /// A role or permission statement, with its resource resolved where it names one.
        case auth(AuthStatement, resource: AuthResource?)
    }

    public var kind: Kind
    /// One spec per bind marker in marker order (PREPARED's bind metadata).
    public var variables: [ColumnSpec]
    /// Which markers give the partition key, in key order; empty when not all of them do.
    public var partitionKeyIndexes: [UInt16]
    /// Result columns (SELECT) or none.
    public var resultColumns: [ColumnSpec]
    /// The keyspace of the table the statement acts on, if any.
    public var keyspace: String?

    /// The PREPARED result body for this statement under `id`.
    public func prepared(id: [UInt8]) -> PreparedResult {
        PreparedResult(id: id, variables: variables, partitionKeyIndexes: partitionKeyIndexes,
                       resultMetadata: resultColumns.isEmpty ? .empty : ResultMetadata(columns: resultColumns))
    }

    /// Whether the statement changes schema (and answers Schema_change).
    public var isSchemaChange: Bool {
        if case .schemaChange = kind { return true }
        return false
    }
}

/// Deterministic prepared-statement ids: MD5 of the keyspace the statement was prepared in (empty
/// if none) followed by the query text, as Cassandra computes them, so every node hands out the
/// same id for the same statement and re-prepares match.
public enum PreparedStatementID {
    public static func compute(query: String, keyspace: String?) -> [UInt8] {
        MD5.digest(Array((keyspace ?? "").utf8) + Array(query.utf8))
    }
}

/// Values of one column restriction at execution time.
public enum OperandList: Hashable, Sendable {
    /// `= v` or `IN (a, b)`: the candidate values.
    case values([Operand])
    /// `IN ?`: a list marker of the column type.
    case listMarker(Int, CQLType)

    func resolve(_ values: [ProtocolValue], _ context: ExecutionContext, column: String) throws(CQLError) -> [[UInt8]] {
        switch self {
        case let .values(ops):
            var out = [[UInt8]]()
            for op in ops {
                switch try op.resolve(values, context: context) {
                case let .bytes(b): out.append(b)
                case .null: throw .invalid("Invalid null value in condition for column \(column)")
                case .unset: throw .invalid("Invalid unset value for column \(column)")
                }
            }
            return out
        case let .listMarker(i, type):
            switch try Operand.marker(i, type).resolve(values, context: context) {
            case let .bytes(b):
                guard case let .list(e) = type, case let .list(items)? = try? type.decode(b) else { throw .invalid("Invalid IN list for column \(column)") }
                var out = [[UInt8]]()
                for item in items {
                    guard let enc = try? e.encode(item) else { throw .invalid("Invalid IN list for column \(column)") }
                    out.append(enc)
                }
                return out
            case .null: throw .invalid("Invalid null value for IN restriction on column \(column)")
            case .unset: throw .invalid("Invalid unset value for IN restriction on column \(column)")
            }
        }
    }
}

/// A slice of clustering values still waiting for bound values: the bounds of a (multi-)column
/// range restriction written in CQL order (`> lower`, `< upper`).
public struct SliceOperands: Hashable, Sendable {
    /// The clustering columns the bounds cover (from the first unrestricted one).
    public var columns: [ColumnDefinition]
    public var lower: (values: [Operand], inclusive: Bool)?
    public var upper: (values: [Operand], inclusive: Bool)?

    public static func == (a: SliceOperands, b: SliceOperands) -> Bool {
        a.columns == b.columns && a.lower?.values == b.lower?.values && a.lower?.inclusive == b.lower?.inclusive
            && a.upper?.values == b.upper?.values && a.upper?.inclusive == b.upper?.inclusive
    }

    public func hash(into h: inout Hasher) { h.combine(columns) }

    /// The slice (storage's ``ClusteringSlice``) in clustering order for a given equality prefix. A lower CQL bound on a DESC
    /// column is the upper end in clustering order.
    func resolve(prefix: [[UInt8]], _ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> ClusteringSlice {
        func bound(_ b: (values: [Operand], inclusive: Bool)?) throws(CQLError) -> ClusteringBound? {
            guard let b else { return nil }
            var out = prefix
            for (i, op) in b.values.enumerated() {
                guard case let .bytes(v) = try op.resolve(values, context: context) else {
                    throw .invalid("Invalid null value in condition for column \(i < columns.count ? columns[i].name : "?")")
                }
                out.append(v)
            }
            return ClusteringBound(out, inclusive: b.inclusive)
        }
        // A side without a CQL bound is bounded by the equality prefix alone (inclusive), which
        // for an empty prefix is the partition's start or end.
        let open = ClusteringBound(prefix, inclusive: true)
        let lo = try bound(lower) ?? open, hi = try bound(upper) ?? open
        let reversed = columns.first?.isDescending ?? false
        return reversed ? ClusteringSlice(start: hi, end: lo) : ClusteringSlice(start: lo, end: hi)
    }
}
