import BasaltCore
import BasaltNet
import BasaltStorage

extension ClusterCoordinator {
    /// The rows nearest to a vector over the whole ring at `consistency`: the ring is cut at its
    /// tokens, each piece is assigned to as many of its live replicas as the level needs (closest
    /// first), and each chosen replica answers once for all of its pieces from its own index. The
    /// answers are merged (each row once, at its best distance), nearest first.
    ///
    /// The rows are candidates: the caller reads their current versions at the same level, so a
    /// row deleted or overwritten on any replica it reaches is dropped or re-scored, as a QUORUM
    /// read of those rows would be.
    public func nearestRows(_ command: NearestRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> [NearestRow] {
        let ks = try keyspace(command.keyspace)
        _ = try table(command.tableId, command.keyspace, command.table)
        let assignments = try assign([TokenRange(start: .min, end: .max)], consistency: consistency, replication: ks.replication)
        if assignments.isEmpty { return [] }
        let search = vectorSearch
        let answers: [IndexReplicaAnswer<[NearestRow]>] = await askAll(assignments, verb: ReplicaVerbs.nearestRows) { ranges in
            var request = command
            request.ranges = ranges
            let sub = request
            return (sub.encoded(), { () throws -> [NearestRow] in
                guard let search else { throw CoordinatorError.invalid("no vector indexes on this node") }
                return try search.nearestRows(sub)
            }, { try NearestRow.decode($0) })
        }
        let lists = try results(answers, consistency)
        var best: [NearestRowKey: Float] = [:]
        for rows in lists {
            for row in rows {
                let key = NearestRowKey(partitionKey: row.partitionKey, clustering: row.clustering)
                if row.distance < best[key] ?? .infinity { best[key] = row.distance }
            }
        }
        return best.sorted { $0.value < $1.value }.map { NearestRow(partitionKey: $0.key.partitionKey, clustering: $0.key.clustering, distance: $0.value) }
    }
}

/// A row's key, for merging answers and reading each candidate once.
public struct NearestRowKey: Hashable, Sendable {
    public var partitionKey: [UInt8]
    public var clustering: [[UInt8]]

    public init(partitionKey: [UInt8], clustering: [[UInt8]]) {
        self.partitionKey = partitionKey
        self.clustering = clustering
    }
}
