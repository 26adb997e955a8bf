import BasaltCluster
import BasaltCore
import BasaltProtocol
import BasaltStorage
import BasaltVector

extension SelectExecution {
    /// `ORDER BY v ANN OF q LIMIT k`: candidates from the replicas' vector indexes
    /// (``RequestCoordinator/nearestRows(_:consistency:)``), each with its content as a read at
    /// the query's consistency level returns it (the replicas the level needs sent their versions
    /// with their answers) or, when the answers did not settle it, read at that level; so a row
    /// deleted or overwritten on the replicas the level reaches is dropped or ranked by its
    /// current vector. When too many candidates drop out, the search asks for four times as many,
    /// up to 16 times `k`.
    ///
    /// With index restrictions (`WHERE m[k] = v … ORDER BY v ANN OF …`), replicas search only
    /// among the rows their term indexes match, and every candidate row is checked against the
    /// restrictions (and filters) on its current version before it is ranked.
    func runANN(_ ann: ANNQuery) async throws(CQLError) -> Page {
        let partitions = query.partitionKeys.map { Set($0) }
        let checks = IndexRowChecks(query)
        let restrictions = query.indexRestrictions.map(\.termRestriction)
        let cmp = ClusteringComparator(query.table)
        let a = assembler
        var ask = ann.k
        while true {
            // Within named partitions most of the ring's nearest rows fall outside them.
            let wanted = partitions == nil ? ask : ask * 4
            let command = NearestRowsCommand(keyspace: query.table.keyspace, table: query.table.name, tableId: query.table.id,
                                             index: ann.index.name, vector: ann.vector, k: wanted,
                                             restrictions: restrictions, rowsWanted: wanted, nowSeconds: nowSeconds)
            let candidates: [NearestRow]
            do { candidates = try await reader.nearestRows(command, consistency: consistency) } catch { throw error.cqlError }
            // Candidates come nearest first. They are read in concurrent batches, and reading stops
            // once the next candidate's index score cannot beat the k-th best current score (a
            // row's index distance is at most its current one, as the row's current vector is
            // indexed too).
            var seen = Set<RowKey>()
            let order = candidates.filter {
                (partitions?.contains($0.partitionKey) ?? true) && seen.insert(RowKey(partitionKey: $0.partitionKey, clustering: $0.clustering)).inserted
            }
            var scored: [(score: Float, source: RowAssembler.Source)] = []
            var next = 0
            while next < order.count {
                let batch = Array(order[next ..< min(next + Self.annReadBatch(k: ann.k), order.count)])
                next += batch.count
                for (c, result) in zip(batch, try await contents(batch)) {
                    let live = result.live(now: nowSeconds, reversed: false, limit: 1, cmp)
                    guard let row = live.rows.first(where: { $0.clustering == c.clustering }) else { continue }
                    let components = query.table.partitionKeyComponents(live.partitionKey) ?? [live.partitionKey]
                    let source = RowAssembler.Source(partitionKey: live.partitionKey, keyComponents: components, token: result.token,
                                                     row: row, staticRow: live.staticRow)
                    if !checks.passes(source) || (!query.filters.isEmpty && !a.passes(query.filters, source)) { continue }
                    guard let bytes = a.value(ann.column, source), case let .vector(current)? = try? ann.column.type.decode(bytes),
                          current.count == ann.vector.count
                    else { continue }
                    scored.append((ann.index.similarity.score(current, ann.vector), source))
                }
                if scored.count >= ann.k, next < order.count {
                    let kth = scored.map(\.score).sorted(by: >)[ann.k - 1]
                    if ann.index.similarity.score(distance: order[next].distance) <= kth { break }
                }
            }
            let exhausted = candidates.count < command.k
            if scored.count >= ann.k || exhausted || ask >= ann.k * 16 {
                scored.sort { $0.score > $1.score }
                var rows: [[[UInt8]?]] = []
                for s in scored.prefix(ann.k) { rows.append(try a.select(s.source)) }
                return Page(rows: rows, next: nil)
            }
            ask *= 4
        }
    }

    /// One row read, its failure as a value.
    static func read(_ command: ReadCommand, _ reader: any RequestCoordinator, _ consistency: ConsistencyLevel) async -> Result<PartitionResult, CoordinatorError> {
        do { return .success(try await reader.read(command, consistency: consistency)) } catch { return .failure(error) }
    }

    /// Candidate rows read at once: enough for a LIMIT 10 query in one round.
    static func annReadBatch(k: Int) -> Int { min(64, max(16, k + k / 2)) }

    /// The candidates' rows: the content the replicas sent, the others read.
    func contents(_ rows: [NearestRow]) async throws(CQLError) -> [PartitionResult] {
        let unsettled = rows.filter { $0.row == nil }
        var read = try await readRows(unsettled).makeIterator()
        return rows.map { $0.row ?? read.next()! }
    }

    /// Reads the candidates' rows concurrently at the query's level, in the candidates' order.
    func readRows(_ rows: [NearestRow]) async throws(CQLError) -> [PartitionResult] {
        let reader = self.reader, consistency = self.consistency, table = query.table, now = nowSeconds
        let results = await withTaskGroup(of: (Int, Result<PartitionResult, CoordinatorError>).self) { group in
            for (i, c) in rows.enumerated() {
                let read = ReadCommand(schema: table, partitionKey: c.partitionKey,
                                       slices: c.clustering.isEmpty ? [.all] : [.equal(c.clustering)], nowSeconds: now)
                group.addTask { (i, await Self.read(read, reader, consistency)) }
            }
            var byIndex: [Int: Result<PartitionResult, CoordinatorError>] = [:]
            for await (i, r) in group { byIndex[i] = r }
            return (0 ..< rows.count).map { byIndex[$0] }
        }
        var out: [PartitionResult] = []
        out.reserveCapacity(rows.count)
        for r in results {
            guard let r else { throw .serverError("a candidate row read did not complete") }
            switch r {
            case let .success(p): out.append(p)
            case let .failure(e): throw e.cqlError
            }
        }
        return out
    }
}
