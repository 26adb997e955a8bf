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
        let snapshot = topology.snapshot
        var assignments: [UUIDValue: (replica: Replica, ranges: [TokenRange])] = [:]
        for piece in snapshot.ring.pieces(of: TokenRange(start: .min, end: .max)) {
            let plan = try ReplicaPlan.forRead(consistency, replicas: snapshot.replicas(forRangeEndingAt: piece.ringIndex, ks.replication),
                                               replication: ks.replication, localDataCenter: snapshot.localDataCenter)
            for r in plan.candidates.prefix(plan.blockFor) {
                assignments[r.hostId, default: (r, [])].ranges.append(piece.range)
            }
        }
        if assignments.isEmpty {
            _ = try ReplicaPlan.forRead(consistency, replicas: [], replication: ks.replication, localDataCenter: snapshot.localDataCenter)
            return []
        }
        let search = vectorSearch
        let answers = await withTaskGroup(of: Result<[NearestRow], ReplicaFailure>.self) { group in
            for (replica, ranges) in assignments.values {
                var sub = command
                sub.ranges = ranges
                let request = sub
                group.addTask {
                    await withUnsafeContinuation { continuation in
                        self.ask(replica, snapshot: snapshot, verb: ReplicaVerbs.nearestRows, timeout: self.settings.rangeTimeout, localInTask: true,
                                 payload: { request.encoded() },
                                 local: {
                                     guard let search else { throw CoordinatorError.invalid("no vector indexes on this node") }
                                     return try search.nearestRows(request)
                                 },
                                 decode: { try NearestRow.decode($0) }) { continuation.resume(returning: $0) }
                    }
                }
            }
            var all: [Result<[NearestRow], ReplicaFailure>] = []
            for await a in group { all.append(a) }
            return all
        }
        var best: [NearestRowKey: Float] = [:]
        var failures = 0
        for answer in answers {
            switch answer {
            case let .success(rows):
                for row in rows {
                    let key = NearestRowKey(partitionKey: row.partitionKey, clustering: row.clustering)
                    if row.distance < best[key] ?? .infinity { best[key] = row.distance }
                }
            case .failure: failures += 1
            }
        }
        if failures > 0 {
            let e = CoordinatorError.readFailure(consistency: consistency, received: answers.count - failures, blockFor: answers.count,
                                                 failures: failures, dataPresent: false)
            count(e)
            throw e
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
