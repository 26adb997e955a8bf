import BasaltCore
import BasaltNet
import BasaltStorage
import Logging
import Synchronization

/// The batch log on one node: stores and removes batches for coordinators of logged batches
/// (verbs `batchlog.store`, `batchlog.remove`) in the node-local ``BatchlogTable``, and replays
/// batches that stayed longer than `replayAfter` (twice the write timeout: their coordinator
/// failed between storing and removing them). A replayed batch is written at ANY — to every live
/// replica, hinted for the others — and removed once that succeeded.
public final class BatchlogService: Sendable {
    public struct Counters: Hashable, Sendable {
        public var stored = 0
        public var removed = 0
        public var replayed = 0
        public var replayFailures = 0
        public var malformed = 0
    }

    private let engine: @Sendable () -> StorageEngine
    private let clock: any Clock
    private let logger: Logger
    private let counts = Mutex(Counters())
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// Batches older than this are replayed.
    public let replayAfter: Duration
    public let interval: Duration

    public init(engine: @escaping @Sendable () -> StorageEngine, replayAfter: Duration, interval: Duration = .seconds(10),
                clock: any Clock, logger: Logger) {
        self.engine = engine
        self.replayAfter = replayAfter
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    public var counters: Counters { counts.withLock { $0 } }

    /// Registers `batchlog.store` and `batchlog.remove` (before messaging starts).
    public func register(on messaging: MessagingService) {
        messaging.register(ReplicaVerbs.batchlogStore) { [self] m, reply in
            let entry: BatchlogEntry
            do { entry = try BatchlogEntry.decode(m.payload) } catch {
                counts.withLock { $0.malformed += 1 }
                return reply.fail("malformed batch log entry: \(error)")
            }
            engine().apply(BatchlogTable.store(entry)) { [self] result in
                switch result {
                case .success:
                    counts.withLock { $0.stored += 1 }
                    reply.reply([])
                case let .failure(e): reply.fail("\(e)")
                }
            }
        }
        messaging.register(ReplicaVerbs.batchlogRemove) { [self] m, reply in
            guard let (id, ts) = try? BatchlogTable.decodeRemovePayload(m.payload) else {
                counts.withLock { $0.malformed += 1 }
                return reply.fail("malformed batch removal")
            }
            engine().apply(BatchlogTable.remove(id, timestampMicros: ts, nowSeconds: clock.nowSeconds())) { [self] _ in
                counts.withLock { $0.removed += 1 }
                reply.reply([])
            }
        }
    }

    /// Replays old batches every `interval` through `coordinator` until ``stop()``.
    public func start(coordinator: ClusterCoordinator) {
        let t = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await replayDue(coordinator: coordinator)
            }
        }
        task.withLock { $0 = t }
    }

    public func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }

    /// Replays every batch older than `replayAfter`; returns how many were replayed.
    @discardableResult
    public func replayDue(coordinator: ClusterCoordinator) async -> Int {
        let cutoff = clock.now().micros - Int64(replayAfter.wholeNanoseconds / 1000)
        var replayed = 0
        for entry in dueEntries(olderThan: cutoff) {
            do {
                try await coordinator.writeEach(entry.mutations, consistency: .any, writeType: .batch)
                engine().apply(BatchlogTable.remove(entry.id, timestampMicros: entry.createdAtMicros, nowSeconds: clock.nowSeconds())) { _ in }
                counts.withLock { $0.replayed += 1 }
                replayed += 1
                logger.info("replayed logged batch \(entry.id) of \(entry.mutations.count) mutations")
            } catch {
                counts.withLock { $0.replayFailures += 1 }
                logger.warning("replaying logged batch \(entry.id) failed (retried later): \(error)")
            }
        }
        return replayed
    }

    /// The stored batches written before `cutoff` (µs).
    func dueEntries(olderThan cutoff: Int64) -> [BatchlogEntry] {
        let schema = BatchlogTable.schema
        let cmp = ClusteringComparator(schema)
        let now = clock.nowSeconds()
        var out: [BatchlogEntry] = []
        var after: ScanPosition?
        repeat {
            let command = TokenScanCommand(schema: schema, range: TokenRange(start: .min, end: .min), after: after, pageSize: 256, nowSeconds: now)
            guard let page = try? engine().scan(command) else { return out }
            for p in page.partitions {
                for row in p.live(now: now, cmp).rows {
                    guard let cell = row.cells.first(where: { $0.column == "data" }) else { continue }
                    guard let entry = try? BatchlogEntry.decode(cell.value) else {
                        counts.withLock { $0.malformed += 1 }
                        continue
                    }
                    if entry.createdAtMicros < cutoff { out.append(entry) }
                }
            }
            after = page.next
        } while after != nil
        return out
    }
}
