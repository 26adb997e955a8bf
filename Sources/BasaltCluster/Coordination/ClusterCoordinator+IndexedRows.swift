import BasaltCore
import BasaltNet
import BasaltStorage

extension ClusterCoordinator {
    /// One page of the keys of rows matching every index restriction of `command` within its
    /// ranges (the whole ring when empty) at `consistency`: the ranges are cut at the ring's
    /// tokens, each piece is assigned to as many of its live replicas as the level needs (closest
    /// first), and each chosen replica answers once for all of its pieces. The answers are merged
    /// in ring order, each key once, up to the first place where a replica stopped looking
    /// (`next`), so that no key before `next` is missing: the caller continues from `next`.
    ///
    /// The keys are candidates: the caller reads the rows at the same level and checks them, so a
    /// row deleted or overwritten on any replica the read reaches is dropped, as a read at that
    /// level would.
    public func indexedRows(_ command: IndexedRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> IndexedRowsPage {
        let ks = try keyspace(command.keyspace)
        let table = try table(command.tableId, command.keyspace, command.table)
        let assignments = try assign(command.ranges.isEmpty ? [TokenRange(start: .min, end: .max)] : command.ranges,
                                     consistency: consistency, replication: ks.replication)
        if assignments.isEmpty { return IndexedRowsPage(keys: [], next: nil) }
        let query = indexQuery
        let answers: [IndexReplicaAnswer<IndexedRowsPage>] = await askAll(assignments, verb: ReplicaVerbs.indexedRows) { assignment in
            var request = command
            request.ranges = assignment.ranges
            let sub = request
            return (sub.encoded(), { () throws -> IndexedRowsPage in
                guard let query else { throw CoordinatorError.invalid("no storage-attached indexes on this node") }
                return try query.indexedRows(sub)
            }, { try IndexedRowsPage.decode($0) })
        }
        let pages = try results(answers, consistency)
        let order = IndexKeyOrder(table: table)
        // Up to the earliest place a replica stopped, every replica's matches are known.
        var cutoff: ScanPosition?
        for p in pages {
            if let n = p.next, cutoff.map({ order.compare(n, $0) < 0 }) ?? true { cutoff = n }
        }
        var merged: [(ScanPosition, RowKey)] = []
        var seen = Set<RowKey>()
        for p in pages {
            for k in p.keys where seen.insert(k).inserted {
                let position = order.position(k)
                if let cutoff, order.compare(position, cutoff) > 0 { continue }
                merged.append((position, k))
            }
        }
        merged.sort { order.compare($0.0, $1.0) < 0 }
        return IndexedRowsPage(keys: merged.map(\.1), next: cutoff)
    }

    /// The live replicas to ask for `ranges`, with the pieces each covers: every piece goes to
    /// as many replicas as `consistency` needs. Per replica (``IndexQueryRouting/perReplica``),
    /// the pieces gather on as few replicas as the level allows: this node first, then replicas
    /// already chosen for an earlier piece, then the closest others (in an order that changes
    /// from query to query, so that coordinators spread their queries over their peers). Per
    /// range, every piece is a request of its own to its closest replicas.
    func assign(_ ranges: [TokenRange], consistency: ConsistencyLevel, replication: ReplicationParams,
                routing: IndexQueryRouting = .perReplica) throws(CoordinatorError) -> [IndexAssignment] {
        let snapshot = topology.snapshot
        var assignments: [UUIDValue: IndexAssignment] = [:]
        var order: [UUIDValue] = []
        var pieceRequests: [IndexAssignment] = []
        var held: [UUIDValue: Int] = [:]
        let salt = Int.random(in: 0 ..< Int.max)
        for range in ranges {
            for piece in snapshot.ring.pieces(of: range) {
                let preference: (Replica) -> Double = { r in
                    if r.isLocal { return 0 }
                    if routing == .perReplica, assignments[r.hostId] != nil { return 1 }
                    let spread = Double(UInt16(truncatingIfNeeded: r.hostId.hashValue ^ salt)) / 65536
                    return (r.dataCenter == snapshot.localDataCenter ? 2 : 4) + spread
                }
                let replicas = snapshot.replicas(forRangeEndingAt: piece.ringIndex, replication)
                for r in replicas { held[r.hostId, default: 0] += 1 }
                let plan = try ReplicaPlan.forRead(consistency, replicas: replicas,
                                                   replication: replication, localDataCenter: snapshot.localDataCenter, preference: preference)
                for r in plan.initialContacts {
                    switch routing {
                    case .perRange:
                        pieceRequests.append(IndexAssignment(replica: r, ranges: [piece.range]))
                    case .perReplica:
                        if assignments[r.hostId] == nil { order.append(r.hostId) }
                        assignments[r.hostId, default: IndexAssignment(replica: r, ranges: [])].ranges.append(piece.range)
                    }
                }
            }
        }
        if assignments.isEmpty && pieceRequests.isEmpty {
            _ = try ReplicaPlan.forRead(consistency, replicas: [], replication: replication, localDataCenter: snapshot.localDataCenter)
        }
        if routing == .perRange { return pieceRequests }
        return order.compactMap { id in
            assignments[id].map { a in
                var a = a
                a.coversAllItHolds = a.ranges.count == held[id]
                return a
            }
        }
    }

    /// Sends one request to each assigned replica (this node directly, in a task) and waits for
    /// every answer; a replica that does not answer within the range timeout counts as failed.
    func askAll<Answer: Sendable>(_ assignments: [IndexAssignment], verb: Verb,
                                  request: (IndexAssignment) -> ([UInt8], @Sendable () throws -> Answer, @Sendable ([UInt8]) throws -> Answer))
        async -> [IndexReplicaAnswer<Answer>]
    {
        let snapshot = topology.snapshot
        return await withTaskGroup(of: IndexReplicaAnswer<Answer>.self) { group in
            for assignment in assignments {
                let replica = assignment.replica
                let (payload, local, decode) = request(assignment)
                group.addTask {
                    if replica.isLocal {
                        do { return .answer(try local()) } catch { return .failed("\(error)", from: replica.identity.address) }
                    }
                    guard let address = snapshot.address(of: replica.hostId) else { return .failed(nil, from: replica.identity.address) }
                    return await withUnsafeContinuation { continuation in
                        self.messaging.request(to: address, verb: verb, payload: payload, timeout: self.settings.rangeTimeout) { result in
                            switch result {
                            case let .success(bytes):
                                do { continuation.resume(returning: .answer(try decode(bytes))) } catch {
                                    continuation.resume(returning: .failed(nil, from: replica.identity.address))
                                }
                            case let .failure(.remoteFailure(_, message)): continuation.resume(returning: .failed(message, from: replica.identity.address))
                            case .failure: continuation.resume(returning: .failed(nil, from: replica.identity.address))
                            }
                        }
                    }
                }
            }
            var all: [IndexReplicaAnswer<Answer>] = []
            for await a in group { all.append(a) }
            return all
        }
    }

    /// The answers, or the error for the failures: an index still being built on a replica is
    /// Invalid (as Cassandra says it), anything else a read failure.
    func results<Answer>(_ answers: [IndexReplicaAnswer<Answer>], _ consistency: ConsistencyLevel) throws(CoordinatorError) -> [Answer] {
        var out: [Answer] = []
        var failed: [FailedReplica] = []
        for a in answers {
            switch a {
            case let .answer(x): out.append(x)
            case let .failed(message, replica):
                if let message, message.contains("is not yet available as it is still being built") {
                    throw .invalid(message)
                }
                failed.append(FailedReplica(replica))
            }
        }
        if !failed.isEmpty {
            let e = CoordinatorError.readFailure(consistency: consistency, received: answers.count - failed.count, blockFor: answers.count,
                                                 failures: failed.count, dataPresent: false, failedAt: failed)
            count(e)
            throw e
        }
        return out
    }
}

/// One request of an index query: a replica and the ring pieces it answers for.
struct IndexAssignment: Sendable {
    var replica: Replica
    var ranges: [TokenRange]
    /// Whether `ranges` are every piece of the requested ranges this replica replicates (per
    /// replica routing only): asked for the whole ring, it may then search without a token filter.
    var coversAllItHolds = false

    func covers(_ token: Token) -> Bool { ranges.contains { $0.contains(token) } }
}

/// How a coordinator sends an index query (`ORDER BY … ANN OF`) over the ring: one request per
/// replica covering all the pieces it was chosen for (the default), or one request per ring range
/// and replica. `vector_search_routing` in the node's configuration; docs/vector.md has the
/// measurements that chose the default.
public enum IndexQueryRouting: String, Sendable, CaseIterable {
    case perReplica = "per_replica"
    case perRange = "per_range"
}

/// What one replica answered to an index request: its answer, or that it failed (with the
/// replica's message when it sent one).
enum IndexReplicaAnswer<Answer: Sendable>: Sendable {
    case answer(Answer)
    case failed(String?, from: NodeAddress)
}
