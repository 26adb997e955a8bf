import BasaltCore
import BasaltNet
import BasaltStorage
import Synchronization

extension ClusterCoordinator {
    /// Reads one partition at `consistency` (see ``ReadCoordination``). When one replica is enough
    /// and this node is the closest, the local engine answers directly.
    public func read(_ command: ReadCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> PartitionResult {
        let started = clock.monotonicNanos()
        defer { latencies.record(.read, consistency, since: started, now: clock.monotonicNanos()) }
        count(\.reads)
        do {
            let ks = try keyspace(command.keyspace)
            let table = try table(command.tableId, command.keyspace, command.table)
            let snapshot = topology.snapshot
            let plan = try ReplicaPlan.forRead(consistency, replicas: snapshot.replicas(for: Murmur3.token(command.partitionKey), ks.replication),
                                               replication: ks.replication, localDataCenter: snapshot.localDataCenter)
            if plan.blockFor == 1, plan.candidates.first?.isLocal == true, let local = try? engine.read(command) {
                count(\.localFastReads)
                return local
            }
            let result = await withUnsafeContinuation { continuation in
                ReadRun(coordinator: self, command: command, plan: plan, comparator: ClusteringComparator(table), snapshot: snapshot,
                        continuation: continuation).start()
            }
            return try result.get()
        } catch {
            count(error)
            throw error
        }
    }
}

/// One partition read in flight.
final class ReadRun: Sendable {
    let coordinator: ClusterCoordinator
    let cmp: ClusteringComparator
    let snapshot: ClusterTopology.Snapshot
    let box: MachineBox<ReadCoordination>
    let continuation: UnsafeContinuation<Result<PartitionResult, CoordinatorError>, Never>
    /// Why the last replica that refused the read did (the cause a ReadFailure is counted under).
    let failureCause = Mutex<FailureCause?>(nil)

    init(coordinator: ClusterCoordinator, command: ReadCommand, plan: ReplicaPlan, comparator: ClusteringComparator,
         snapshot: ClusterTopology.Snapshot, continuation: UnsafeContinuation<Result<PartitionResult, CoordinatorError>, Never>) {
        self.coordinator = coordinator
        cmp = comparator
        self.snapshot = snapshot
        box = MachineBox(ReadCoordination(command: command, plan: plan, comparator: comparator), deadlines: coordinator.deadlines)
        self.continuation = continuation
    }

    func start() {
        let directives = box.step { $0.start() }
        box.schedule(after: coordinator.settings.readTimeout) { [self] in execute(box.step { $0.onTimeout() }) }
        let plan = box.read(\.plan)
        if plan.candidates.count > plan.initialContacts.count, let delay = coordinator.speculationDelay {
            box.schedule(after: delay) { [self] in
                let d = box.step { $0.onSpeculationTimer() }
                if !d.isEmpty { coordinator.count(\.speculativeRetries) }
                execute(d)
            }
        }
        execute(directives)
    }

    private func execute(_ directives: [ReadCoordination.Directive]) {
        for d in directives {
            switch d {
            case let .request(request):
                send(request)
            case let .repair(r, m, round):
                coordinator.count(\.readRepairsSent)
                repair(r, m, round: round)
            case let .complete(outcome):
                box.cancelTimers()
                if box.read(\.round) > 0 { coordinator.count(\.digestMismatches) }
                switch outcome {
                case let .result(p): continuation.resume(returning: .success(p))
                case let .failure(e):
                    coordinator.recordFailure(e, cause: failureCause.withLock { $0 })
                    continuation.resume(returning: .failure(e))
                }
            }
        }
    }

    private enum Answer: Sendable {
        case data(PartitionResult)
        case digest(ResultDigest)
    }

    private func send(_ request: ReadCoordination.Request) {
        let host = request.replica.hostId, round = request.round, digest = request.kind == .digest
        let engine = coordinator.engine, cmp = self.cmp, command = request.command
        coordinator.ask(request.replica, snapshot: snapshot, verb: ReplicaVerbs.read, timeout: coordinator.settings.readTimeout,
                        latency: coordinator.readLatency,
                        payload: { ReplicaVerbs.readPayload(command, digest: digest) },
                        local: { () throws -> Answer in
                            let result = try engine.read(command)
                            return digest ? .digest(result.digest(cmp)) : .data(result)
                        },
                        decode: { bytes throws -> Answer in
                            digest ? .digest(try ReplicaVerbs.decodeDigest(bytes)) : .data(try PartitionResult.decode(bytes))
                        }, cause: { [self] c in failureCause.withLock { $0 = c } }) { [self] result in
            switch result {
            case let .success(.data(p)): execute(box.step { $0.onData(p, from: host, round: round) })
            case let .success(.digest(g)): execute(box.step { $0.onDigest(g, from: host, round: round) })
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
