import BasaltCluster
import BasaltCore
import BasaltNet
import Logging

/// A Basalt node assembled: it owns the clock, the logger (node address in its metadata), the event
/// loops, internode messaging, the gossip shell, the admin endpoint, the membership event fan-out,
/// the metrics registry, and the components plugged into it (storage, coordinator, CQL server).
///
/// ``start()`` runs, in order:
/// 1. validate the configuration;
/// 2. open (create) and lock the data directory;
/// 3. load the node identity (host id, tokens) or make a new host id; refuse a corrupt identity or
///    one whose data center, rack or token count disagrees with the configuration; store the new
///    generation (start time in seconds, always larger than the last start's);
/// 4. prepare every component, then start ``NodeComponentStage/storage`` components;
/// 5. start messaging on `listen_address:storage_port`;
/// 6. start the admin endpoint on `listen_address:admin_port`;
/// 7. start gossip (join through the seeds). A node with tokens announces them at once (NORMAL). A
///    first start gossips JOINING, waits up to `ring_delay_in_ms` to learn the ring when it has seeds
///    other than itself, picks tokens with ``TokenAllocator``, stores host id and tokens, then
///    announces NORMAL;
/// 8. start ``NodeComponentStage/service`` components (coordinator, CQL native server).
///
/// ``stop()`` undoes it in reverse: service components; gossip, announcing the shutdown so peers
/// mark this node down at once; the admin endpoint; messaging and the loops; storage components;
/// the data directory lock. A failed start undoes whatever it had done. A node starts once.
public final class BasaltNode: @unchecked Sendable {
    // @unchecked: `runtime` and `phase` are guarded by `lock`; the objects they hold are thread-safe.
    public let config: NodeConfig
    public let clock: any Clock
    public let logger: Logger
    public let events = MembershipEvents()
    public let metrics = MetricsRegistry()
    /// Routes components add to the admin endpoint (snapshots, repair, …).
    public let adminActions = AdminActions()
    public let releaseVersion: String
    private let components: [any NodeComponent]

    private let lock = Lock()
    private var runtime = NodeRuntime()
    private var started = false

    /// How long a graceful stop gives the shutdown announcements to leave before closing connections.
    public static let announceGrace: Duration = .milliseconds(300)
    /// The node's address and host id for every log line (``NodeLogMetadata``).
    public let logMetadata: NodeLogMetadata

    /// - Parameter logMetadata: filled with this node's address, then its host id once known (the
    ///   executable gives the same box to the logging system as its metadata provider).
    public init(config: NodeConfig, clock: any Clock = SystemClock(), logger: Logger, releaseVersion: String,
                components: [any NodeComponent] = [], logMetadata: NodeLogMetadata = NodeLogMetadata()) {
        self.config = config
        self.clock = clock
        self.logMetadata = logMetadata
        logMetadata.set("node", "\(config.listenAddress):\(config.internodePort)")
        var logger = logger
        logger[metadataKey: "node"] = "\(config.listenAddress):\(config.internodePort)"
        self.logger = logger
        self.releaseVersion = releaseVersion
        self.components = components
    }

    /// The membership view, once gossip exists.
    public var membership: MembershipSnapshot? { lock.withLock { runtime.gossip }?.snapshot }
    /// The admin endpoint's bound address, once started.
    public var adminAddress: SocketAddress? { lock.withLock { runtime.adminAddress } }
    /// The internode address messaging is bound to, once started.
    public var internodeAddress: SocketAddress? { lock.withLock { runtime.messaging }?.address }

    // MARK: - Start

    public func start() async throws(NodeStartError) {
        lock.withLock {
            precondition(!started, "BasaltNode.start() called twice")
            started = true
        }
        do {
            try await startSteps()
        } catch {
            logger.debug("start-up failed: \(error)")
            await stop(announce: false)
            throw error
        }
    }

