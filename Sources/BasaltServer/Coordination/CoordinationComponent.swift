import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltStorage
import Logging

/// The node's coordination as a ``NodeComponent`` of the service stage: the replica verbs and the
/// batch log are served from the moment messaging starts (on the engine the ``StorageComponent``
/// opened); once the node is normal, the ``ClusterCoordinator`` (the CQL layer's
/// `RequestCoordinator`), hinted handoff (hints in `<data>/hints`) and batch-log replay run.
/// The coordinator's view of the ring and of liveness follows every membership event.
public final class CoordinationComponent: NodeComponent, @unchecked Sendable {
    // @unchecked: the mutable references are only touched under `lock`.
    public let name = "coordination"
    public let stage = NodeComponentStage.service
    let storage: StorageComponent
    /// The schema the coordinator reads (the CQL component's schema holder), known once prepared.
    let schema: @Sendable () -> (any SchemaSource)?
    private let lock = Lock()
    /// Closed by `basalt admin drain`: the coordinator and the replica service refuse writes from then on.
    public let writeGate = WriteGate()
    private var topology: ClusterTopology?
    private var replicas: ReplicaService?
    private var batchlog: BatchlogService?
    private var hints: HintedHandoff?
    private var running: ClusterCoordinator?
    private var subscription: MembershipSubscription?
    /// Write and read failures by cause, on this node as coordinator and as replica.
    private var failures: RequestFailures?
    private var vectorSearch: TimedVectorSearch?

    init(storage: StorageComponent, schema: @escaping @Sendable () -> (any SchemaSource)?) {
        self.storage = storage
        self.schema = schema
    }

    /// The coordinator, between start and stop.
    public var coordinator: ClusterCoordinator? { lock.withLock { running } }
    public var hintedHandoff: HintedHandoff? { lock.withLock { hints } }
    public var batchlogService: BatchlogService? { lock.withLock { batchlog } }
    /// The coordinator's view of the ring (after prepare).
    public var clusterTopology: ClusterTopology? { lock.withLock { topology } }

    public func prepare(_ context: NodeContext) throws {
        let storage = self.storage
        let local = NodeIdentity(hostId: context.hostId, address: NodeAddress(host: context.config.listenAddress,
                                                                                 port: UInt16(clamping: context.config.internodePort)))
        let topology = ClusterTopology(local: local, localDataCenter: context.config.dataCenter, clock: context.clock)
        let failures = RequestFailures(clock: context.clock, logger: context.logger)
        let vectorSearch = TimedVectorSearch(storage.indexes, clock: context.clock, factory: context.metrics.factory)
        let replicas = ReplicaService(engine: { storage.engine }, vectorSearch: vectorSearch, indexQuery: storage.indexes,
                                      failures: failures, writeGate: writeGate, logger: context.logger)
        replicas.register(on: context.messaging)
        let batchlog = BatchlogService(engine: { storage.engine }, replayAfter: .milliseconds(2 * context.config.writeTimeoutMillis),
                                       clock: context.clock, logger: context.logger)
        batchlog.register(on: context.messaging)
        let membership = context.membership
        let subscription = context.events.subscribe { [weak self] event in
            Self.refresh(topology, from: membership())
            switch event {
            case let .left(m), let .removed(m):
                if let host = m.hostId { self?.hintedHandoff?.forget(host) }
            default: break
            }
        }
        lock.withLock {
            self.topology = topology
            self.replicas = replicas
            self.failures = failures
            self.batchlog = batchlog
            self.subscription = subscription
            self.vectorSearch = vectorSearch
        }
        context.metrics.register("coordination") { [weak self] out in self?.writeMetrics(into: &out) }
    }

    /// Gives the coordinator's view the ring and members of a membership snapshot.
    static func refresh(_ topology: ClusterTopology, from snapshot: MembershipSnapshot) {
        topology.update(ring: snapshot.ring, members: Array(snapshot.members.values))
    }

    public func start(_ context: NodeContext) async throws {
        let (topology, batchlog) = lock.withLock { (self.topology, self.batchlog) }
        guard let topology, let batchlog, let schema = schema() else { return }
        Self.refresh(topology, from: context.membership())
        let c = context.config
        var storeConfig = HintStoreConfig()
        storeConfig.maxTotalBytes = c.maxHintsSizeMiB << 20
        storeConfig.maxBytesPerTarget = min(storeConfig.maxBytesPerTarget, storeConfig.maxTotalBytes)
        let store = try HintStore(directory: context.dataDirectory + "/hints", config: storeConfig, logger: context.logger)
        var hintSettings = HintedHandoff.Settings()
        hintSettings.enabled = c.hintedHandoffEnabled
        hintSettings.maxHintWindowMicros = Int64(c.maxHintWindowMillis) * 1000
        hintSettings.delivery.throttleBytesPerSecond = c.hintsThrottleKiBPerSecond * 1024
        let hints = HintedHandoff(store: store, topology: topology, messaging: context.messaging, schema: schema,
                                  settings: hintSettings, clock: context.clock, logger: context.logger)
        var settings = ClusterCoordinator.Settings()
        settings.writeTimeout = .milliseconds(c.writeTimeoutMillis)
        settings.readTimeout = .milliseconds(c.readTimeoutMillis)
        settings.rangeTimeout = .milliseconds(c.rangeTimeoutMillis)
        settings.indexQueryRouting = c.vectorSearchRouting
        settings.maxMutationSize = Self.maxMutationSize(c)
        let (failures, vectorSearch) = lock.withLock { (self.failures, self.vectorSearch) }
        let coordinator = ClusterCoordinator(engine: storage.engine, messaging: context.messaging, topology: topology, schema: schema,
                                             hints: hints, vectorSearch: vectorSearch ?? storage.indexes, indexQuery: storage.indexes, settings: settings,
                                             failures: failures, writeGate: writeGate, clock: context.clock, logger: context.logger)
        hints.start()
        batchlog.start(coordinator: coordinator)
        lock.withLock {
            self.hints = hints
            running = coordinator
        }
    }

