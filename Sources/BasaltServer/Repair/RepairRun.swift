import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltStorage
import Foundation
import Logging

/// Drives one table's ``RepairSession`` over the network: tree requests go to the replicas by the
/// `repair.validate` verb (this node builds its own tree locally), ticks come from a 1-second
/// timer that also reports replicas the failure detector marks down, sync tasks run through a
/// ``RepairSyncExecutor``. Events are handled one at a time, so the session is only touched here.
struct RepairRun: Sendable {
    enum Event: Sendable {
        case tree(Int, NodeAddress, MerkleTree)
        case treeFailed(Int, NodeAddress, String)
        case synced(Int, Result<Int, RepairSyncFailure>)
        case tick
    }

    struct RepairSyncFailure: Error, Sendable { var message: String }

    let table: TableSchema
    let jobs: [RepairSession.RangeJob]
    let settings: RepairSession.Settings
    let local: NodeAddress
    let engine: StorageEngine
    let messaging: MessagingService
    let executor: any RepairSyncExecutor
    let clock: any Clock
    let isAlive: @Sendable (NodeAddress) -> Bool
    let logger: Logger
    /// Called after every event with the session's progress and the bytes synced so far.
    let report: @Sendable (RepairSession.Progress, Int) -> Void

    func run() async -> RepairSession.Outcome {
        var session = RepairSession(jobs: jobs, settings: settings)
        let (events, sink) = AsyncStream<Event>.makeStream()
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                sink.yield(.tick)
            }
        }
        defer {
            ticker.cancel()
            sink.finish()
        }
        var bytes = 0
        var down: Set<NodeAddress> = []
        /// Executes actions; the outcome when one of them is `finished`.
        func perform(_ actions: [RepairSession.Action]) -> RepairSession.Outcome? {
            var outcome: RepairSession.Outcome?
            for action in actions {
                if case let .finished(o) = action { outcome = o } else { execute(action, sink) }
            }
            for r in outcome?.ranges ?? [] {
                if case let .failed(why) = r.status {
                    logger.warning("repair of a range failed", metadata: ["table": "\(table.keyspace).\(table.name)", "range": "\(r.range)", "reason": "\(why)"])
                }
            }
            report(session.progress, bytes)
            return outcome
        }
        if let outcome = perform(session.start(now: clock.monotonicNanos())) { return outcome }
        for await event in events {
            let now = clock.monotonicNanos()
            var actions: [RepairSession.Action] = []
            switch event {
            case let .tree(i, replica, tree): actions = session.onTree(rangeIndex: i, replica: replica, tree: tree, now: now)
            case let .treeFailed(i, replica, why): actions = session.onTreeFailed(rangeIndex: i, replica: replica, reason: why, now: now)
            case let .synced(id, .success(n)):
                bytes += n
                actions = session.onSyncFinished(taskId: id, error: nil, now: now)
            case let .synced(id, .failure(f)): actions = session.onSyncFinished(taskId: id, error: f.message, now: now)
            case .tick:
                for r in Set(jobs.flatMap(\.replicas)).sorted() where !down.contains(r) && !isAlive(r) {
                    down.insert(r)
                    actions += session.onPeerDown(r, now: now)
                }
                actions += session.onTick(now: now)
            }
            if let outcome = perform(actions) { return outcome }
        }
        return RepairSession.Outcome(ranges: [])  // not reached: the stream only ends when this returns
    }

    private func execute(_ action: RepairSession.Action, _ sink: AsyncStream<Event>.Continuation) {
        switch action {
        case let .requestTree(i, range, replica, depth):
            let request = ValidationRequest(keyspace: table.keyspace, table: table.name, tableId: table.id, range: range, depth: depth)
            if replica == local {
                let engine = self.engine
                Thread.detachNewThread {
                    do { sink.yield(.tree(i, replica, try MerkleTree.build(engine: engine, request: request))) } catch {
                        sink.yield(.treeFailed(i, replica, "\(error)"))
                    }
                }
                return
            }
            let timeout = Duration.nanoseconds(Int64(settings.treeTimeoutNanos))
            Task {
                do {
                    let peer = try SocketAddress(host: replica.host, port: replica.port)
                    let answer = try await messaging.request(to: peer, verb: RepairVerbs.validate, payload: request.encoded(), timeout: timeout)
                    sink.yield(.tree(i, replica, try MerkleTree.decode(answer)))
                } catch {
                    sink.yield(.treeFailed(i, replica, "\(error)"))
                }
            }
        case .scheduleTick:
            break  // the 1-second ticker covers every deadline
        case let .sync(task):
            let table = self.table
            let executor = self.executor
            Task {
                do {
                    let n = try await executor.sync(task, keyspace: table.keyspace, table: table.name, tableId: table.id)
                    sink.yield(.synced(task.id, .success(n)))
                } catch {
                    sink.yield(.synced(task.id, .failure(RepairSyncFailure(message: "\(error)"))))
                }
            }
        case .finished:
            break
        }
    }
}

/// Sync tasks through data movement's streaming: the task's target fetches the differing ranges
/// from its source (this node directly when it is the target, another node through
/// `stream.pull`). Streams carry cells with their timestamps, TTLs and tombstones.
struct StreamSyncExecutor: RepairSyncExecutor {
    let streams: StreamService
    let messaging: MessagingService
    let local: NodeAddress
    /// Bounds the stream sessions running at once.
    let limiter: SyncLimiter

    func sync(_ task: RepairSession.SyncTask, keyspace: String, table: String, tableId: UUIDValue) async throws -> Int {
        await limiter.acquire()
        defer { Task { await limiter.release() } }
        let tasks = task.ranges.map { StreamTask(keyspace: keyspace, table: table, tableId: tableId, range: $0) }
        let source = try SocketAddress(host: task.source.host, port: task.source.port)
        if task.target == local {
            return try await streams.fetch(from: source, tasks: tasks, purpose: "repair").bytes
        }
        let request = StreamPullRequest(session: UUIDValue.random(), source: task.source, tasks: tasks)
        let target = try SocketAddress(host: task.target.host, port: task.target.port)
        let answer = try await messaging.request(to: target, verb: StreamVerbs.pull, payload: request.encoded(), timeout: .seconds(24 * 3600))
        return try StreamSummary.decode(answer).bytes
    }
}

/// A counting semaphore for tasks: at most `slots` holders at once, the others wait in order.
actor SyncLimiter {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(slots: Int) { free = max(1, slots) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}