    private func startSteps() async throws(NodeStartError) {
        let problems = config.problems()
        guard problems.isEmpty else { throw .invalidConfig(problems) }

        // Data directory and identity.
        let directory: DataDirectory
        do { directory = try DataDirectory(opening: config.dataDirectory) } catch { throw .dataDirectory(error) }
        update { $0.dataDirectory = directory }
        let store = NodeIdentityStore(directory: directory.path)
        let address = NodeAddress(host: config.listenAddress, port: UInt16(config.internodePort))
        let stored: RingMember?
        let generation: Int64
        do {
            stored = try store.loadIdentity()
            try checkStoredIdentity(stored)
            generation = try store.nextGeneration(now: clock.nowSeconds())
        } catch let error as NodeIdentityError {
            throw .identity(error)
        } catch let error as NodeStartError {
            throw error
        } catch {
            throw .identity(.unreadable(FileError(path: store.identityPath, operation: "read", message: "\(error)")))
        }
        if let stored, stored.identity.address != address {
            logger.notice("internode address changed since the last start",
                          metadata: ["was": "\(stored.identity.address)", "now": "\(address)"])
            var moved = stored
            moved.identity.address = address
            do { try store.saveIdentity(moved) } catch { throw .identity(error) }
        }
        let hostId = stored?.identity.hostId ?? UUIDValue.random()
        logMetadata.set("host_id", hostId.description)
        logger.info("node identity", metadata: [
            "host_id": "\(hostId)", "generation": "\(generation)",
            "tokens": "\(stored.map { "\($0.tokens.count) stored" } ?? "none yet")",
        ])

        // Loops, messaging, gossip (not started yet).
        let group = EventLoopGroup(threads: config.resolvedEventLoops, name: "basalt", logger: logger)
        update { $0.group = group }
        let internode: SocketAddress
        do { internode = try SocketAddress(host: config.listenAddress, port: address.port) } catch {
            throw .listen(what: "listen_address", error)
        }
        let tls: NodeTLS
        do { tls = try NodeTLS(config: config, logger: logger) } catch { throw .invalidConfig([error.description]) }
        if !tls.contexts.isEmpty { startTLSReloadChecks(tls) }
        var messagingSettings = MessagingSettings(address: internode)
        messagingSettings.serverTLS = tls.internodeServer
        messagingSettings.clientTLS = tls.internodeClient
        messagingSettings.maxFrameSize = config.internodeMaxMessageSize
        messagingSettings.maxInboundConnections = config.internodeMaxConcurrentConnections
        messagingSettings.incompleteFrameTimeout = .milliseconds(config.internodeIncompleteFrameTimeoutMillis)
        let messaging = MessagingService(settings: messagingSettings, group: group, logger: logger)
        update { $0.messaging = messaging }
        let seeds = try await SeedResolution.resolve(config.seedAddresses, logger: logger)
        var settings = Gossip.Settings(clusterName: config.clusterName, seeds: seeds)
        settings.randomSeed = UInt64.random(in: .min ... .max)
        let local = ClusterMembership.LocalNode(
            hostId: hostId, address: address,
            nativeAddress: NodeAddress(host: config.listenAddress, port: UInt16(config.nativePort)),
            dataCenter: config.dataCenter, rack: config.rack, releaseVersion: releaseVersion)
        let gossip = GossipService(
            membership: ClusterMembership(settings: settings, local: local, generation: generation, clock: clock),
            loop: group.loops[0], messaging: messaging, events: events, metrics: metrics.factory, logger: logger)
        gossip.register()
        update { $0.gossip = gossip }
        NodeMetrics.register(in: metrics, messaging: messaging, gossip: gossip)
        metrics.register("tls") { out in tls.writeMetrics(into: &out) }
        var offsetSettings = ClockOffsetTracker.Settings()
        offsetSettings.maxOffsetMicros = Int64(config.maxClockOffsetMillis) * 1000
        if config.maxClockOffsetMillis > 0 { offsetSettings.warnOffsetMicros = offsetSettings.maxOffsetMicros / 2 }
        let clockOffsets = ClockOffsetService(messaging: messaging, clock: clock, settings: offsetSettings,
                                              membership: { gossip.snapshot }, logger: logger)
        clockOffsets.register()
        clockOffsets.registerMetrics(in: metrics)
        update { $0.clockOffsets = clockOffsets }

        let context = NodeContext(
            config: config, dataDirectory: directory.path, hostId: hostId, generation: generation, clock: clock,
            logger: logger, group: group, messaging: messaging, events: events, metrics: metrics,
            membership: { gossip.snapshot },
            updateLocalState: { values in await gossip.update { $0.onLocalStateChange(values) } },
            updateMembership: { change in await gossip.update(change) },
            requestStop: { [weak self] reason in self?.requestStop(reason) },
            admin: adminActions, clockOffsets: clockOffsets, tls: tls)
        adminActions.register("POST", "/reloadssl") { _ in
            let (ok, report) = tls.reload()
            return ok ? HTTPResponse(status: 200, text: report) : .error(500, report)
        }
        for component in components {
            do { try component.prepare(context) } catch { throw .component(name: component.name, "\(error)") }
        }
        // [storage engine: commit-log replay, SSTables — a `.storage` component]
        try await startComponents(.storage, context)

        do { try await messaging.start() } catch { throw .listen(what: "internode port", error) }
        logger.info("internode messaging listening", metadata: ["address": "\(messaging.address)"])

        if config.adminPort != 0 {
            let cqlComponents = components.compactMap { $0 as? CQLComponent }
            let notServing: @Sendable () -> String? = {
                cqlComponents.contains { !$0.isServing } ? "the CQL native server is not serving yet" : nil
            }
            let admin = AdminServer(
                loop: group.loops[0], routes: AdminRoutes(snapshot: { gossip.snapshot }, metrics: metrics,
                                                            providers: components.compactMap { $0 as? any AdminRouteProvider },
                                                            actions: adminActions, notServing: notServing,
                                                            clockOffsets: { clockOffsets.offsetsMillis() }),
                logger: logger)
            update { $0.admin = admin }
            do {
                let bound = try await admin.start(at: internode.with(port: UInt16(config.adminPort)))
                update { $0.adminAddress = bound }
            } catch {
                throw .listen(what: "admin port", error)
            }
        }

        await gossip.start()
        clockOffsets.start()
        if let stored {
            await gossip.update { $0.announceNormal(tokens: stored.tokens) }
        } else {
            await gossip.update { $0.onLocalStateChange([.status(.joining)]) }
            let tokens = try await joinRing(gossip: gossip, seeds: seeds, self: address, context: context)
            // Stored only now: a bootstrap that failed leaves no identity, so the next start
            // bootstraps again instead of announcing ranges it has no data for.
            let member = RingMember(identity: NodeIdentity(hostId: hostId, address: address), dataCenter: config.dataCenter,
                                    rack: config.rack, tokens: tokens)
            do { try store.saveIdentity(member) } catch { throw .identity(error) }
            await gossip.update { $0.announceNormal(tokens: member.tokens) }
        }
        logger.info("node is normal", metadata: ["tokens": "\(gossip.snapshot.local?.tokens.count ?? 0)"])

        // [coordinator, CQL native server — `.service` components]
        try await startComponents(.service, context)
    }

