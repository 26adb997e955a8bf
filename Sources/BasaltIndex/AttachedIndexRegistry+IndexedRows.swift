import BasaltCluster
import BasaltCore
import BasaltStorage

/// One restriction of a query resolved against this node's term indexes.
struct ResolvedRestriction {
    let index: TableTermIndex
    let span: TermSpan
    let predicate: IndexTermRestriction.Predicate
}

extension AttachedIndexRegistry: LocalIndexQuery {
    /// Rows examined per step of a replica's page.
    static let indexedRowsBatch = 512

    func resolve(_ restrictions: [IndexTermRestriction], table: UUIDValue) throws -> [ResolvedRestriction] {
        try restrictions.map { r in
            guard let index = terms.index(table, named: r.index) else { throw TermIndexError.unknownIndex(r.index) }
            if index.isBuilding { throw TermIndexError.building(r.index) }
            return ResolvedRestriction(index: index, span: index.definition.span(r.predicate), predicate: r.predicate)
        }
    }

    /// A page of this node's rows matching every restriction of the command: the restriction
    /// matching fewest rows (a row-level one when the table has clustering columns and there is
    /// one) proposes candidates in ring order; each candidate is read from this node's data and
    /// kept only if its current version satisfies every restriction that applies at its level (a
    /// whole-partition candidate is checked against the partition-level restrictions; its rows
    /// are checked by the coordinator). At most `limit` keys, and at most a bounded number of
    /// candidates examined per page.
    public func indexedRows(_ command: IndexedRowsCommand) throws -> IndexedRowsPage {
        guard let engine = terms.attachedEngine else { throw TermIndexError.unknownIndex(command.restrictions.first?.index ?? "") }
        let table = try engine.schema(of: command.tableId)
        let resolved = try resolve(command.restrictions, table: command.tableId)
        guard !resolved.isEmpty else { return IndexedRowsPage(keys: [], next: nil) }
        terms.countQuery()
        let order = IndexKeyOrder(table: table)
        let hasClustering = !table.clustering.isEmpty
        let rowLevel = resolved.filter { !$0.index.definition.isPartitionLevel }
        let pool = hasClustering && !rowLevel.isEmpty ? rowLevel : resolved
        let lead = pool.min { $0.index.estimate($0.span) < $1.index.estimate($1.span) }!
        let checker = RowChecker(engine: engine, table: table, restrictions: resolved, now: command.nowSeconds)
        var cursor = command.after
        var out: [RowKey] = []
        var examined = 0
        let batch = max(Self.indexedRowsBatch, min(command.limit, 4096))
        while true {
            let candidates = lead.index.keys(lead.span, ranges: command.ranges, after: cursor, limit: batch, order: order)
            for key in candidates {
                cursor = ScanPosition(token: Murmur3.token(key.partitionKey), partitionKey: key.partitionKey, clustering: key.clustering)
                examined += 1
                if try checker.matches(key) {
                    out.append(key)
                    if out.count >= command.limit { return IndexedRowsPage(keys: out, next: cursor) }
                }
            }
            if candidates.count < batch { return IndexedRowsPage(keys: out, next: nil) }
            if examined >= 8 * batch { return IndexedRowsPage(keys: out, next: cursor) }
        }
    }

    /// The filter a restricted vector search uses: a row is acceptable when every restriction's
    /// index holds a matching term for it or for its whole partition in some segment (a superset
    /// of the matching rows; the coordinator checks the rows it reads). Also returns the number
    /// of rows the most selective restriction matches.
    func keyFilter(_ restrictions: [IndexTermRestriction], table: UUIDValue) throws -> (accepts: @Sendable (RowKey) -> Bool, fewest: Int) {
        let sets = try resolve(restrictions, table: table).map { $0.index.allKeys($0.span) }
        let fewest = sets.map(\.count).min() ?? 0
        let accepts: @Sendable (RowKey) -> Bool = { key in
            sets.allSatisfy { set in
                set.contains(key) || (!key.clustering.isEmpty && set.contains(RowKey(partitionKey: key.partitionKey, clustering: [])))
            }
        }
        return (accepts, fewest)
    }
}

/// Checks candidate keys against this node's current data.
struct RowChecker {
    let engine: StorageEngine
    let table: TableSchema
    let restrictions: [ResolvedRestriction]
    let now: Int64

    func matches(_ key: RowKey) throws -> Bool {
        let partitionOnly = key.clustering.isEmpty && !table.clustering.isEmpty
        let slices: [ClusteringSlice] = partitionOnly ? [] : (table.clustering.isEmpty ? [.all] : [.equal(key.clustering)])
        let result = try engine.read(ReadCommand(schema: table, partitionKey: key.partitionKey, slices: slices, nowSeconds: now))
        let live = result.live(now: now, ClusteringComparator(table))
        let row = partitionOnly ? nil : live.rows.first { $0.clustering == key.clustering }
        if !partitionOnly && row == nil { return false }
        for r in restrictions {
            let d = r.index.definition
            if partitionOnly && !d.isPartitionLevel { continue }
            if !d.matches(r.predicate, partitionKey: key.partitionKey, clustering: partitionOnly ? nil : key.clustering,
                          rowCells: row?.cells ?? [], staticCells: live.staticRow?.cells ?? []) { return false }
        }
        return true
    }
}
