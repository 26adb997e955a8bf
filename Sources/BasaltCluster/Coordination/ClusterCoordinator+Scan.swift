import BasaltCore
import BasaltNet
import BasaltStorage

extension ClusterCoordinator {
    /// A page of a token-range scan at `consistency`. The range is cut at the ring's tokens; each
    /// piece is read from its own replicas (``ScanCoordination``), in token order, until the page
    /// holds `pageSize` rows or the range ends. `next` is where the following page starts.
    public func scan(_ command: TokenScanCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> ScanResult {
        let started = clock.monotonicNanos()
        defer { latencies.record(.rangeRead, consistency, since: started, now: clock.monotonicNanos()) }
        count(\.scanPages)
        do {
            return try await scanPieces(command, consistency: consistency)
        } catch {
            count(error)
            throw error
        }
    }

    private func scanPieces(_ command: TokenScanCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> ScanResult {
        let ks = try keyspace(command.keyspace)
        let table = try table(command.tableId, command.keyspace, command.table)
        let cmp = ClusteringComparator(table)
        let snapshot = topology.snapshot
        let pieces = snapshot.ring.pieces(of: command.range)
        if pieces.isEmpty {
            // An empty ring: no replica at all.
            _ = try ReplicaPlan.forRead(consistency, replicas: [], replication: ks.replication, localDataCenter: snapshot.localDataCenter)
            return ScanResult(partitions: [], next: nil)
        }
        var start = 0
        if let after = command.after {
            guard let i = pieces.firstIndex(where: { $0.range.contains(after.token) }) else { return ScanResult(partitions: [], next: nil) }
            start = i
        }
        var collected: [PartitionResult] = []
        var rowsLeft = max(1, command.pageSize)
        for (n, piece) in pieces[start...].enumerated() {
            var sub = command
            sub.range = piece.range
            sub.after = n == 0 ? command.after : nil
            sub.pageSize = rowsLeft
            let plan = try ReplicaPlan.forRead(consistency, replicas: snapshot.replicas(forRangeEndingAt: piece.ringIndex, ks.replication),
                                               replication: ks.replication, localDataCenter: snapshot.localDataCenter)
            let page = try await scanPiece(sub, plan: plan, cmp: cmp, snapshot: snapshot)
            collected += page.partitions
            if let next = page.next { return ScanResult(partitions: collected, next: next) }
            rowsLeft -= page.partitions.reduce(0) { $0 + max(1, $1.update.rows.count) }
            if rowsLeft <= 0, let last = collected.last {
                // This piece is exhausted: the next page starts after its last partition.
                return ScanResult(partitions: collected, next: ScanPosition(token: last.token, partitionKey: last.partitionKey))
            }
        }
        return ScanResult(partitions: collected, next: nil)
    }

    private func scanPiece(_ command: TokenScanCommand, plan: ReplicaPlan, cmp: ClusteringComparator,
                           snapshot: ClusterTopology.Snapshot) async throws(CoordinatorError) -> ScanResult {
        if plan.blockFor == 1, plan.candidates.first?.isLocal == true, let local = try? engine.scan(command) {
            return local
        }
        let result = await withUnsafeContinuation { continuation in
            ScanRun(coordinator: self, command: command, plan: plan, comparator: cmp, snapshot: snapshot, continuation: continuation).start()
        }
        return try result.get()
    }
}

/// One piece of a scan in flight.
final class ScanRun: Sendable {
    let coordinator: ClusterCoordinator
    let snapshot: ClusterTopology.Snapshot
    let box: MachineBox<ScanCoordination>
    let continuation: UnsafeContinuation<Result<ScanResult, CoordinatorError>, Never>

    init(coordinator: ClusterCoordinator, command: TokenScanCommand, plan: ReplicaPlan, comparator: ClusteringComparator,
         snapshot: ClusterTopology.Snapshot, continuation: UnsafeContinuation<Result<ScanResult, CoordinatorError>, Never>) {
        self.coordinator = coordinator
        self.snapshot = snapshot
        box = MachineBox(ScanCoordination(command: command, plan: plan, comparator: comparator), deadlines: coordinator.deadlines)
        self.continuation = continuation
    }

    func start() {
        let directives = box.step { $0.start() }
        box.schedule(after: coordinator.settings.rangeTimeout) { [self] in
            execute(box.step { $0.onTimeout() })
        }
        execute(directives)
    }

    private func execute(_ directives: [ScanCoordination.Directive]) {
        for d in directives {
            switch d {
            case let .request(request): send(request)
            case let .repair(r, m, round):
                coordinator.count(\.readRepairsSent)
                repair(r, m, round: round)
            case let .complete(outcome):
                box.cancelTimers()
                switch outcome {
                case let .page(p): continuation.resume(returning: .success(p))
                case let .failure(e): continuation.resume(returning: .failure(e))
                }
            }
        }
    }

    private func send(_ request: ScanCoordination.Request) {
        let host = request.replica.hostId, round = request.round
        let engine = coordinator.engine, command = request.command
        coordinator.ask(request.replica, snapshot: snapshot, verb: ReplicaVerbs.scan, timeout: coordinator.settings.rangeTimeout,
                        localInTask: true, payload: { command.encoded() }, local: { try engine.scan(command) },
                        decode: { try ScanResult.decode($0) }) { [self] result in
            switch result {
            case let .success(page): execute(box.step { $0.onPage(page, from: host, round: round) })
            case let .failure(f): execute(box.step { $0.onFailure(from: host, round: round, f) })
            }
        }
    }

    private func repair(_ r: Replica, _ m: Mutation, round: Int) {
        let host = r.hostId
        coordinator.sendMutation(m, verb: ReplicaVerbs.readRepair, to: r, snapshot: snapshot) { [self] result in
            switch result {
            case .success: execute(box.step { $0.onRepairAck(from: host, round: round) })
            case let .failure(f): execute(box.step { $0.onFailure(from: host, round: round, f) })
            }
        }
    }
}
