import BasaltCore
import BasaltProtocol
import BasaltStorage

/// What a write does to one cell (a column of a row), with values still to be bound.
public enum CellOperation<Value: Hashable & Sendable>: Hashable, Sendable {
    /// Write the value (for a non-frozen collection: replace the whole collection); nil writes a
    /// tombstone (`= null`).
    case set(Value?)
    /// List append / set add / map put-all (`c = c + v`); the value is the serialized collection.
    case add(Value)
    /// List prepend (`c = v + c`).
    case prepend(Value)
    /// List remove-all-occurrences / set remove / map remove-keys (`c = c - v`).
    case remove(Value)
    /// `m[k] = v` (nil value deletes the entry) or `l[i] = v`.
    case setElement(key: Value, value: Value?)
    /// `DELETE m[k]` / `DELETE l[i]`.
    case deleteElement(key: Value)
    /// `DELETE c`.
    case delete
}

/// A cell operation on a column.
public struct CellMutation<Value: Hashable & Sendable>: Hashable, Sendable {
    public var column: ColumnDefinition
    public var operation: CellOperation<Value>
}

/// One concrete change to one row (or partition, or clustering range) of a table: what the
/// coordinator sends to the replicas.
public struct RowMutation: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// INSERT (writes the row marker too) or UPDATE of cells.
        case upsert(isInsert: Bool, cells: [CellMutation<[UInt8]>])
        /// Deletion of specific cells of one row.
        case deleteCells([CellMutation<[UInt8]>])
        /// Deletion of a whole row (full clustering) or of every row whose clustering starts with the prefix.
        case deleteRows
        /// Deletion of a clustering range of the partition.
        case deleteRange(ClusteringSlice)
        /// Deletion of the whole partition.
        case deletePartition
    }

    public var table: TableSchema
    /// Serialized partition key (`TableSchema.partitionKeyBytes`).
    public var partitionKey: [UInt8]
    /// Clustering values (complete for upserts; a prefix for row deletions).
    public var clustering: [[UInt8]]
    public var kind: Kind
    /// Seconds; nil means the table's default_time_to_live.
    public var ttl: Int32?
    /// µs; nil means the request's default timestamp or the coordinator's clock.
    public var timestamp: Int64?

    /// The token the partition key hashes to.
    public var token: Token { Murmur3.token(partitionKey) }
}

