import BasaltCore
import BasaltStorage

/// One coordinated read of one partition, as a pure state machine (no I/O, no clock): the shell
/// sends the requests it is given, reports each response, failure, repair acknowledgement, the
/// speculation timer and the request's timeout, and answers with the one `.complete` directive.
///
/// Cassandra 4's read path with blocking read repair:
/// 1. **Digest round.** The closest live replicas that meet the level are contacted: the first for
///    data, the others for digests. A failed replica is replaced by the next live candidate (asked
///    for data); the speculation timer adds one more candidate. Once the responses meet the level
///    and include data, matching digests answer at once.
/// 2. **Data rounds** on a mismatch: every replica that answered is asked for full data (all
///    columns, so a repair never writes a row marker the read synthesized for a column subset).
///    The responses are reconciled. With a row limit, a replica that returned `limit` live rows may
///    hold more: the result is cut at the most restrictive last row such a replica returned, and when
///    fewer than `limit` live rows survive the cut, the round is repeated with twice the limit
///    (short-read protection).
/// 3. **Repair.** Every replica whose response differs from the reconciled result gets the
///    reconciled partition as a repair mutation, and the read answers only when all of them have
///    acknowledged it: a later read at the same level cannot see older data (monotonic quorum reads).
///
/// Responses of an earlier round, of replicas not asked, and duplicates are ignored.
public struct ReadCoordination: Sendable {
    public enum Kind: Hashable, Sendable { case data, digest }

    public struct Request: Hashable, Sendable {
        public var replica: Replica
        public var kind: Kind
        public var command: ReadCommand
        /// Echo it back with the response.
        public var round: Int
    }

    public enum Outcome: Hashable, Sendable {
        case result(PartitionResult)
        case failure(CoordinatorError)
    }

    public enum Directive: Hashable, Sendable {
        case request(Request)
        /// Write this reconciled partition to a stale replica and report its acknowledgement.
        case repair(Replica, Mutation, round: Int)
        case complete(Outcome)
    }

    private enum Response {
        case data(PartitionResult)
        case digest(ResultDigest)
    }

    private enum Phase { case idle, digests, data, repairing, done }

    public let command: ReadCommand
    public let plan: ReplicaPlan
    private let cmp: ClusteringComparator
    private var phase = Phase.idle
    public private(set) var round = 0
    private var responses: [UUIDValue: (Replica, Response)] = [:]
    private var outstanding: [UUIDValue: Replica] = [:]
    private var contacted: Set<UUIDValue> = []
    private var rejected: [FailedReplica] = []
    private var speculated = false
    /// The row limit of the current data round.
    private var dataLimit: Int
    private var pendingRepairs: Set<UUIDValue> = []
    private var answer: PartitionResult?

    public init(command: ReadCommand, plan: ReplicaPlan, comparator: ClusteringComparator) {
        self.command = command
        self.plan = plan
        cmp = comparator
        dataLimit = command.limit
    }

    public var isComplete: Bool { phase == .done }

    public mutating func start() -> [Directive] {
        precondition(phase == .idle, "ReadCoordination.start() called twice: \(command)")
        phase = .digests
        var out: [Directive] = []
        for (i, r) in plan.initialContacts.enumerated() { out.append(ask(r, i == 0 ? .data : .digest, command)) }
        return out
    }

    public mutating func onData(_ result: PartitionResult, from host: UUIDValue, round: Int) -> [Directive] {
        guard round == self.round, let r = outstanding.removeValue(forKey: host) else { return [] }
        responses[host] = (r, .data(result))
        return progress()
    }

    public mutating func onDigest(_ digest: ResultDigest, from host: UUIDValue, round: Int) -> [Directive] {
        guard round == self.round, phase == .digests, let r = outstanding.removeValue(forKey: host) else { return [] }
        responses[host] = (r, .digest(digest))
        return progress()
    }

