import BasaltCore
import BasaltStorage

/// One page of a token-range scan within one ring range (whose replicas are the same throughout),
/// as a pure state machine, like ``ReadCoordination``.
///
/// The closest live replicas that meet the level are each asked for a page of data (a failed one
/// is replaced by the next candidate). Replicas may stop at different places, so the merged page
/// ends at the earliest place any replica stopped (``ScanPosition`` order: token, key bytes, then
/// the last clustering of a partition cut short): everything up to it was returned by every
/// replica asked, so reconciling is exact. Each replica whose version of a partition in the page
/// differs from the reconciled one gets it as a repair mutation, and the page is answered once
/// every repair is acknowledged. With more than one replica, data is read with all columns (so
/// repairs carry whole rows) and the page is restricted to the selected columns afterwards.
public struct ScanCoordination: Sendable {
    public struct Request: Hashable, Sendable {
        public var replica: Replica
        public var command: TokenScanCommand
        public var round: Int
    }

    public enum Outcome: Hashable, Sendable {
        case page(ScanResult)
        case failure(CoordinatorError)
    }

    public enum Directive: Hashable, Sendable {
        case request(Request)
        case repair(Replica, Mutation, round: Int)
        case complete(Outcome)
    }

    private enum Phase { case idle, reading, repairing, done }

    public let command: TokenScanCommand
    public let plan: ReplicaPlan
    private let cmp: ClusteringComparator
    private var phase = Phase.idle
    private let round = 0
    private var pages: [UUIDValue: (Replica, ScanResult)] = [:]
    private var outstanding: [UUIDValue: Replica] = [:]
    private var contacted: Set<UUIDValue> = []
    private var rejected: [FailedReplica] = []
    private var pendingRepairs: Set<UUIDValue> = []
    private var answer: ScanResult?

    public init(command: TokenScanCommand, plan: ReplicaPlan, comparator: ClusteringComparator) {
        self.command = command
        self.plan = plan
        cmp = comparator
    }

    public var isComplete: Bool { phase == .done }

    private var replicaCommand: TokenScanCommand {
        var c = command
        if plan.blockFor > 1 { c.columns = .all }
        return c
    }

    public mutating func start() -> [Directive] {
        precondition(phase == .idle, "ScanCoordination.start() called twice: \(command)")
        phase = .reading
        return plan.initialContacts.map { ask($0) }
    }

    public mutating func onPage(_ page: ScanResult, from host: UUIDValue, round: Int) -> [Directive] {
        guard phase == .reading, round == self.round, let r = outstanding.removeValue(forKey: host) else { return [] }
        pages[host] = (r, page)
        return progress()
    }

    public mutating func onFailure(from host: UUIDValue, round: Int, _ failure: ReplicaFailure) -> [Directive] {
        if phase == .repairing, pendingRepairs.contains(host) { return finish(.failure(timeout(received: plan.blockFor, dataPresent: true))) }
        guard phase == .reading, round == self.round, let r = outstanding.removeValue(forKey: host) else { return [] }
        if failure == .rejected { rejected.append(FailedReplica(r.identity.address)) }
        let needSameDC: Bool = if case .eachDataCenter = plan.requirement.counting { true } else { false }
        var out: [Directive] = []
        if let next = plan.candidates.first(where: { !contacted.contains($0.hostId) && (!needSameDC || $0.dataCenter == r.dataCenter) }) {
            out.append(ask(next))
        }
        return out + progress()
    }

    public mutating func onRepairAck(from host: UUIDValue, round: Int) -> [Directive] {
        guard phase == .repairing, pendingRepairs.remove(host) != nil, pendingRepairs.isEmpty, let answer else { return [] }
        return finish(.page(answer))
    }

    public mutating func onTimeout() -> [Directive] {
        switch phase {
        case .idle, .done: return []
        case .repairing: return finish(.failure(timeout(received: plan.blockFor, dataPresent: true)))
        case .reading: return finish(.failure(timeout(received: counted.total, dataPresent: !pages.isEmpty)))
        }
    }

    private var counted: ResponseTally {
        var t = ResponseTally()
        for (r, _) in pages.values where plan.requirement.counts(dataCenter: r.dataCenter) { t.add(dataCenter: r.dataCenter) }
        return t
    }

