import BasaltCore
import BasaltProtocol

/// A WHERE restriction on one column that the primary key cannot answer, before values are
/// bound: filtered with ALLOW FILTERING (``ColumnFilter`` once bound), or turned into an
/// ``IndexRestriction`` when a storage-attached index answers it.
public struct ColumnRestriction: Hashable, Sendable {
    public var column: ColumnDefinition
    public var op: RelationOperator
    /// One value, the IN list, or the CONTAINS / CONTAINS KEY element; for `m[k] = v`, the value.
    public var values: OperandList
    /// `m[k] = v`: the map key.
    public var mapKey: Operand?

    public init(column: ColumnDefinition, op: RelationOperator, values: OperandList, mapKey: Operand? = nil) {
        self.column = column
        self.op = op
        self.values = values
        self.mapKey = mapKey
    }

    /// `c > a AND c <= b` as two restrictions.
    static func bounds(_ c: ColumnDefinition, _ range: (lower: (Operand, Bool)?, upper: (Operand, Bool)?)) -> [ColumnRestriction] {
        var out = [ColumnRestriction]()
        if let (op, inclusive) = range.lower { out.append(ColumnRestriction(column: c, op: inclusive ? .gte : .gt, values: .values([op]))) }
        if let (op, inclusive) = range.upper { out.append(ColumnRestriction(column: c, op: inclusive ? .lte : .lt, values: .values([op]))) }
        return out
    }
}

/// One bound of an index range: the value and whether it is included.
public struct IndexBound<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var inclusive: Bool

    public init(value: Value, inclusive: Bool) {
        self.value = value
        self.inclusive = inclusive
    }
}

/// One WHERE restriction a storage-attached index answers: what a SELECT hands its executor.
///
/// `Value` is ``Operand`` in a ``SelectPlan`` (waiting for bind values) and `[UInt8]` in a
/// ``ReadQuery`` (serialized in the CQL type of what the index stores: the column's type for
/// ``Predicate/equals(_:)`` and ``Predicate/range(lower:upper:)``, the element type for
/// ``Predicate/contains(_:)``, the map's key type for ``Predicate/containsKey(_:)``, the key and
/// value types for ``Predicate/entry(key:value:)``).
///
/// Semantics: a row is in the result only if it satisfies every restriction of the query (they
/// are ANDed), together with the query's partition keys or token range, clustering slices and
/// ALLOW FILTERING filters. Restrictions on one column come merged: at most one `equals` or one
/// `range`; several `contains`, `containsKey` or `entry` restrictions may name the same column.
/// Comparisons use the column type's CQL order (for a DESC clustering column too). The executor
/// may answer a restriction from the index or by reading and checking rows; the result must be
/// the same.
public struct IndexRestriction<Value: Hashable & Sendable>: Hashable, Sendable {
    public enum Predicate: Hashable, Sendable {
        /// `c = v`, on a scalar index (`target` is the column) or a `full(c)` index of a frozen collection.
        case equals(Value)
        /// `c > / >= / < / <= v`, ANDed into one range; a nil side is unbounded. Scalar indexes on
        /// numeric, date, time, timestamp, timeuuid and inet columns only.
        case range(lower: IndexBound<Value>?, upper: IndexBound<Value>?)
        /// `c CONTAINS v` on a `values(c)` index: a list or set element, or a map value, equals v.
        case contains(Value)
        /// `m CONTAINS KEY k` on a `keys(m)` index.
        case containsKey(Value)
        /// `m[k] = v` on an `entries(m)` index: the map has key k with value v.
        case entry(key: Value, value: Value)
    }

    /// The index that answers the restriction (its `target` matches the predicate).
    public var index: IndexSchema
    /// The restricted column (`index.column`).
    public var column: ColumnDefinition
    public var predicate: Predicate

    public init(index: IndexSchema, column: ColumnDefinition, predicate: Predicate) {
        self.index = index
        self.column = column
        self.predicate = predicate
    }
}

/// `ORDER BY v ANN OF <vector> LIMIT k` before values are bound (the bound form is ``ANNQuery``).
public struct ANNOrdering: Hashable, Sendable {
    /// The `vector<float, n>` column.
    public var column: ColumnDefinition
    /// The storage-attached index on it, whose similarity function ranks rows.
    public var index: IndexSchema
    /// The query vector: a literal or a bind marker, of the column's type.
    public var vector: Operand
}

extension OperandList {
    /// `= v` rather than an IN list.
    var isSingle: Bool {
        if case let .values(v) = self { return v.count == 1 }
        return false
    }

    var single: Operand? {
        if case let .values(v) = self, v.count == 1 { return v[0] }
        return nil
    }
}

extension IndexRestriction where Value == Operand {
    /// The restriction with its values bound; null and unset values are Invalid.
    func bind(_ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> IndexRestriction<[UInt8]> {
        func v(_ op: Operand) throws(CQLError) -> [UInt8] {
            switch try op.resolve(values, context: context) {
            case let .bytes(b): return b
            case .null: throw .invalid("Invalid null value in condition for column \(column.name)")
            case .unset: throw .invalid("Invalid unset value for column \(column.name)")
            }
        }
        func b(_ bound: IndexBound<Operand>?) throws(CQLError) -> IndexBound<[UInt8]>? {
            guard let bound else { return nil }
            return IndexBound(value: try v(bound.value), inclusive: bound.inclusive)
        }
        let p: IndexRestriction<[UInt8]>.Predicate
        switch predicate {
        case let .equals(x): p = .equals(try v(x))
        case let .range(lo, hi): p = .range(lower: try b(lo), upper: try b(hi))
        case let .contains(x): p = .contains(try v(x))
        case let .containsKey(x): p = .containsKey(try v(x))
        case let .entry(k, x): p = .entry(key: try v(k), value: try v(x))
        }
        return IndexRestriction<[UInt8]>(index: index, column: column, predicate: p)
    }
}
