import BasaltCluster
import BasaltCore
import BasaltProtocol
import BasaltStorage

extension SelectExecution {
    /// A SELECT with index restrictions (no ANN): pages of candidate keys from the replicas'
    /// term indexes (``RequestCoordinator/indexedRows(_:consistency:)``, ring order, within the
    /// query's token range or its partition), then each candidate partition's rows read at the
    /// query's consistency level and checked against every restriction and filter on their
    /// current version, so deleted or overwritten rows never come back. Rows are emitted in ring
    /// order, clustering order within a partition; the paging state (kind `index`) holds the
    /// last row returned.
    func readIndexed(_ sink: inout Sink) async throws(CQLError) {
        if query.reversed, let keys = query.partitionKeys {
            // ORDER BY … DESC within a partition: read its rows in that order and check them.
            return try await readPartitions(Self.unique(keys), &sink)
        }
        let ranges: [TokenRange]
        if let keys = query.partitionKeys {
            ranges = Self.unique(keys).map { k in
                let t = Murmur3.token(k)
                return TokenRange(start: Token(t.value - 1), end: t)
            }
        } else {
            guard let r = range() else { return }
            ranges = [r]
        }
        let order = IndexKeyOrder(table: query.table)
        let restrictions = query.indexRestrictions.map(\.termRestriction)
        var position: ScanPosition?
        var carry = PartitionCarry()
        if let p = paging {
            guard p.kind == .index else { throw .protocolError("Invalid paging state: not from this query") }
            carry = PartitionCarry(key: p.partitionKey, rows: p.rowsInPartition)
            if let c = p.clustering, !query.table.clustering.isEmpty, IndexRowChecks(query).hasPartitionLevel {
                // The partition may have matched as a whole: finish it by reading its rows after c.
                try await readCandidates(p.partitionKey, whole: true, rows: [], after: c, &sink, &carry)
                position = ScanPosition(token: p.token, partitionKey: p.partitionKey)
            } else {
                position = ScanPosition(token: p.token, partitionKey: p.partitionKey, clustering: p.clustering)
            }
        }
        let hasClustering = !query.table.clustering.isEmpty
        while !sink.done {
            let batch = sink.quota == .max ? Self.scanBatchRows : min(Self.scanBatchRows, max(16, sink.quota + 1))
            let command = IndexedRowsCommand(keyspace: query.table.keyspace, table: query.table.name, tableId: query.table.id,
                                             restrictions: restrictions, ranges: ranges, after: position, limit: batch, nowSeconds: nowSeconds)
            let page: IndexedRowsPage
            do { page = try await reader.indexedRows(command, consistency: consistency) } catch { throw error.cqlError }
            var i = 0
            while i < page.keys.count, !sink.done {
                let key = page.keys[i].partitionKey
                var whole = false
                var rows: [[[UInt8]]] = []
                while i < page.keys.count, page.keys[i].partitionKey == key {
                    if hasClustering && page.keys[i].clustering.isEmpty { whole = true } else { rows.append(page.keys[i].clustering) }
                    i += 1
                }
                try await readCandidates(key, whole: whole, rows: rows, after: nil, &sink, &carry)
                let token = Murmur3.token(key)
                position = whole ? ScanPosition(token: token, partitionKey: key) : ScanPosition(token: token, partitionKey: key, clustering: rows.last)
            }
            guard !sink.done, let next = page.next else { break }
            if position.map({ order.compare(next, $0) > 0 }) ?? true { position = next }
        }
    }

    /// Rows already returned from the partition the previous read ended in (PER PARTITION LIMIT).
    struct PartitionCarry {
        var key: [UInt8]?
        var rows = 0
    }

    /// Reads a candidate partition — whole (within the query's slices, after `after`), or only
    /// the candidate rows — and emits the rows that pass every check.
    func readCandidates(_ key: [UInt8], whole: Bool, rows: [[[UInt8]]], after: [[UInt8]]?, _ sink: inout Sink,
                        _ carry: inout PartitionCarry) async throws(CQLError) {
        let cmp = ClusteringComparator(query.table)
        var slices: [ClusteringSlice]
        if whole || query.table.clustering.isEmpty {
            slices = query.slices
        } else {
            slices = rows.filter { c in query.slices.contains { cmp.contains($0, c) } }.map { .equal($0) }
        }
        if let after { slices = Self.restrict(slices, after: after, reversed: false, cmp) }
        if slices.isEmpty { return }
        let command = ReadCommand(schema: query.table, partitionKey: key, slices: slices, nowSeconds: nowSeconds)
        let result: PartitionResult
        do { result = try await reader.read(command, consistency: consistency) } catch { throw error.cqlError }
        let live = result.live(now: nowSeconds, cmp)
        let inPart = carry.key == key ? carry.rows : 0
        let before = sink.count
        try emit(live, token: result.token, allowStaticOnly: whole && after == nil && inPart == 0 && query.slices == [.all],
                 inPartition: inPart, &sink) { src, n, remaining in
            PagingState(kind: .index, token: src.token, partitionKey: src.partitionKey, clustering: src.row?.clustering,
                        rowsInPartition: n, remaining: remaining)
        }
        carry = PartitionCarry(key: key, rows: inPart + (sink.count - before))
    }
}