    /// How often the PEM files of enabled TLS contexts are checked for changes (certificate rotation
    /// without a restart; `basalt admin reloadssl` reloads at once).
    static let tlsReloadCheckInterval: Duration = .seconds(10)

    private func startTLSReloadChecks(_ tls: NodeTLS) {
        let task = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.tlsReloadCheckInterval)
                if Task.isCancelled { break }
                tls.reloadIfChanged()
            }
        }
        update { $0.tlsReloadChecks = task }
    }

    private func checkStoredIdentity(_ stored: RingMember?) throws(NodeStartError) {
        guard let stored else { return }
        if stored.dataCenter != config.dataCenter || stored.rack != config.rack {
            throw .identityMismatch(
                "this node was in \(stored.dataCenter)/\(stored.rack) and is configured for \(config.dataCenter)/\(config.rack); "
                    + "a node cannot move between data centers or racks")
        }
        if stored.tokens.count != config.numTokens {
            throw .identityMismatch("this node owns \(stored.tokens.count) tokens and num_tokens is \(config.numTokens); "
                + "the token count cannot change after the first start")
        }
    }

    private func startComponents(_ stage: NodeComponentStage, _ context: NodeContext) async throws(NodeStartError) {
        for component in components where component.stage == stage {
            do { try await component.start(context) } catch { throw .component(name: component.name, "\(error)") }
            update { $0.startedComponents.append(component) }
            logger.info("started \(component.name)")
        }
    }

    /// A first start's tokens. With seeds other than itself, the node first learns the ring through
    /// gossip: a peer must answer within the ring delay; then it waits until the ring has members plus
    /// one gossip interval, and until no live peer with a smaller address is still joining (so nodes
    /// started together join one at a time and each allocates against the tokens of the ones before;
    /// the ring delay restarts whenever such a peer finishes). Then it allocates against this data
    /// center's ring and moves each token a random step of at most 1/64 of its gap, so that two nodes
    /// that did allocate against the same ring never pick the same tokens.
    func chooseTokens(gossip: GossipService, seeds: [NodeAddress], self address: NodeAddress)
        async throws(NodeStartError) -> [Token]
    {
        let others = seeds.filter { $0 != address }
        let delay = UInt64(config.ringDelayMillis) * 1_000_000
        var deadline = clock.monotonicNanos() + delay
        if !others.isEmpty {
            var ringSeenAt: UInt64?
            var waitingFor: Set<NodeAddress> = []
            while true {
                let now = clock.monotonicNanos()
                let snapshot = gossip.snapshot
                if ringSeenAt == nil, !snapshot.ring.isEmpty { ringSeenAt = now }
                let earlier = Set(snapshot.members.values.filter {
                    $0.address < address && $0.isAlive && $0.status == .joining
                }.map(\.address))
                if !waitingFor.subtracting(earlier).isEmpty { deadline = now + delay }  // one finished
                waitingFor = earlier
                if let seen = ringSeenAt, now - seen >= 1_000_000_000, earlier.isEmpty { break }
                if now >= deadline {
                    guard snapshot.members.count > 1 else {
                        throw .noSeedReachable(seeds: others.map(\.description), waitedMillis: config.ringDelayMillis)
                    }
                    logger.warning("ring delay passed; allocating tokens with what gossip has learned",
                                   metadata: ["ring_members": "\(snapshot.ring.members.count)",
                                              "joining_before_us": "\(earlier.count)"])
                    break
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let ring = gossip.snapshot.ring
        var rng = SystemRandomNumberGenerator()
        let chosen = TokenAllocator.allocate(count: config.numTokens, dataCenter: config.dataCenter, in: ring,
                                             replicationFactor: config.allocationReplicationFactor, using: &rng)
        let tokens = Self.jittered(chosen, against: ring.sortedTokens, using: &rng)
        logger.info("allocated tokens", metadata: ["count": "\(tokens.count)", "ring_members": "\(ring.members.count)"])
        return tokens
    }

    /// `tokens`, each moved by a random step of at most 1/64 of the gap to its nearest neighbour in
    /// `ring` + `tokens`, so never onto another token and never across one.
    static func jittered(_ tokens: [Token], against ring: [Token], using rng: inout some RandomNumberGenerator) -> [Token] {
        let all = (ring + tokens).map(\.value).sorted()
        guard all.count > 1 else { return tokens }
        return tokens.map { t in
            guard let i = all.firstIndex(of: t.value) else { return t }
            let prev = all[i == 0 ? all.count - 1 : i - 1]
            let next = all[i == all.count - 1 ? 0 : i + 1]
            let gap = min(UInt64(bitPattern: t.value &- prev), UInt64(bitPattern: next &- t.value))
            let bound = gap / 64
            guard bound > 0 else { return t }
            let step = Int64(bitPattern: UInt64.random(in: 0 ... 2 * bound, using: &rng) &- bound)
            let moved = t.value &+ step
            return moved == Int64.min ? t : Token(moved)
        }
    }

    // MARK: - Stop

    /// Stops the node gracefully (see the type's documentation for the order). Safe to call more than
    /// once and after a failed start.
    public func stop() async {
        await stop(announce: true)
    }

    private func stop(announce: Bool) async {
        let r = lock.withLock {
            defer { runtime = NodeRuntime() }
            return runtime
        }
        for component in r.startedComponents.reversed() where component.stage == .service {
            await component.stop()
        }
        r.clockOffsets?.stop()
        r.tlsReloadChecks?.cancel()
        if let gossip = r.gossip {
            await gossip.stop(announce: announce)
            if announce { try? await Task.sleep(for: Self.announceGrace) }
        }
        r.admin?.stop()
        if let messaging = r.messaging { await messaging.shutdown() }
        if let group = r.group { await group.shutdownGracefully() }
        for component in r.startedComponents.reversed() where component.stage == .storage {
            await component.stop()
        }
        if r.group != nil { logger.info("node stopped") }
        _ = r.dataDirectory  // released (unlocked) when this last reference goes
    }

    /// Set by the process running the node: called when the node asks to be stopped (after a
    /// decommission); the process then calls ``stop()``.
    public func onStopRequest(_ handler: @escaping @Sendable (String) -> Void) {
        lock.withLock { stopHandler = handler }
    }

    func requestStop(_ reason: String) {
        logger.notice("stop requested: \(reason)")
        lock.withLock { stopHandler }?(reason)
    }

    private var stopHandler: (@Sendable (String) -> Void)?

    var nodeComponents: [any NodeComponent] { components }

    private func update(_ body: (inout NodeRuntime) -> Void) {
        lock.withLock { body(&runtime) }
    }
}

/// What a node has started so far; torn down in reverse by ``BasaltNode/stop()``.
private struct NodeRuntime {
    var dataDirectory: DataDirectory?
    var group: EventLoopGroup?
    var messaging: MessagingService?
    var gossip: GossipService?
    var clockOffsets: ClockOffsetService?
    var admin: AdminServer?
    var adminAddress: SocketAddress?
    var startedComponents: [any NodeComponent] = []
    var tlsReloadChecks: Task<Void, Never>?
}
