import BasaltCore

/// One repair of one table, as a pure state machine (no I/O, time passed in): for each token range
/// it asks every replica of the range for its ``MerkleTree``, compares the trees pairwise, and
/// produces ``SyncTask``s — the sub-ranges where two replicas differ, to be streamed from one to
/// the other in both directions (the merge is last-write-wins per cell, so exchanging both ways
/// makes the pair agree; a direction whose source holds no partition in a differing leaf skips it). A shell executes the ``Action``s (sends validation requests, schedules
/// ticks, runs sync tasks through a ``RepairSyncExecutor``) and feeds results back as events.
///
/// Rules, as Cassandra's repair coordinator: a range succeeds only when every replica answered
/// and every sync task of it finished; a replica that fails, does not answer within
/// ``Settings/treeTimeoutNanos`` or is reported down fails the ranges it is part of (repair never
/// reports a range in sync without hearing from every replica, so a tombstone is never taken as
/// present everywhere when a replica was not asked). Other ranges go on. At most
/// ``Settings/parallelRanges`` ranges validate at once. ``Action/finished(_:)`` comes exactly once.
public struct RepairSession: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Requested Merkle tree depth (see ``MerkleTree/effectiveDepth(range:requested:)``).
        public var depth = 12
        /// How long a replica has to return its tree.
        public var treeTimeoutNanos: UInt64 = 120_000_000_000
        /// Ranges whose trees are requested at the same time.
        public var parallelRanges = 1
        public init() {}
    }

    /// A range to repair and its replicas (the same replica names the shell uses to send).
    public struct RangeJob: Hashable, Sendable {
        public var range: TokenRange
        public var replicas: [NodeAddress]
        public init(range: TokenRange, replicas: [NodeAddress]) {
            self.range = range
            self.replicas = replicas
        }
    }

    /// Stream the data of `ranges` from `source` to `target`.
    public struct SyncTask: Hashable, Sendable {
        public var id: Int
        public var rangeIndex: Int
        public var ranges: [TokenRange]
        public var source: NodeAddress
        public var target: NodeAddress
    }

    public enum Action: Hashable, Sendable {
        /// Ask `replica` for its tree of range `rangeIndex` at `depth`.
        case requestTree(rangeIndex: Int, range: TokenRange, replica: NodeAddress, depth: Int)
        /// Call ``onTick(now:)`` at (or after) this monotonic time.
        case scheduleTick(atNanos: UInt64)
        case sync(SyncTask)
        case finished(Outcome)
    }

    public enum RangeStatus: Hashable, Sendable {
        /// Every replica had the same data.
        case inSync
        /// Replicas differed in `differingRanges` sub-ranges; `tasks` sync tasks ran.
        case synced(differingRanges: Int, tasks: Int)
        case failed(String)
    }

    public struct RangeResult: Hashable, Sendable {
        public var range: TokenRange
        public var status: RangeStatus
        public init(range: TokenRange, status: RangeStatus) {
            self.range = range
            self.status = status
        }
    }

    public struct Outcome: Hashable, Sendable {
        public var ranges: [RangeResult]
        public init(ranges: [RangeResult]) { self.ranges = ranges }
        public var succeeded: Bool { ranges.allSatisfy { if case .failed = $0.status { false } else { true } } }
    }

    /// What a progress line shows.
    public struct Progress: Hashable, Sendable {
        public var ranges: Int
        public var validated: Int
        public var done: Int
        public var failed: Int
        /// Ranges whose replicas differed (syncing or synced).
        public var outOfSync: Int
        public var syncTasksStarted: Int
        public var syncTasksDone: Int
    }

    enum RangeState: Hashable, Sendable {
        case waiting
        case validating(trees: [NodeAddress: MerkleTree], deadline: UInt64)
        case syncing(pending: Set<Int>, differing: Int, tasks: Int)
        case done(RangeStatus)
    }

    public let settings: Settings
    public let jobs: [RangeJob]
    private(set) var states: [RangeState]
    private var nextTask = 0
    private var tasksById: [Int: SyncTask] = [:]
    private var syncTasksDone = 0
    private var finishedSent = false
    /// Replicas reported down: ranges not yet started that need them fail at once.
    private var downPeers: Set<NodeAddress> = []

    public init(jobs: [RangeJob], settings: Settings = Settings()) {
        self.jobs = jobs
        self.settings = settings
        states = Array(repeating: .waiting, count: jobs.count)
    }

    public var progress: Progress {
        var p = Progress(ranges: jobs.count, validated: 0, done: 0, failed: 0, outOfSync: 0, syncTasksStarted: tasksById.count + syncTasksDone,
                         syncTasksDone: syncTasksDone)
        for s in states {
            switch s {
            case .waiting, .validating: break
            case .syncing: p.validated += 1; p.outOfSync += 1
            case .done(.failed): p.failed += 1; p.done += 1
            case .done(.synced): p.validated += 1; p.done += 1; p.outOfSync += 1
            case .done: p.validated += 1; p.done += 1
            }
        }
        return p
    }

    public var isFinished: Bool { finishedSent }

    // MARK: events

    public mutating func start(now: UInt64) -> [Action] { advance(now: now) }

    /// A replica's tree for range `rangeIndex`.
    public mutating func onTree(rangeIndex i: Int, replica: NodeAddress, tree: MerkleTree, now: UInt64) -> [Action] {
        guard states.indices.contains(i), case .validating(var trees, let deadline) = states[i],
              jobs[i].replicas.contains(replica), trees[replica] == nil else { return [] }  // late or unasked: ignored
        let expectedDepth = MerkleTree.effectiveDepth(range: jobs[i].range, requested: settings.depth)
        guard tree.range == jobs[i].range, tree.depth == expectedDepth else {
            return fail(i, "replica \(replica) returned a tree over \(tree.range) at depth \(tree.depth)", now: now)
        }
        trees[replica] = tree
        guard trees.count == jobs[i].replicas.count else {
            states[i] = .validating(trees: trees, deadline: deadline)
            return []
        }
        return compare(i, trees, now: now)
    }

    /// A replica could not build or send its tree for range `rangeIndex`.
    public mutating func onTreeFailed(rangeIndex i: Int, replica: NodeAddress, reason: String, now: UInt64) -> [Action] {
        guard states.indices.contains(i), case let .validating(trees, _) = states[i], trees[replica] == nil else { return [] }
        return fail(i, "replica \(replica) sent no tree: \(reason)", now: now)
    }

    /// A replica is down: every range still waiting on it, or syncing with it, fails.
    public mutating func onPeerDown(_ replica: NodeAddress, now: UInt64) -> [Action] {
        downPeers.insert(replica)
        var actions: [Action] = []
        for i in states.indices {
            switch states[i] {
            case let .validating(trees, _) where jobs[i].replicas.contains(replica) && trees[replica] == nil:
                actions += fail(i, "replica \(replica) went down during validation", now: now, advancing: false)
            case let .syncing(pending, _, _) where pending.contains(where: { tasksById[$0].map { $0.source == replica || $0.target == replica } ?? false }):
                actions += fail(i, "replica \(replica) went down during sync", now: now, advancing: false)
            default: break
            }
        }
        return actions + advance(now: now)
    }

    /// Time passed: ranges whose trees are overdue fail.
    public mutating func onTick(now: UInt64) -> [Action] {
        var actions: [Action] = []
        for i in states.indices {
            guard case let .validating(trees, deadline) = states[i], now >= deadline else { continue }
            let missing = jobs[i].replicas.filter { trees[$0] == nil }.map(\.description).joined(separator: ", ")
            actions += fail(i, "no Merkle tree from \(missing) within \(settings.treeTimeoutNanos / 1_000_000_000) s", now: now, advancing: false)
        }
        return actions + advance(now: now)
    }

    /// A sync task ended (`error` nil when it succeeded).
    public mutating func onSyncFinished(taskId: Int, error: String?, now: UInt64) -> [Action] {
        guard let task = tasksById.removeValue(forKey: taskId) else { return [] }
        syncTasksDone += 1
        let i = task.rangeIndex
        guard case .syncing(var pending, let differing, let count) = states[i] else { return advance(now: now) }
        if let error { return fail(i, "sync \(task.source) → \(task.target) failed: \(error)", now: now) }
        pending.remove(taskId)
        states[i] = pending.isEmpty ? .done(.synced(differingRanges: differing, tasks: count)) : .syncing(pending: pending, differing: differing, tasks: count)
        return advance(now: now)
    }

    // MARK: steps

    private mutating func compare(_ i: Int, _ trees: [NodeAddress: MerkleTree], now: UInt64) -> [Action] {
        let replicas = jobs[i].replicas
        var tasks: [SyncTask] = []
        var differing = 0
        for a in replicas.indices {
            for b in replicas.indices where b > a {
                guard let ta = trees[replicas[a]], let tb = trees[replicas[b]] else { continue }
                let diff = ta.differences(from: tb)
                if diff.isEmpty { continue }
                differing = max(differing, diff.count)
                // Each way, only the differing leaves where the source holds data: a replica that
                // has nothing there (a wiped node) has nothing to send.
                for (source, target, ranges) in [(replicas[a], replicas[b], ta.differences(from: tb, whereThisHasData: true)),
                                                 (replicas[b], replicas[a], tb.differences(from: ta, whereThisHasData: true))]
                    where !ranges.isEmpty {
                    tasks.append(SyncTask(id: nextTask, rangeIndex: i, ranges: ranges, source: source, target: target))
                    nextTask += 1
                }
            }
        }
        if tasks.isEmpty {
            states[i] = .done(.inSync)
            return advance(now: now)
        }
        for t in tasks { tasksById[t.id] = t }
        states[i] = .syncing(pending: Set(tasks.map(\.id)), differing: differing, tasks: tasks.count)
        return tasks.map { .sync($0) } + advance(now: now)
    }

    private mutating func fail(_ i: Int, _ reason: String, now: UInt64, advancing: Bool = true) -> [Action] {
        if case let .syncing(pending, _, _) = states[i] {
            for id in pending { tasksById[id] = nil }
        }
        states[i] = .done(.failed(reason))
        return advancing ? advance(now: now) : []
    }

    /// Starts waiting ranges while fewer than `parallelRanges` validate; finishes when all are done.
    private mutating func advance(now: UInt64) -> [Action] {
        var actions: [Action] = []
        var active = states.filter { if case .validating = $0 { true } else { false } }.count
        for i in states.indices where active < max(1, settings.parallelRanges) {
            guard case .waiting = states[i] else { continue }
            if jobs[i].replicas.count < 2 {
                states[i] = .done(.inSync)  // one replica: nothing to compare
                continue
            }
            if let dead = jobs[i].replicas.first(where: { downPeers.contains($0) }) {
                states[i] = .done(.failed("replica \(dead) is down"))
                continue
            }
            let deadline = now + settings.treeTimeoutNanos
            states[i] = .validating(trees: [:], deadline: deadline)
            active += 1
            for r in jobs[i].replicas {
                actions.append(.requestTree(rangeIndex: i, range: jobs[i].range, replica: r, depth: settings.depth))
            }
            actions.append(.scheduleTick(atNanos: deadline))
        }
        let allDone = states.allSatisfy { if case .done = $0 { true } else { false } }
        if allDone && !finishedSent {
            finishedSent = true
            let results = states.indices.map { i -> RangeResult in
                guard case let .done(status) = states[i] else { preconditionFailure("range \(i) not done: \(states[i])") }
                return RangeResult(range: jobs[i].range, status: status)
            }
            actions.append(.finished(Outcome(ranges: results)))
        }
        return actions
    }
}

/// Runs a ``RepairSession/SyncTask``: makes `target` receive `source`'s data of the task's ranges
/// (streaming). The session only decides what to sync; this is where bytes move.
public protocol RepairSyncExecutor: Sendable {
    /// Returns the bytes moved; throws when the transfer failed.
    func sync(_ task: RepairSession.SyncTask, keyspace: String, table: String, tableId: UUIDValue) async throws -> Int
}
