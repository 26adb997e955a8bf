import BasaltCore
import BasaltProtocol
import BasaltStorage

/// What turning a ``RowMutation`` into a storage ``Mutation`` needs from the statement's execution.
public struct MutationTime: Sendable {
    /// The timestamp (µs) of writes without `USING TIMESTAMP`: the request's default timestamp or
    /// the coordinator's generator, shared by every statement of a batch.
    public var timestamp: Int64
    /// Wall-clock seconds: local deletion time of tombstones, start of TTLs.
    public var nowSeconds: Int64
    public var listPaths: ListElementPaths

    public init(timestamp: Int64, nowSeconds: Int64, listPaths: ListElementPaths) {
        self.timestamp = timestamp
        self.nowSeconds = nowSeconds
        self.listPaths = listPaths
    }
}

extension RowMutation {
    /// The non-frozen list columns whose current elements must be read before this mutation can
    /// be built (`l[i] = v`, `DELETE l[i]`, `l = l - [..]`), as Cassandra reads before such writes.
    public var listColumnsNeedingRead: [ColumnDefinition] {
        let cells: [CellMutation<[UInt8]>]
        switch kind {
        case let .upsert(_, c), let .deleteCells(c): cells = c
        default: return []
        }
        return cells.compactMap { c in
            guard case .list = c.column.type else { return nil }
            switch c.operation {
            case .setElement, .deleteElement, .remove: return c.column
            default: return nil
            }
        }
    }

    /// The storage mutation this row mutation stands for, in Cassandra's representation: a row
    /// marker for INSERT, cell tombstones for `= null` and `DELETE c`, a complex deletion (at
    /// timestamp - 1) in front of the new elements when a whole non-frozen collection is
    /// overwritten, list elements keyed by time-ordered UUIDs, range tombstones for clustering
    /// ranges and prefixes, row and partition deletions; TTL from `USING TTL` or the table's
    /// `default_time_to_live`.
    ///
    /// - Parameter currentLists: for each column of ``listColumnsNeedingRead``, its live cells (in
    ///   list order) as a read just returned them.
    public func storageMutation(_ time: MutationTime, currentLists: [String: [LiveCell]] = [:]) throws(CQLError) -> Mutation {
        let ts = timestamp ?? time.timestamp
        let ttl = ttl ?? Int32(clamping: table.params.defaultTimeToLive)
        let now = time.nowSeconds
        let deletion = DeletionTime(markedForDeleteAt: ts, localDeletionTime: now)
        var update = PartitionUpdate()
        switch kind {
        case .deletePartition:
            update.partitionDeletion = deletion
        case .deleteRows:
            if clustering.count == table.clustering.count {
                update.rows = [Row(clustering: clustering, deletion: deletion)]
            } else {
                update.rangeTombstones = [RangeTombstone(start: ClusteringBound(clustering, inclusive: true),
                                                         end: ClusteringBound(clustering, inclusive: true), deletion: deletion)]
            }
        case let .deleteRange(slice):
            update.rangeTombstones = [RangeTombstone(start: slice.start, end: slice.end, deletion: deletion)]
        case let .upsert(isInsert, cells):
            var marker: LivenessInfo?
            if isInsert { marker = ttl > 0 ? .expiring(timestamp: ts, ttl: ttl, now: now) : LivenessInfo(timestamp: ts) }
            update = try cellUpdate(cells, marker: marker, ts: ts, ttl: ttl, time: time, currentLists: currentLists)
        case let .deleteCells(cells):
            update = try cellUpdate(cells, marker: nil, ts: ts, ttl: 0, time: time, currentLists: currentLists)
        }
        return Mutation(schema: table, partitionKey: partitionKey, update: update)
    }

    private func cellUpdate(_ cells: [CellMutation<[UInt8]>], marker: LivenessInfo?, ts: Int64, ttl: Int32, time: MutationTime,
                            currentLists: [String: [LiveCell]]) throws(CQLError) -> PartitionUpdate {
        var regular = Row(clustering: clustering, liveness: marker)
        var staticRow = Row(clustering: [])
        for c in cells {
            if c.column.kind == .static {
                try Self.apply(c, ts: ts, ttl: ttl, time: time, current: currentLists[c.column.name], to: &staticRow)
            } else {
                try Self.apply(c, ts: ts, ttl: ttl, time: time, current: currentLists[c.column.name], to: &regular)
            }
        }
        var update = PartitionUpdate()
        if !staticRow.isEmpty { update.staticRow = staticRow }
        // A row with no clustering columns but only static cells is not written as a row.
        if !regular.isEmpty && !(table.clustering.isEmpty == false && clustering.isEmpty) { update.rows = [regular] }
        return update
    }

