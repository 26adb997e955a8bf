import BasaltCluster
import BasaltCore
import BasaltStorage
import BasaltVector

extension SelectExecution {
    /// `ORDER BY v ANN OF q LIMIT k`: candidates from the replicas' vector indexes
    /// (``RequestCoordinator/nearestRows(_:consistency:)``), then each candidate row read at the
    /// query's consistency level, so a row deleted or overwritten on the replicas the read reaches
    /// is dropped or ranked by its current vector. When too many candidates drop out, the search
    /// asks for four times as many, up to 16 times `k`.
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
            let command = NearestRowsCommand(keyspace: query.table.keyspace, table: query.table.name, tableId: query.table.id,
                                             index: ann.index.name, vector: ann.vector, k: partitions == nil ? ask : ask * 4,
                                             restrictions: restrictions)
            let candidates: [NearestRow]
            do { candidates = try await reader.nearestRows(command, consistency: consistency) } catch { throw error.cqlError }
            var scored: [(score: Float, source: RowAssembler.Source)] = []
            var seen = Set<NearestRowKey>()
            for c in candidates where partitions?.contains(c.partitionKey) ?? true {
                guard seen.insert(NearestRowKey(partitionKey: c.partitionKey, clustering: c.clustering)).inserted else { continue }
                let read = ReadCommand(schema: query.table, partitionKey: c.partitionKey,
                                       slices: c.clustering.isEmpty ? [.all] : [.equal(c.clustering)], nowSeconds: nowSeconds)
                let result: PartitionResult
                do { result = try await reader.read(read, consistency: consistency) } catch { throw error.cqlError }
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
}