    private mutating func progress() -> [Directive] {
        let counted = self.counted
        if outstanding.isEmpty && plan.requirement.isMet(by: counted) { return resolve() }
        var possible = counted
        for r in outstanding.values where plan.requirement.counts(dataCenter: r.dataCenter) { possible.add(dataCenter: r.dataCenter) }
        if plan.requirement.isMet(by: possible) { return [] }
        let error: CoordinatorError = !rejected.isEmpty
            ? .readFailure(consistency: plan.consistency, received: counted.total, blockFor: plan.blockFor, failures: rejected.count,
                           dataPresent: !pages.isEmpty, failedAt: rejected)
            : timeout(received: counted.total, dataPresent: !pages.isEmpty)
        return finish(.failure(error))
    }

    private mutating func resolve() -> [Directive] {
        let versions = pages.values.sorted { $0.0.identity < $1.0.identity }
        // The page ends where the first replica stopped.
        var boundary: ScanPosition?
        for (_, page) in versions {
            guard let next = page.next else { continue }
            if boundary == nil || Self.compare(next, boundary!, cmp) < 0 { boundary = next }
        }
        // Each replica's partitions up to the boundary, by key.
        var byKey: [[UInt8]: (token: Token, parts: [UUIDValue: PartitionUpdate])] = [:]
        for (r, page) in versions {
            for p in page.partitions {
                guard let update = Self.restrict(p, to: boundary, cmp) else { continue }
                byKey[p.partitionKey, default: (p.token, [:])].parts[r.hostId] = update
            }
        }
        let keys = byKey.keys.sorted { a, b in
            let ta = byKey[a]!.token, tb = byKey[b]!.token
            return ta != tb ? ta < tb : a.lexicographicallyPrecedes(b)
        }
        var partitions: [PartitionResult] = []
        partitions.reserveCapacity(keys.count)
        var out: [Directive] = []
        for key in keys {
            let (token, parts) = byKey[key]!
            let merged = PartitionUpdate.merge(Array(parts.values), cmp)
            let reconciled = PartitionResult(partitionKey: key, token: token, update: merged)
            if versions.count > 1 {
                let digest = reconciled.digest(cmp)
                for (r, _) in versions {
                    let mine = PartitionResult(partitionKey: key, token: token, update: parts[r.hostId] ?? .empty)
                    if mine.digest(cmp) == digest { continue }
                    pendingRepairs.insert(r.hostId)
                    out.append(.repair(r, Mutation(keyspace: command.keyspace, table: command.table, tableId: command.tableId,
                                                   partitionKey: key, update: merged), round: round))
                }
            }
            var shown = merged
            if command.columns != .all && replicaCommand.columns == .all {
                shown = merged.filtered(slices: [.all], columns: command.columns, reversed: false, limit: .max,
                                        now: command.nowSeconds, cmp)
            }
            partitions.append(PartitionResult(partitionKey: key, token: token, update: shown))
        }
        let page = ScanResult(partitions: partitions, next: boundary)
        if out.isEmpty { return finish(.page(page)) }
        answer = page
        phase = .repairing
        return out
    }

    /// The part of `p` at or before `boundary` (all of it without a boundary); nil when it lies wholly after.
    static func restrict(_ p: PartitionResult, to boundary: ScanPosition?, _ cmp: ClusteringComparator) -> PartitionUpdate? {
        guard let b = boundary else { return p.update }
        if p.token != b.token { return p.token < b.token ? p.update : nil }
        if p.partitionKey != b.partitionKey { return p.partitionKey.lexicographicallyPrecedes(b.partitionKey) ? p.update : nil }
        guard let last = b.clustering else { return p.update }
        var u = p.update
        u.rows = u.rows.filter { cmp.compare($0.clustering, last) <= 0 }
        return u
    }

    /// Scan order of positions: token, key bytes, then clustering (a partition returned whole —
    /// nil clustering — comes after any of its clusterings).
    static func compare(_ a: ScanPosition, _ b: ScanPosition, _ cmp: ClusteringComparator) -> Int {
        if a.token != b.token { return a.token < b.token ? -1 : 1 }
        if a.partitionKey != b.partitionKey { return a.partitionKey.lexicographicallyPrecedes(b.partitionKey) ? -1 : 1 }
        switch (a.clustering, b.clustering) {
        case (nil, nil): return 0
        case (nil, _): return 1
        case (_, nil): return -1
        case let (x?, y?): return cmp.compare(x, y)
        }
    }

    private mutating func ask(_ r: Replica) -> Directive {
        outstanding[r.hostId] = r
        contacted.insert(r.hostId)
        return .request(Request(replica: r, command: replicaCommand, round: round))
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
