import BasaltCore

/// How many replicas a consistency level waits for under a keyspace's replication, and which
/// replicas count towards it — Cassandra's `blockFor` and its response handlers' rules:
///
/// - ANY, ONE, TWO, THREE, QUORUM, ALL: every replica counts; QUORUM is `⌊RF / 2⌋ + 1` of the
///   total replication factor (all data centers), ALL is the total.
/// - LOCAL_ONE, LOCAL_QUORUM (and LOCAL_SERIAL): only replicas in the coordinator's data center
///   count; LOCAL_QUORUM is a quorum of that data center's factor (of the total for strategies
///   without data centers).
/// - EACH_QUORUM: a quorum in every data center the keyspace names, counted per data center
///   (a plain QUORUM for strategies without data centers).
public struct ConsistencyRequirement: Hashable, Sendable {
    public enum Counting: Hashable, Sendable {
        /// Replicas of every data center count; `blockFor` of them are needed.
        case anyReplica
        /// Only replicas in this data center count.
        case dataCenter(String)
        /// Per data center, this many acknowledgements.
        case eachDataCenter([String: Int])
    }

    public let level: ConsistencyLevel
    /// Responses needed in all.
    public private(set) var blockFor: Int
    public private(set) var counting: Counting

    public init(_ level: ConsistencyLevel, replication: ReplicationParams, localDataCenter: String) {
        self.level = level
        let total: Int, local: Int
        var perDataCenter: [String: Int]?
        switch replication {
        case .local:
            total = 1; local = 1
        case let .simple(rf):
            total = rf; local = rf
        case let .networkTopology(dcs):
            total = dcs.values.reduce(0, +)
            local = dcs[localDataCenter] ?? 0
            perDataCenter = dcs.filter { $0.value > 0 }.mapValues { $0 / 2 + 1 }
        }
        switch level {
        case .any, .one:
            blockFor = 1; counting = .anyReplica
        case .two:
            blockFor = 2; counting = .anyReplica
        case .three:
            blockFor = 3; counting = .anyReplica
        case .quorum, .serial:
            blockFor = total / 2 + 1; counting = .anyReplica
        case .all:
            blockFor = total; counting = .anyReplica
        case .localOne:
            blockFor = 1; counting = .dataCenter(localDataCenter)
        case .localQuorum, .localSerial:
            blockFor = local / 2 + 1; counting = .dataCenter(localDataCenter)
        case .eachQuorum:
            if let perDataCenter {
                blockFor = perDataCenter.values.reduce(0, +); counting = .eachDataCenter(perDataCenter)
            } else {
                blockFor = total / 2 + 1; counting = .anyReplica
            }
        }
    }

    /// The requirement of a write that also goes to `pending` replicas (nodes joining or taking
    /// over the range): as Cassandra does, each pending replica the level counts adds one to the
    /// acknowledgements needed, so a write acknowledged at the level is on enough replicas both
    /// before and after the range moves. ANY is unchanged (a hint counts).
    public func addingPending(_ pending: [Replica]) -> ConsistencyRequirement {
        guard level != .any, !pending.isEmpty else { return self }
        var copy = self
        switch counting {
        case .anyReplica:
            copy.blockFor += pending.count
        case let .dataCenter(dc):
            copy.blockFor += pending.count { $0.dataCenter == dc }
        case let .eachDataCenter(need):
            var more = need
            for p in pending where more[p.dataCenter] != nil { more[p.dataCenter]! += 1 }
            copy.counting = .eachDataCenter(more)
            copy.blockFor = more.values.reduce(0, +)
        }
        return copy
    }

    /// Whether a response from a replica in `dataCenter` counts towards the level.
    @inlinable
    public func counts(dataCenter: String) -> Bool {
        switch counting {
        case .anyReplica: true
        case let .dataCenter(dc): dc == dataCenter
        case let .eachDataCenter(need): need[dataCenter] != nil
        }
    }

    /// Whether the counted responses (or live replicas) in `tally` meet the level.
    public func isMet(by tally: ResponseTally) -> Bool {
        switch counting {
        case .anyReplica, .dataCenter: return tally.total >= blockFor
        case let .eachDataCenter(need): return need.allSatisfy { tally.count(in: $0.key) >= $0.value }
        }
    }

    /// The first shortfall of `tally` against the level, as Unavailable reports it: (required,
    /// available) — overall, or for the first data center (by name) that falls short; nil when met.
    public func shortfall(_ tally: ResponseTally) -> (required: Int, available: Int)? {
        switch counting {
        case .anyReplica, .dataCenter:
            return tally.total >= blockFor ? nil : (blockFor, tally.total)
        case let .eachDataCenter(need):
            for (dc, n) in need.sorted(by: { $0.key < $1.key }) where tally.count(in: dc) < n {
                return (n, tally.count(in: dc))
            }
            return nil
        }
    }
}

/// Counted responses (or live replicas) per data center. Only what the requirement counts is added.
///
/// A tally is built for every request, so the first data center's count is kept inline and only
/// further data centers go to a dictionary: with one data center, counting allocates nothing.
public struct ResponseTally: Hashable, Sendable {
    public private(set) var total = 0
    private var firstDataCenter: String?
    private var firstCount = 0
    private var others: [String: Int] = [:]

    public init() {}

    public mutating func add(dataCenter: String) {
        total += 1
        if firstDataCenter == nil { firstDataCenter = dataCenter }
        if dataCenter == firstDataCenter {
            firstCount += 1
        } else {
            others[dataCenter, default: 0] += 1
        }
    }

    public func count(in dataCenter: String) -> Int {
        dataCenter == firstDataCenter ? firstCount : others[dataCenter] ?? 0
    }

    /// The counts per data center, whichever came first.
    private var byDataCenter: [String: Int] {
        var all = others
        if let first = firstDataCenter { all[first] = firstCount }
        return all
    }

    public static func == (a: ResponseTally, b: ResponseTally) -> Bool {
        a.total == b.total && a.byDataCenter == b.byDataCenter
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(total)
        hasher.combine(byDataCenter)
    }
}
