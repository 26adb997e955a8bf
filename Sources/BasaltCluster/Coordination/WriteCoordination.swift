import BasaltCore

/// How a replica failed a request.
public enum ReplicaFailure: Error, Hashable, Sendable {
    /// No answer will come (connection refused or closed); a write is hinted as for a timeout.
    case unreachable
    /// The replica answered that it could not serve the request (or its answer was malformed).
    case rejected
}

/// One coordinated write of one mutation, as a pure state machine: events in, directives out; no
/// I/O, no clock. The shell sends what it is told, reports acknowledgements, failures and the
/// request's timeout, and stores the hints it is asked to.
///
/// Rules (Cassandra's): the mutation goes to every live replica and a hint is kept for every down
/// one; the write succeeds once the level's counting replicas acknowledged it (for ANY a stored
/// hint counts too). It fails early when the replicas that can still answer cannot meet the level:
/// WriteFailure if a replica rejected it, else WriteTimeout. At the timeout it fails with
/// WriteTimeout(received, blockFor) unless already decided, and every replica that never answered
/// is hinted. Late and duplicate responses change nothing; exactly one `.complete` is ever emitted.
public struct WriteCoordination: Sendable {
    public enum Directive: Hashable, Sendable {
        /// Send the mutation to this replica (or apply it locally when the replica is this node).
        case send(Replica)
        /// Keep a hint for this replica.
        case hint(Replica)
        /// The write's answer (emitted once).
        case complete(CoordinatorError?)
    }

    public typealias Failure = ReplicaFailure

    public let plan: ReplicaPlan
    public let writeType: WriteType
    private var acked = ResponseTally()
    /// Sent and not answered, by host id.
    private var pending: [UUIDValue: Replica] = [:]
    private var answered: Set<UUIDValue> = []
    /// Hints asked for whose storing was not reported yet.
    private var awaitingHints: Set<UUIDValue> = []
    private var rejected: [FailedReplica] = []
    private var rejectionReason = ""
    private var hintsStored = 0
    public private(set) var isComplete = false
    private var started = false

    public init(plan: ReplicaPlan, writeType: WriteType) {
        self.plan = plan
        self.writeType = writeType
    }

    /// True once the answer was given and no replica is still awaited: the shell may forget it.
    public var isFinished: Bool { isComplete && pending.isEmpty }

    /// Number of counting acknowledgements so far.
    public var received: Int { acked.total }

    public mutating func start() -> [Directive] {
        precondition(!started, "WriteCoordination.start() called twice: \(self)")
        started = true
        var out: [Directive] = []
        out.reserveCapacity(plan.replicas.count + 1)
        pending.reserveCapacity(plan.replicas.count)
        answered.reserveCapacity(plan.replicas.count)
        for r in plan.replicas {
            if r.isAlive {
                pending[r.hostId] = r
                out.append(.send(r))
            } else {
                out.append(hint(r))
            }
        }
        out += decide()
        return out
    }

    public mutating func onAck(from host: UUIDValue) -> [Directive] {
        guard let r = pending.removeValue(forKey: host) else { return [] }
        answered.insert(host)
        if plan.requirement.counts(dataCenter: r.dataCenter) { acked.add(dataCenter: r.dataCenter) }
        return decide()
    }

    /// A replica failed; `reason` is what a rejecting replica said (the first one becomes the
    /// WriteFailure's reason).
    public mutating func onFailure(from host: UUIDValue, _ failure: Failure, reason: String = "") -> [Directive] {
        guard let r = pending.removeValue(forKey: host) else { return [] }
        answered.insert(host)
        var out: [Directive] = []
        switch failure {
        case .unreachable: out.append(hint(r))
        case .rejected:
            rejected.append(FailedReplica(r.identity.address))
            if rejectionReason.isEmpty { rejectionReason = reason }
        }
        return out + decide()
    }

    /// A hint asked for was stored (counts for ANY).
    public mutating func onHintStored(for host: UUIDValue) -> [Directive] {
        guard awaitingHints.remove(host) != nil else { return [] }
        hintsStored += 1
        return decide()
    }

    /// A hint asked for was not stored (hinted handoff off, the node down too long, the store full).
    public mutating func onHintNotStored(for host: UUIDValue) -> [Directive] {
        guard awaitingHints.remove(host) != nil else { return [] }
        return decide()
    }

    /// The write timeout passed: fail if undecided, and hint every replica still awaited.
    public mutating func onTimeout() -> [Directive] {
        var out: [Directive] = []
        if !isComplete {
            isComplete = true
            out.append(.complete(.writeTimeout(consistency: plan.consistency, received: acked.total,
                                               blockFor: plan.blockFor, writeType: writeType)))
        }
        for r in pending.values.sorted(by: { $0.identity < $1.identity }) { out.append(hint(r)) }
        pending.removeAll()
        return out
    }

    private mutating func hint(_ r: Replica) -> Directive {
        awaitingHints.insert(r.hostId)
        return .hint(r)
    }

    private mutating func decide() -> [Directive] {
        guard !isComplete else { return [] }
        if plan.consistency == .any ? acked.total + hintsStored >= 1 : plan.requirement.isMet(by: acked) {
            isComplete = true
            return [.complete(nil)]
        }
        if plan.consistency == .any {
            // Undecided while a replica may answer or a hint may still be stored.
            if pending.isEmpty && awaitingHints.isEmpty { return fail() }
            return []
        }
        // Could the replicas still awaited meet the level?
        var possible = acked
        for r in pending.values where plan.requirement.counts(dataCenter: r.dataCenter) { possible.add(dataCenter: r.dataCenter) }
        return plan.requirement.isMet(by: possible) ? [] : fail()
    }

    private mutating func fail() -> [Directive] {
        isComplete = true
        if !rejected.isEmpty {
            return [.complete(.writeFailure(consistency: plan.consistency, received: acked.total, blockFor: plan.blockFor,
                                            failures: rejected.count, writeType: writeType, reason: rejectionReason, failedAt: rejected))]
        }
        return [.complete(.writeTimeout(consistency: plan.consistency, received: acked.total, blockFor: plan.blockFor,
                                        writeType: writeType))]
    }
}