    /// Adds the cells, tombstones and complex deletions of one cell operation to `row`.
    static func apply(_ c: CellMutation<[UInt8]>, ts: Int64, ttl: Int32, time: MutationTime, current: [LiveCell]?,
                      to row: inout Row) throws(CQLError) {
        let name = c.column.name
        let now = time.nowSeconds
        func live(_ path: [UInt8]?, _ value: [UInt8]) -> Cell { .live(column: name, path: path, timestamp: ts, value: value, ttl: ttl, now: now) }
        func tombstone(_ path: [UInt8]?) -> Cell { .tombstone(column: name, path: path, timestamp: ts, deletedAt: now) }
        let type = c.column.type
        guard type.isMultiCell else {
            switch c.operation {
            case let .set(v?): row.cells.append(live(nil, v))
            case .set(nil), .delete: row.cells.append(tombstone(nil))
            default: throw .invalid("Invalid operation for non-collection column \(name)")
            }
            return
        }
        func elementCells(_ value: [UInt8]) throws(CQLError) -> [Cell] {
            switch type {
            case .list:
                let items = try CollectionCells.elements(value, isMap: false)
                let paths = time.listPaths.append(count: items.count, micros: ts)
                return zip(paths, items).map { live($0, $1) }
            case .set:
                return try CollectionCells.elements(value, isMap: false).map { live($0, []) }
            default:
                let kv = try CollectionCells.elements(value, isMap: true)
                return stride(from: 0, to: kv.count - 1, by: 2).map { live(kv[$0], kv[$0 + 1]) }
            }
        }
        func listIndex(_ key: [UInt8]) throws(CQLError) -> [UInt8] {
            guard key.count == 4 else { throw .invalid("Invalid list index for \(name)") }
            let i = Int(Int32(bitPattern: UInt32(key[0]) << 24 | UInt32(key[1]) << 16 | UInt32(key[2]) << 8 | UInt32(key[3])))
            let cur = current ?? []
            guard i >= 0, i < cur.count, let path = cur[i].path else {
                throw .invalid("List index \(i) out of bound, list has size \(cur.count)")
            }
            return path
        }
        switch c.operation {
        case let .set(v):
            row.complexDeletions.append(ComplexDeletion(column: name, deletion: DeletionTime(markedForDeleteAt: v == nil ? ts : ts - 1, localDeletionTime: now)))
            if let v { row.cells.append(contentsOf: try elementCells(v)) }
        case .delete:
            row.complexDeletions.append(ComplexDeletion(column: name, deletion: DeletionTime(markedForDeleteAt: ts, localDeletionTime: now)))
        case let .add(v):
            row.cells.append(contentsOf: try elementCells(v))
        case let .prepend(v):
            let items = try CollectionCells.elements(v, isMap: false)
            let paths = time.listPaths.prepend(count: items.count, micros: ts)
            row.cells.append(contentsOf: zip(paths, items).map { live($0, $1) })
        case let .remove(v):
            switch type {
            case .list:
                let doomed = Set(try CollectionCells.elements(v, isMap: false))
                for cell in current ?? [] where doomed.contains(cell.value) { row.cells.append(tombstone(cell.path)) }
            default:
                // Set elements, or the keys of a map (`m = m - {k1, k2}`).
                for e in try CollectionCells.elements(v, isMap: false) { row.cells.append(tombstone(e)) }
            }
        case let .setElement(key, value):
            if case .list = type {
                let path = try listIndex(key)
                row.cells.append(value.map { live(path, $0) } ?? tombstone(path))
            } else {
                row.cells.append(value.map { live(key, $0) } ?? tombstone(key))
            }
        case let .deleteElement(key):
            if case .list = type { row.cells.append(tombstone(try listIndex(key))) } else { row.cells.append(tombstone(key)) }
        }
    }
}