    public mutating func onFailure(from host: UUIDValue, round: Int, _ failure: ReplicaFailure) -> [Directive] {
        if phase == .repairing, round == self.round, pendingRepairs.contains(host) {
            return finish(.failure(timeout(received: plan.blockFor, dataPresent: true)))
        }
        guard round == self.round, phase == .digests || phase == .data,
              let r = outstanding.removeValue(forKey: host) else { return [] }
        if failure == .rejected { rejected.append(FailedReplica(r.identity.address)) }
        var out: [Directive] = []
        if let next = nextCandidate(sameDataCenterAs: r) {
            out.append(ask(next, .data, phase == .digests ? command : dataCommand))
        }
        return out + progress()
    }

    public mutating func onRepairAck(from host: UUIDValue, round: Int) -> [Directive] {
        guard phase == .repairing, round == self.round, pendingRepairs.remove(host) != nil else { return [] }
        guard pendingRepairs.isEmpty, let answer else { return [] }
        return finish(.result(answer))
    }

    /// The replicas are slow: ask one more candidate for data (once, in the digest round).
    public mutating func onSpeculationTimer() -> [Directive] {
        guard phase == .digests, !speculated, let next = nextCandidate(sameDataCenterAs: nil) else { return [] }
        speculated = true
        return [ask(next, .data, command)]
    }

    public mutating func onTimeout() -> [Directive] {
        switch phase {
        case .done, .idle: return []
        case .repairing: return finish(.failure(timeout(received: plan.blockFor, dataPresent: true)))
        case .digests, .data: return finish(.failure(timeout(received: countedResponses.total, dataPresent: hasData)))
        }
    }

    // MARK: - Progress

    private var hasData: Bool {
        responses.values.contains { if case .data = $0.1 { true } else { false } }
    }

    private var countedResponses: ResponseTally {
        var t = ResponseTally()
        for (r, _) in responses.values where plan.requirement.counts(dataCenter: r.dataCenter) { t.add(dataCenter: r.dataCenter) }
        return t
    }

    private var dataCommand: ReadCommand {
        var c = command
        c.columns = .all
        c.limit = dataLimit
        return c
    }

    private mutating func progress() -> [Directive] {
        guard phase == .digests || phase == .data else { return [] }
        let counted = countedResponses
        var possible = counted
        for r in outstanding.values where plan.requirement.counts(dataCenter: r.dataCenter) { possible.add(dataCenter: r.dataCenter) }
        if phase == .digests {
            if plan.requirement.isMet(by: counted) {
                if let answer = digestsAgree() { return finish(.result(answer)) }
                if hasData || outstanding.isEmpty { return startDataRound() }
                return []
            }
        } else if outstanding.isEmpty && plan.requirement.isMet(by: counted) {
            return resolve()
        }
        if !plan.requirement.isMet(by: possible) {
            let error: CoordinatorError = !rejected.isEmpty
                ? .readFailure(consistency: plan.consistency, received: counted.total, blockFor: plan.blockFor,
                               failures: rejected.count, dataPresent: hasData, failedAt: rejected)
                : timeout(received: counted.total, dataPresent: hasData)
            return finish(.failure(error))
        }
        return []
    }

    /// The data response when every response agrees with it; nil on a mismatch or without data.
    private func digestsAgree() -> PartitionResult? {
        var data: PartitionResult?
        var digests: [ResultDigest] = []
        for (_, response) in responses.values {
            switch response {
            case let .data(d):
                data = data ?? d
                digests.append(d.digest(cmp))
            case let .digest(g):
                digests.append(g)
            }
        }
        guard let data, let first = digests.first, digests.allSatisfy({ $0 == first }) else { return nil }
        return data
    }

    private mutating func startDataRound() -> [Directive] {
        let targets = responses.values.map(\.0).sorted { $0.identity < $1.identity }
        phase = .data
        round += 1
        responses.removeAll()
        outstanding.removeAll()
        return targets.map { ask($0, .data, dataCommand) }
    }

