import BasaltCore
import BasaltNet
import BasaltStorage
import Logging
import Synchronization

/// Hinted handoff on one node: keeps hints for replicas that missed writes this node coordinated
/// (``HintSink``), in a durable ``HintStore``, and replays them, throttled, when the replica is
/// alive again (``HintDeliveryScheduler`` decides when).
///
/// Policy (Cassandra's): no hint when hinted handoff is off or the replica has been down longer
/// than `max_hint_window` (its data must then come back through repair); a hint older than the
/// smallest `gc_grace_seconds` of its table is dropped instead of delivered (tombstones it could
/// resurrect data against may be gone); hints for a node removed from the ring are deleted.
public final class HintedHandoff: HintSink, Sendable {
    public struct Settings: Sendable {
        public var enabled = true
        /// Hints are not kept for a replica down longer than this (µs).
        public var maxHintWindowMicros: Int64 = 3 * 3_600 * 1_000_000
        public var delivery = HintDeliveryScheduler.Settings()
        /// How often delivery is considered.
        public var tick: Duration = .milliseconds(100)
        /// How long one delivered hint may take to be acknowledged.
        public var hintTimeout: Duration = .seconds(10)

        public init() {}
    }

    public struct Counters: Hashable, Sendable {
        public var written = 0
        public var refusedDisabled = 0
        public var refusedWindow = 0
        public var refusedFull = 0
        public var replayed = 0
        public var replayedBytes = 0
        public var expired = 0
        public var deliveryFailures = 0
        public var forgottenTargets = 0
    }

    public let store: HintStore
    private let topology: ClusterTopology
    private let messaging: MessagingService
    private let schema: any SchemaSource
    private let settings: Settings
    private let clock: any Clock
    private let logger: Logger
    private let scheduler: Mutex<HintDeliveryScheduler>
    private let counts = Mutex(Counters())
    private let timer = Mutex<LoopTimer?>(nil)

    public init(store: HintStore, topology: ClusterTopology, messaging: MessagingService, schema: any SchemaSource,
                settings: Settings = Settings(), clock: any Clock, logger: Logger) {
        self.store = store
        self.topology = topology
        self.messaging = messaging
        self.schema = schema
        self.settings = settings
        self.clock = clock
        self.logger = logger
        var s = HintDeliveryScheduler(settings: settings.delivery)
        for t in store.targets() { s.onHintsStored(for: t) }
        scheduler = Mutex(s)
    }

    public var counters: Counters { counts.withLock { $0 } }

    /// Starts delivering (a repeating timer on one of messaging's loops).
    public func start() {
        let t = messaging.group.next().scheduleRepeatingTimer(every: settings.tick) { [weak self] in self?.tick() }
        timer.withLock { $0 = t }
    }

    /// Stops delivering and closes the store, which syncs it (batches in flight finish or fail on
    /// their own; reading and marking delivered still work on a closed store).
    public func stop() {
        timer.withLock { $0?.cancel(); $0 = nil }
        store.close()
    }

    // MARK: - Keeping hints

    public func storeHint(_ mutation: [UInt8], for replica: Replica) -> Bool {
        guard settings.enabled else {
            counts.withLock { $0.refusedDisabled += 1 }
            return false
        }
        let now = clock.now().micros
        if let since = topology.downSinceMicros(replica.hostId), now - since > settings.maxHintWindowMicros {
            counts.withLock { $0.refusedWindow += 1 }
            return false
        }
        do {
            try store.write(mutation: mutation, for: replica.hostId, createdAtMicros: now)
        } catch {
            counts.withLock { $0.refusedFull += 1 }
            logger.warning("hint for \(replica) not stored: \(error)")
            return false
        }
        counts.withLock { $0.written += 1 }
        scheduler.withLock { $0.onHintsStored(for: replica.hostId) }
        return true
    }

    /// A node left or was removed from the ring: its hints will never be delivered.
    public func forget(_ host: UUIDValue) {
        guard store.pendingBytes(for: host) > 0 || scheduler.withLock({ $0.targetsWithHints.contains(host) }) else { return }
        store.deleteAll(for: host)
        scheduler.withLock { $0.onHintsForgotten(for: host) }
        counts.withLock { $0.forgottenTargets += 1 }
        logger.info("deleted hints for \(host): it left the ring")
    }

    // MARK: - Delivery

    private func tick() {
        let snapshot = topology.snapshot
        let alive = Set(snapshot.nodes.values.filter(\.isAlive).map(\.identity.hostId))
        let now = clock.monotonicNanos()
        let directives = scheduler.withLock { $0.onTick(nowNanos: now, alive: alive) }
        for case let .deliver(target, maxBytes) in directives {
            // Reading the batch touches the disk: not on the loop.
            let address = snapshot.address(of: target)
            Task { deliver(target, maxBytes: maxBytes, address: address) }
        }
    }

    private func deliver(_ target: UUIDValue, maxBytes: Int, address: SocketAddress?) {
        guard let batch = store.nextBatch(for: target, maxBytes: maxBytes) else {
            scheduler.withLock { $0.onDelivered(target: target, bytes: 0, more: false, nowNanos: clock.monotonicNanos()) }
            return
        }
        guard let address else {
            scheduler.withLock { $0.onDeliveryFailed(target: target, nowNanos: clock.monotonicNanos()) }
            return
        }
        let nowMicros = clock.now().micros
        let toSend = batch.hints.filter { !isExpired($0, nowMicros: nowMicros) }.map(\.mutation)
        let expired = batch.hints.count - toSend.count
        if expired > 0 { counts.withLock { $0.expired += expired } }
        let outcome = BatchOutcome(remaining: toSend.count)
        let finish: @Sendable (Bool) -> Void = { [self] ok in
            let now = clock.monotonicNanos()
            if ok {
                store.markDelivered(batch)
                let more = store.pendingBytes(for: target) > 0
                counts.withLock { $0.replayed += toSend.count; $0.replayedBytes += batch.byteCount }
                scheduler.withLock { $0.onDelivered(target: target, bytes: batch.byteCount, more: more, nowNanos: now) }
            } else {
                counts.withLock { $0.deliveryFailures += 1 }
                scheduler.withLock { $0.onDeliveryFailed(target: target, nowNanos: now) }
            }
        }
        if toSend.isEmpty { return finish(true) }
        for payload in toSend {
            messaging.request(to: address, verb: ReplicaVerbs.hint, payload: payload, timeout: settings.hintTimeout) { result in
                let ok: Bool = if case .success = result { true } else { false }
                if let done = outcome.record(ok) { finish(done) }
            }
        }
    }

    /// Whether the hint outlived the `gc_grace_seconds` of its table (or the table is gone).
    private func isExpired(_ hint: Hint, nowMicros: Int64) -> Bool {
        guard let m = try? Mutation.decode(hint.mutation), let table = schema.table(id: m.tableId) else { return true }
        return nowMicros - hint.createdAtMicros > Int64(table.params.gcGraceSeconds) * 1_000_000
    }
}

/// Counts the acknowledgements of one batch; reports once, when the last hint answered.
private final class BatchOutcome: Sendable {
    private struct State { var remaining: Int; var ok = true }
    private let state: Mutex<State>

    init(remaining: Int) { state = Mutex(State(remaining: remaining)) }

    /// The batch's result once every hint answered, else nil.
    func record(_ ok: Bool) -> Bool? {
        state.withLock { s in
            s.remaining -= 1
            if !ok { s.ok = false }
            return s.remaining == 0 ? s.ok : nil
        }
    }
}
