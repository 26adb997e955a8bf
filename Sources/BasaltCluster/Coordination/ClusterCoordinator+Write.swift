import BasaltCore
import BasaltNet
import BasaltStorage
import Synchronization

extension ClusterCoordinator {
    /// Writes every mutation at `consistency`; each is coordinated on its own (concurrently) and the
    /// first failure is thrown after all have been decided. A mutation over
    /// ``Settings/maxMutationSize`` makes the whole request invalid before any replica is contacted.
    public func write(_ mutations: [Mutation], consistency: ConsistencyLevel, writeType: WriteType) async throws(CoordinatorError) {
        let started = clock.monotonicNanos()
        defer { latencies.record(.write, consistency, since: started, now: clock.monotonicNanos()) }
        if writeGate.isClosed { throw .overloaded(WriteGate.refusal) }
        let encoded = try checkedEncodings(mutations)
        if writeType == .batch && mutations.count > 1 {
            try await writeLoggedBatch(mutations, consistency: consistency)
            return
        }
        try await writeEach(mutations, consistency: consistency, writeType: writeType, encoded: encoded)
    }

    /// Each mutation's encoding, once (the replicas are sent these bytes), or `.invalid` naming the
    /// size of the first one over the maximum mutation size and the maximum (Cassandra refuses it
    /// the same way, before writing anything).
    func checkedEncodings(_ mutations: [Mutation]) throws(CoordinatorError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(mutations.count)
        for m in mutations {
            let bytes = m.encoded()
            if bytes.count > settings.maxMutationSize {
                count(\.writes)
                count(\.mutationsTooLarge)
                throw .invalid("Mutation of \(bytes.count) bytes is too large for the maximum size of \(settings.maxMutationSize)")
            }
            out.append(bytes)
        }
        return out
    }

    func writeEach(_ mutations: [Mutation], consistency: ConsistencyLevel, writeType: WriteType,
                   encoded: [[UInt8]]? = nil) async throws(CoordinatorError) {
        if mutations.count == 1 {
            try await writeOne(mutations[0], consistency: consistency, writeType: writeType, encoded: encoded?[0])
            return
        }
        let first: CoordinatorError? = await withTaskGroup(of: CoordinatorError?.self) { group in
            for (i, m) in mutations.enumerated() {
                let bytes = encoded?[i]
                group.addTask { () async -> CoordinatorError? in
                    do throws(CoordinatorError) {
                        try await self.writeOne(m, consistency: consistency, writeType: writeType, encoded: bytes)
                    } catch {
                        return error
                    }
                    return nil
                }
            }
            var first: CoordinatorError?
            for await e in group where first == nil { first = e }
            return first
        }
        if let first { throw first }
    }

    /// Coordinates one mutation: every live replica written, down ones hinted, answered at the level.
    /// `encoded` is its encoding when the caller made it already.
    func writeOne(_ m: Mutation, consistency: ConsistencyLevel, writeType: WriteType, encoded: [UInt8]? = nil) async throws(CoordinatorError) {
        count(\.writes)
        let result: Result<Void, CoordinatorError>
        do {
            let ks = try keyspace(m.keyspace)
            let snapshot = topology.snapshot
            let plan = try ReplicaPlan.forWrite(consistency, replicas: snapshot.replicas(for: m.token, ks.replication),
                                                pending: snapshot.pendingReplicas(for: m.token, ks.replication),
                                                replication: ks.replication, localDataCenter: snapshot.localDataCenter)
            result = await withUnsafeContinuation { continuation in
                WriteRun(coordinator: self, mutation: m, encoded: encoded, plan: plan, writeType: writeType, snapshot: snapshot,
                         continuation: continuation).start()
            }
        } catch {
            result = .failure(error)
        }
        if case let .failure(e) = result {
            count(e)
            throw e
        }
    }
}

/// One write in flight: its state machine, the encoded mutation, the caller's continuation.
final class WriteRun: Sendable {
    let coordinator: ClusterCoordinator
    let mutation: Mutation
    /// The mutation's encoding, made once when some replica is another node.
    let encoded: [UInt8]?
    let snapshot: ClusterTopology.Snapshot
    let box: MachineBox<WriteCoordination>
    let continuation: UnsafeContinuation<Result<Void, CoordinatorError>, Never>
    /// Why the last replica that refused the write did (the cause a WriteFailure is counted under).
    let failureCause = Mutex<FailureCause?>(nil)

    init(coordinator: ClusterCoordinator, mutation: Mutation, encoded: [UInt8]?, plan: ReplicaPlan, writeType: WriteType,
         snapshot: ClusterTopology.Snapshot, continuation: UnsafeContinuation<Result<Void, CoordinatorError>, Never>) {
        self.coordinator = coordinator
        self.mutation = mutation
        self.encoded = encoded ?? (plan.replicas.contains { !$0.isLocal } ? mutation.encoded() : nil)
        self.snapshot = snapshot
        box = MachineBox(WriteCoordination(plan: plan, writeType: writeType), deadlines: coordinator.deadlines)
        self.continuation = continuation
    }

    func start() {
        let directives = box.step { $0.start() }
        box.schedule(after: coordinator.settings.writeTimeout) { [self] in
            execute(box.step { $0.onTimeout() })
        }
        execute(directives)
    }

    private func execute(_ directives: [WriteCoordination.Directive]) {
        for d in directives {
            switch d {
            case let .send(r): send(to: r)
            case let .hint(r): hint(r)
            case let .complete(error):
                if let error { coordinator.recordFailure(error, cause: failureCause.withLock { $0 }) }
                continuation.resume(returning: error.map { .failure($0) } ?? .success(()))
            }
        }
        if !directives.isEmpty && box.read(\.isFinished) { box.cancelTimers() }
    }

    private func send(to r: Replica) {
        let host = r.hostId
        coordinator.sendMutation(mutation, encoded: encoded, verb: ReplicaVerbs.mutation, to: r, snapshot: snapshot) { [self] result, reason, cause in
            if let cause { failureCause.withLock { $0 = cause } }
            switch result {
            case .success: execute(box.step { $0.onAck(from: host) })
            case let .failure(f): execute(box.step { $0.onFailure(from: host, f, reason: reason) })
            }
        }
    }

    private func hint(_ r: Replica) {
        coordinator.count(\.hintsRequested)
        let bytes = encoded ?? mutation.encoded()
        let stored = coordinator.hints?.storeHint(bytes, for: r) ?? false
        if !stored { coordinator.count(\.hintsNotStored) }
        execute(box.step { stored ? $0.onHintStored(for: r.hostId) : $0.onHintNotStored(for: r.hostId) })
    }
}
