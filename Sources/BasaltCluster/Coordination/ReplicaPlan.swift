import BasaltCore

/// One replica of a request as the coordinator sees it when the request starts.
public struct Replica: Hashable, Sendable, CustomStringConvertible {
    public var identity: NodeIdentity
    public var dataCenter: String
    public var isAlive: Bool
    /// Whether the replica is the coordinating node itself.
    public var isLocal: Bool

    public init(identity: NodeIdentity, dataCenter: String, isAlive: Bool, isLocal: Bool = false) {
        self.identity = identity
        self.dataCenter = dataCenter
        self.isAlive = isAlive
        self.isLocal = isLocal
    }

    public var hostId: UUIDValue { identity.hostId }
    public var description: String { "\(identity.address)\(isAlive ? "" : " (down)")" }
}

/// The replicas of one request and what its consistency level needs of them; built once when the
/// request starts, from the ring's natural replicas and the failure detector's view of liveness.
///
/// Guarantees: a plan exists only when enough replicas are known alive for the level
/// (``forWrite(_:replicas:replication:localDataCenter:)`` and ``forRead(_:replicas:replication:localDataCenter:preference:)``
/// throw Unavailable with Cassandra's required/alive counts otherwise, before anything is sent).
public struct ReplicaPlan: Sendable {
    public let requirement: ConsistencyRequirement
    /// The natural replicas, primary first.
    public let replicas: [Replica]
    /// For reads: the live replicas that count for the level, closest first; the first ones that
    /// meet the level are contacted, the rest stand by for failures and speculation.
    public let candidates: [Replica]

    public var consistency: ConsistencyLevel { requirement.level }
    public var blockFor: Int { requirement.blockFor }

    /// A write plan: every live replica is written, every down one hinted. ANY needs nothing alive
    /// (a hint counts); other levels need `blockFor` counting replicas alive.
    ///
    /// `pending` replicas (joining or taking over the range, see
    /// ``ClusterTopology/Snapshot/pendingReplicas(for:_:)``) are written as well and raise the
    /// acknowledgements needed by their number (``ConsistencyRequirement/addingPending(_:)``).
    public static func forWrite(_ level: ConsistencyLevel, replicas natural: [Replica], pending: [Replica] = [],
                                replication: ReplicationParams,
                                localDataCenter: String) throws(CoordinatorError) -> ReplicaPlan {
        if level.isSerial {
            throw .invalid("SERIAL and LOCAL_SERIAL consistency are only for lightweight transactions, which Basalt does not support")
        }
        let requirement = ConsistencyRequirement(level, replication: replication, localDataCenter: localDataCenter)
            .addingPending(pending)
        let replicas = pending.isEmpty ? natural : natural + pending
        if level != .any {
            var alive = ResponseTally()
            for r in replicas where r.isAlive && requirement.counts(dataCenter: r.dataCenter) { alive.add(dataCenter: r.dataCenter) }
            if let (required, available) = requirement.shortfall(alive) {
                throw .unavailable(consistency: level, required: required, alive: available)
            }
        }
        return ReplicaPlan(requirement: requirement, replicas: replicas, candidates: Self.alive(replicas))
    }

    /// The live ones of `replicas`; the same array (no copy) when all are.
    static func alive(_ replicas: [Replica]) -> [Replica] {
        replicas.allSatisfy(\.isAlive) ? replicas : replicas.filter(\.isAlive)
    }

    /// A read plan. `preference` orders the live counting replicas (lower first; ties keep ring
    /// order); the default prefers this node, then its data center.
    public static func forRead(_ level: ConsistencyLevel, replicas: [Replica], replication: ReplicationParams,
                               localDataCenter: String,
                               preference: ((Replica) -> Double)? = nil) throws(CoordinatorError) -> ReplicaPlan {
        if level == .any { throw .invalid("ANY ConsistencyLevel is only supported for writes") }
        if level.isSerial {
            throw .invalid("SERIAL and LOCAL_SERIAL consistency are only for lightweight transactions, which Basalt does not support")
        }
        let requirement = ConsistencyRequirement(level, replication: replication, localDataCenter: localDataCenter)
        let score = preference ?? { r in r.isLocal ? 0 : (r.dataCenter == localDataCenter ? 1 : 2) }
        let live = replicas.enumerated()
            .filter { $0.element.isAlive && requirement.counts(dataCenter: $0.element.dataCenter) }
            .map { (index: $0.offset, replica: $0.element, score: score($0.element)) }
            .sorted { $0.score != $1.score ? $0.score < $1.score : $0.index < $1.index }
            .map(\.replica)
        var alive = ResponseTally()
        for r in live { alive.add(dataCenter: r.dataCenter) }
        if let (required, available) = requirement.shortfall(alive) {
            throw .unavailable(consistency: level, required: required, alive: available)
        }
        return ReplicaPlan(requirement: requirement, replicas: replicas, candidates: live)
    }

    /// The live replicas a write is sent to.
    public var liveReplicas: [Replica] { Self.alive(replicas) }
    /// The replicas a write hints at once.
    public var downReplicas: [Replica] { replicas.filter { !$0.isAlive } }

    /// The candidates a read contacts first: the closest ones that together meet the level (for
    /// EACH_QUORUM, the closest quorum of every data center).
    public var initialContacts: [Replica] {
        switch requirement.counting {
        case .anyReplica, .dataCenter:
            return Array(candidates.prefix(blockFor))
        case let .eachDataCenter(need):
            var left = need
            var out: [Replica] = []
            for r in candidates where (left[r.dataCenter] ?? 0) > 0 {
                out.append(r)
                left[r.dataCenter]! -= 1
            }
            return out
        }
    }
}
