import BasaltCore
import BasaltNet
import BasaltStorage

extension ClusterCoordinator {
    /// The rows nearest to a vector over the whole ring at `consistency`: the ring is cut at its
    /// tokens, each piece is assigned to as many of its live replicas as the level needs (see
    /// ``assign(_:consistency:replication:routing:)``), and each chosen replica answers from its
    /// own index for all of its pieces. The answers are merged (each row once, at its best
    /// distance), nearest first.
    ///
    /// The rows are candidates. When the command asks for rows' content, a row every replica
    /// asked about its range returned comes back with their versions reconciled, as a read of
    /// the row at this level would return it; any other row (returned by fewer of them, or past
    /// the content they sent) has no content, and the caller reads it at the same level. So a row
    /// deleted or overwritten on any replica the level reaches is dropped or re-scored.
    public func nearestRows(_ command: NearestRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> [NearestRow] {
        let ks = try keyspace(command.keyspace)
        let schema = try table(command.tableId, command.keyspace, command.table)
        let routing = settings.indexQueryRouting
        let assignments = try assign([TokenRange(start: .min, end: .max)], consistency: consistency, replication: ks.replication, routing: routing)
        if assignments.isEmpty { return [] }
        let search = vectorSearch, engine = self.engine
        let answers: [IndexReplicaAnswer<(IndexAssignment, [NearestRow])>] = await askAll(assignments, verb: ReplicaVerbs.nearestRows) { assignment in
            var request = command
            // A replica asked for every range it holds searches without a token filter.
            request.ranges = assignment.coversAllItHolds ? [] : assignment.ranges
            let sub = request
            return (sub.encoded(), { () throws -> (IndexAssignment, [NearestRow]) in
                guard let search else { throw CoordinatorError.invalid("no vector indexes on this node") }
                return (assignment, try sub.withContent(try search.nearestRows(sub), from: engine))
            }, { (assignment, try NearestRow.decode($0)) })
        }
        let lists = try results(answers, consistency)
        var merged: [RowKey: (distance: Float, versions: [PartitionResult])] = [:]
        for (assignment, rows) in lists {
            for row in rows {
                let key = RowKey(partitionKey: row.partitionKey, clustering: row.clustering)
                var entry = merged[key] ?? (.infinity, [])
                entry.distance = min(entry.distance, row.distance)
                // Only a version from a replica asked about the row's range counts towards the
                // level (a replica searching all it holds may still hold ranges it no longer owns).
                if let content = row.row, assignment.covers(content.token) { entry.versions.append(content) }
                merged[key] = entry
            }
        }
        let cmp = ClusteringComparator(schema)
        return merged.sorted { $0.value.distance < $1.value.distance }.map { key, entry in
            var resolved: PartitionResult?
            if let first = entry.versions.first, entry.versions.count == assignments.count(where: { $0.covers(first.token) }) {
                resolved = entry.versions.dropFirst().reduce(first) { PartitionResult.reconcile($0, $1, cmp) }
            }
            return NearestRow(partitionKey: key.partitionKey, clustering: key.clustering, distance: entry.distance, row: resolved)
        }
    }
}