    private mutating func resolve() -> [Directive] {
        var versions: [(Replica, PartitionResult)] = []
        for (r, response) in responses.values {
            if case let .data(d) = response { versions.append((r, d)) }
        }
        versions.sort { $0.0.identity < $1.0.identity }
        var merged = PartitionUpdate.merge(versions.map(\.1.update), cmp)
        // Short-read protection: a replica that returned `dataLimit` live rows may hold more.
        var boundary: [[UInt8]]?
        if dataLimit < Int.max {
            for (_, v) in versions where v.update.rows.reduce(0, { $0 + ($1.isLive(now: command.nowSeconds) ? 1 : 0) }) >= dataLimit {
                guard let edge = command.reversed ? v.update.rows.first?.clustering : v.update.rows.last?.clustering else { continue }
                if let b = boundary {
                    let c = cmp.compare(edge, b)
                    if command.reversed ? c > 0 : c < 0 { boundary = edge }
                } else {
                    boundary = edge
                }
            }
        }
        if let boundary {
            merged = Self.cut(merged, at: boundary, reversed: command.reversed, cmp)
            let live = merged.rows.reduce(0) { $0 + ($1.isLive(now: command.nowSeconds) ? 1 : 0) }
            if live < command.limit {
                dataLimit = dataLimit >= (1 << 20) ? Int.max : dataLimit * 2
                let targets = versions.map(\.0)
                round += 1
                responses.removeAll()
                outstanding.removeAll()
                return targets.map { ask($0, .data, dataCommand) }
            }
        }
        let key = command.partitionKey
        let reconciled = PartitionResult(partitionKey: key, update: merged)
        let digest = reconciled.digest(cmp)
        answer = PartitionResult(partitionKey: key, token: reconciled.token, update: merged.filtered(
            slices: command.slices, columns: command.columns, reversed: command.reversed, limit: command.limit,
            now: command.nowSeconds, cmp))
        var out: [Directive] = []
        for (r, v) in versions {
            let version = boundary.map { Self.cut(v.update, at: $0, reversed: command.reversed, cmp) } ?? v.update
            if PartitionResult(partitionKey: key, token: reconciled.token, update: version).digest(cmp) == digest { continue }
            pendingRepairs.insert(r.hostId)
            let m = Mutation(keyspace: command.keyspace, table: command.table, tableId: command.tableId, partitionKey: key, update: merged)
            out.append(.repair(r, m, round: round))
        }
        if out.isEmpty, let answer { return finish(.result(answer)) }
        phase = .repairing
        return out
    }

    /// `update` without the rows past `boundary` in the read's direction.
    static func cut(_ update: PartitionUpdate, at boundary: [[UInt8]], reversed: Bool, _ cmp: ClusteringComparator) -> PartitionUpdate {
        var out = update
        out.rows = update.rows.filter {
            let c = cmp.compare($0.clustering, boundary)
            return reversed ? c >= 0 : c <= 0
        }
        return out
    }

    // MARK: - Helpers

    private mutating func ask(_ r: Replica, _ kind: Kind, _ command: ReadCommand) -> Directive {
        outstanding[r.hostId] = r
        contacted.insert(r.hostId)
        return .request(Request(replica: r, kind: kind, command: command, round: round))
    }

    private func nextCandidate(sameDataCenterAs failed: Replica?) -> Replica? {
        let needSameDC: Bool = if case .eachDataCenter = plan.requirement.counting { true } else { false }
        return plan.candidates.first {
            !contacted.contains($0.hostId) && (!needSameDC || failed == nil || $0.dataCenter == failed!.dataCenter)
        }
    }

    private func timeout(received: Int, dataPresent: Bool) -> CoordinatorError {
        .readTimeout(consistency: plan.consistency, received: received, blockFor: plan.blockFor, dataPresent: dataPresent)
    }

    private mutating func finish(_ outcome: Outcome) -> [Directive] {
        guard phase != .done else { return [] }
        phase = .done
        return [.complete(outcome)]
    }
}