    /// Cassandra's `max_mutation_size`: half a commit-log segment (the storage engine refuses a larger
    /// log record; the coordinator refuses it first, as invalid).
    static func maxMutationSize(_ c: NodeConfig) -> Int { (c.commitLogSegmentSizeMiB << 20) / 2 }

    public func stop() async {
        let (hints, batchlog, subscription, coordinator) = lock.withLock {
            () -> (HintedHandoff?, BatchlogService?, MembershipSubscription?, ClusterCoordinator?) in
            defer {
                self.hints = nil
                running = nil
                self.subscription = nil
            }
            return (self.hints, self.batchlog, self.subscription, running)
        }
        subscription?.cancel()
        coordinator?.stop()
        batchlog?.stop()
        hints?.stop()
    }

    private func writeMetrics(into out: inout PrometheusText) {
        let (coordinator, replicas, hints, batchlog) = lock.withLock { (running, self.replicas, self.hints, self.batchlog) }
        if let failures = lock.withLock({ self.failures }) { RequestFailureMetrics.write(failures.snapshot, into: &out) }
        if let latencies = coordinator?.latencies.seen(), !latencies.isEmpty {
            out.histogram("basalt_coordinator_latency_seconds", help: "Requests this node coordinated, from arrival to answer, by kind and level",
                          samples: latencies.map { ([("kind", $0.kind.rawValue), ("consistency", $0.level.description)], $0.snapshot) })
        }
        if let c = coordinator?.counters {
            out.counter("basalt_coordinator_writes_total", help: "Mutations coordinated", c.writes)
            out.counter("basalt_coordinator_reads_total", help: "Partition reads coordinated", c.reads)
            out.counter("basalt_coordinator_scan_pages_total", help: "Range scan pages coordinated", c.scanPages)
            out.counter("basalt_coordinator_unavailable_total", help: "Requests refused as Unavailable", c.unavailables)
            out.counter("basalt_coordinator_write_timeouts_total", help: "Writes that timed out", c.writeTimeouts)
            out.counter("basalt_coordinator_write_failures_total", help: "Writes that failed", c.writeFailures)
            out.counter("basalt_coordinator_read_timeouts_total", help: "Reads that timed out", c.readTimeouts)
            out.counter("basalt_coordinator_read_failures_total", help: "Reads that failed", c.readFailures)
            out.counter("basalt_coordinator_digest_mismatches_total", help: "Reads whose replicas disagreed", c.digestMismatches)
            out.counter("basalt_coordinator_read_repairs_total", help: "Read-repair mutations sent", c.readRepairsSent)
            out.counter("basalt_coordinator_speculative_retries_total", help: "Extra replicas asked by slow reads", c.speculativeRetries)
            out.counter("basalt_coordinator_local_fast_reads_total", help: "Reads answered by the local engine alone", c.localFastReads)
            out.counter("basalt_coordinator_mutations_too_large_total", help: "Writes refused as invalid: a mutation over the maximum mutation size",
                        c.mutationsTooLarge)
        }
        if let r = replicas?.counters {
            out.counter("basalt_replica_mutations_total", help: "Mutations applied for coordinators", r.mutations)
            out.counter("basalt_replica_reads_total", help: "Data reads served", r.reads)
            out.counter("basalt_replica_digests_total", help: "Digest reads served", r.digests)
            out.counter("basalt_replica_scans_total", help: "Scan pages served", r.scans)
            out.counter("basalt_replica_repairs_total", help: "Read-repair mutations applied", r.repairs)
            out.counter("basalt_replica_hints_applied_total", help: "Hints applied", r.hints)
            out.counter("basalt_replica_failures_total", help: "Replica requests refused", r.failures)
        }
        if let h = hints?.counters {
            out.counter("basalt_hints_written_total", help: "Hints stored", h.written)
            out.counter("basalt_hints_replayed_total", help: "Hints delivered to their target", h.replayed)
            out.counter("basalt_hints_replayed_bytes_total", help: "Bytes of hints delivered", h.replayedBytes)
            out.counter("basalt_hints_dropped_total", help: "Hints not stored or not delivered",
                        h.refusedDisabled + h.refusedWindow + h.refusedFull + h.expired)
            out.counter("basalt_hints_dropped_window_total", help: "Hints not stored: target down longer than max_hint_window", h.refusedWindow)
            out.counter("basalt_hints_dropped_full_total", help: "Hints not stored: hint store full", h.refusedFull)
            out.counter("basalt_hints_expired_total", help: "Hints older than gc_grace_seconds, dropped", h.expired)
            out.counter("basalt_hints_delivery_failures_total", help: "Hint batches that failed and were retried", h.deliveryFailures)
            let s = hints!.store.counters
            out.gauge("basalt_hints_pending", help: "Hints waiting for delivery", Double(s.pendingHints))
            out.gauge("basalt_hints_pending_bytes", help: "Bytes of hints waiting for delivery", Double(s.pendingBytes))
        }
        if let b = batchlog?.counters {
            out.counter("basalt_batchlog_stored_total", help: "Logged batches stored here", b.stored)
            out.counter("basalt_batchlog_replayed_total", help: "Logged batches replayed after their coordinator failed", b.replayed)
        }
    }
}