/// A bound INSERT, UPDATE or DELETE, waiting for marker values.
public struct WritePlan: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        case insert([CellMutation<Operand>])
        case update([CellMutation<Operand>])
        /// Cell deletions; empty means the whole row(s).
        case delete([CellMutation<Operand>])
    }

    public var table: TableSchema
    /// Per partition-key column, the candidate values (several with IN).
    public var partitionKey: [OperandList]
    /// Per restricted clustering column (a prefix), the candidate values.
    public var clustering: [OperandList]
    /// A range restriction after the prefix (range deletions only).
    public var slice: SliceOperands?
    public var action: Action
    public var ttl: Operand?
    public var timestamp: Operand?

    /// The concrete mutations for the bound values (several when IN lists are used).
    public func mutations(_ values: [ProtocolValue], context: ExecutionContext) throws(CQLError) -> [RowMutation] {
        var pkChoices = [[[UInt8]]]()
        for (i, list) in partitionKey.enumerated() {
            let col = table.partitionKey[i]
            let vs = try list.resolve(values, context, column: col.name)
            if let long = vs.first(where: { $0.count > 65535 }) {
                throw .invalid("Key length of \(long.count) is longer than maximum of 65535")
            }
            pkChoices.append(vs)
        }
        var ckChoices = [[[UInt8]]]()
        for (i, list) in clustering.enumerated() {
            ckChoices.append(try list.resolve(values, context, column: table.clustering[i].name))
        }
        let ttlValue = try ttlSeconds(values, context)
        let ts = try timestampMicros(values, context)

        var cells = [CellMutation<[UInt8]>]()
        let cellOps: [CellMutation<Operand>]
        switch action {
        case let .insert(c), let .update(c), let .delete(c): cellOps = c
        }
        for c in cellOps {
            if let resolved = try Self.resolve(c, values, context) { cells.append(resolved) }
        }

        var out = [RowMutation]()
        for pk in Self.product(pkChoices) {
            let key = TableSchema.partitionKeyBytes(pk)
            if key.isEmpty { throw .invalid("Key may not be empty") }
            for ck in Self.product(ckChoices) {
                let kind: RowMutation.Kind
                switch action {
                case .insert: kind = .upsert(isInsert: true, cells: cells)
                case .update: kind = .upsert(isInsert: false, cells: cells)
                case .delete:
                    if !cellOps.isEmpty {
                        kind = .deleteCells(cells)
                    } else if let slice {
                        kind = .deleteRange(try slice.resolve(prefix: ck, values, context))
                    } else if ck.isEmpty {
                        kind = .deletePartition
                    } else {
                        kind = .deleteRows
                    }
                }
                out.append(RowMutation(table: table, partitionKey: key, clustering: ck, kind: kind, ttl: ttlValue, timestamp: ts))
            }
        }
        return out
    }

    /// A cell operation with its values bound; nil when the value is `unset` (no change).
    static func resolve(_ c: CellMutation<Operand>, _ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> CellMutation<[UInt8]>? {
        func value(_ op: Operand) throws(CQLError) -> [UInt8]?? {
            switch try op.resolve(values, context: context) {
            case let .bytes(b): return .some(b)
            case .null: return .some(nil)
            case .unset: return nil
            }
        }
        func required(_ op: Operand) throws(CQLError) -> [UInt8]? {
            guard let v = try value(op) else { return nil }
            guard let b = v else { throw .invalid("Invalid null value for \(c.column.name)") }
            return b
        }
        let op: CellOperation<[UInt8]>
        switch c.operation {
        case let .set(v):
            guard let v else { op = .set(nil); break }
            guard let resolved = try value(v) else { return nil }
            op = .set(resolved)
        case let .add(v): guard let b = try required(v) else { return nil }; op = .add(b)
        case let .prepend(v): guard let b = try required(v) else { return nil }; op = .prepend(b)
        case let .remove(v): guard let b = try required(v) else { return nil }; op = .remove(b)
        case let .setElement(k, v):
            guard let key = try required(k) else { throw .invalid("Invalid unset map key for \(c.column.name)") }
            guard let v else { op = .setElement(key: key, value: nil); break }
            guard let resolved = try value(v) else { return nil }
            op = .setElement(key: key, value: resolved)
        case let .deleteElement(k):
            guard let key = try required(k) else { throw .invalid("Invalid unset map key for \(c.column.name)") }
            op = .deleteElement(key: key)
        case .delete: op = .delete
        }
        return CellMutation(column: c.column, operation: op)
    }

    func ttlSeconds(_ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> Int32? {
        guard let ttl, case let .bytes(b) = try ttl.resolve(values, context: context) else { return nil }
        guard case let .int(v)? = try? CQLType.int.decode(b) else { throw .invalid("Invalid TTL value") }
        if v < 0 { throw .invalid("A TTL must be greater or equal to 0, but was \(v)") }
        if v > 630_720_000 { throw .invalid("ttl is too large. requested (\(v)) maximum (630720000)") }
        return v
    }

    func timestampMicros(_ values: [ProtocolValue], _ context: ExecutionContext) throws(CQLError) -> Int64? {
        guard let timestamp, case let .bytes(b) = try timestamp.resolve(values, context: context) else { return nil }
        guard case let .bigint(v)? = try? CQLType.bigint.decode(b) else { throw .invalid("Invalid timestamp value") }
        if v == .min { throw .invalid("Invalid timestamp value \(v)") }
        return v
    }

    /// Every combination of one value per position (a single empty combination for no positions).
    static func product(_ choices: [[[UInt8]]]) -> [[[UInt8]]] {
        // The usual statement names one value per position: one combination, built directly.
        if choices.allSatisfy({ $0.count == 1 }) { return [choices.map { $0[0] }] }
        var out: [[[UInt8]]] = [[]]
        for c in choices {
            var next = [[[UInt8]]]()
            next.reserveCapacity(out.count * c.count)
            for prefix in out { for v in c { next.append(prefix + [v]) } }
            out = next
        }
        return out
    }
}
