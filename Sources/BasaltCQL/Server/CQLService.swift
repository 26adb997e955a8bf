import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltStorage
import Logging

/// Everything CQL on one node, assembled: the ``SchemaHolder``, the schema distributor
/// (cluster-wide when the node has internode messaging, else local), the ``QueryProcessor`` over
/// the node's coordinator, system tables from membership, and the ``NativeServer``.
///
/// Two phases, matching a node's start-up: ``init`` loads the persisted schema and registers the
/// internode verbs (before messaging starts; ``SchemaHolder/startupTables`` tells the storage
/// engine which tables to open before replaying its commit log); ``start(engine:openedTables:coordinator:)``
/// attaches the open engine and serves CQL once the node is part of the ring. Membership events go
/// to ``onMembershipEvent(_:)``; ``stop()`` closes the server.
public final class CQLService: @unchecked Sendable {
    // @unchecked: `server`, `processor` and `reconcileTask` are only touched under `lock`.
    public struct Configuration: Sendable {
        public var clusterName: String
        public var hostId: UUIDValue
        /// The node's address: internode identity and where CQL listens.
        public var address: String
        public var internodePort: Int
        public var nativePort: UInt16
        public var dataCenter: String
        public var rack: String
        public var releaseVersion: String = NodeInfo.defaultReleaseVersion
        /// Roles, passwords and permissions (nil: AllowAllAuthenticator and AllowAllAuthorizer).
        public var auth: AuthService.Settings?
        /// The audit log (nil: off).
        public var auditLog: AuditLog.Settings?
        public var connectionSettings = NativeConnectionStateMachine.Settings()
        /// Why this node may not pick write timestamps now (its clock is too far from the
        /// cluster's), or nil; see ``QueryProcessor/Settings/serverTimestampRefusal``.
        public var serverTimestampRefusal: (@Sendable () -> String?)?
        public var transportLimits = NativeTransportLimits()
        /// TLS on the native port (`client_encryption_options`), or nil for plain text.
        public var tls: TLSContext?

        public init(clusterName: String, hostId: UUIDValue, address: String, internodePort: Int = 7000, nativePort: UInt16 = 9042,
                    dataCenter: String = "datacenter1", rack: String = "rack1", auth: AuthService.Settings? = nil) {
            self.clusterName = clusterName
            self.hostId = hostId
            self.address = address
            self.internodePort = internodePort
            self.nativePort = nativePort
            self.dataCenter = dataCenter
            self.rack = rack
            self.auth = auth
        }
    }

    public let configuration: Configuration
    public let schema: SchemaHolder
    public let peerVersions = PeerSchemaVersions()
    public let events = NativeEventHub()
    public let clusterDistributor: ClusterSchemaDistributor?
    let distributor: any SchemaDistributor
    let cluster: any ClusterInfoSource
    let timestamps: TimestampGenerator
    let group: EventLoopGroup
    let clock: any Clock
    let logger: Logger
    private let lock = Lock()
    private var server: NativeServer?
    private var processor: QueryProcessor?
    private var reconcileTask: Task<Void, Never>?
    private var authService: AuthService?
    private var engineAttached = false

    /// - Parameters:
    ///   - messaging: internode messaging (schema distribution verbs are registered on it; it
    ///     must not be started yet); nil for a node alone.
    ///   - members: the current membership view's members (this node included); nil for a node alone.
    ///   - tokens: this node's tokens.
    ///   - publishSchemaVersion: puts this node's schema version into gossip.
    public init(configuration: Configuration, dataDirectory: String, group: EventLoopGroup, messaging: MessagingService?,
                members: (@Sendable () -> [Member])?, tokens: @escaping @Sendable () -> [Token],
                publishSchemaVersion: @escaping @Sendable (UUIDValue) -> Void, clock: any Clock, logger: Logger) throws {
        self.configuration = configuration
        self.group = group
        self.clock = clock
        self.logger = logger
        let holder = try SchemaHolder(directory: dataDirectory, engine: nil, logger: logger)
        schema = holder
        timestamps = TimestampGenerator(clock: clock)
        let versions = peerVersions
        if let messaging {
            let internodePort = configuration.internodePort
            let me = configuration.address
            let distributor = ClusterSchemaDistributor(
                holder: holder, messaging: messaging, hostId: configuration.hostId, timestamps: timestamps, peerVersions: versions,
                clock: clock, logger: logger) {
                    (members?() ?? []).compactMap { m -> ClusterSchemaDistributor.Peer? in
                        guard m.address.host != me || Int(m.address.port) != internodePort,
                              m.status == .normal || m.status == .leaving || m.status == .joining,
                              let address = try? SocketAddress(host: m.address.host, port: m.address.port) else { return nil }
                        return .init(address: address, isAlive: m.isAlive)
                    }
                }
            distributor.register()
            clusterDistributor = distributor
            self.distributor = distributor
        } else {
            clusterDistributor = nil
            distributor = LocalSchemaDistributor(holder: holder, hostId: configuration.hostId, timestamps: timestamps)
        }
        let config = configuration
        let local: @Sendable () -> NodeInfo = {
            NodeInfo(hostId: config.hostId, address: config.address, port: config.internodePort, nativeAddress: config.address,
                     nativePort: Int(config.nativePort), dataCenter: config.dataCenter, rack: config.rack,
                     releaseVersion: config.releaseVersion, schemaVersion: holder.version, tokens: tokens())
        }
        cluster = members.map {
            MembershipClusterInfo(clusterName: config.clusterName, peerVersions: versions, local: local, members: $0)
        } ?? DynamicSingleNode(local: local, clusterName: config.clusterName)
        let events = events
        holder.onChange { schema, changes in
            publishSchemaVersion(schema.version)
            for c in changes { events.publish(.schemaChange(c)) }
        }
        publishSchemaVersion(holder.version)
    }

    /// Authentication and authorization, once started (nil when not configured).
    public var auth: AuthService? { lock.withLock { authService } }

    var processorSettings: QueryProcessor.Settings {
        var s = QueryProcessor.Settings()
        s.serverTimestampRefusal = configuration.serverTimestampRefusal
        return s
    }

    /// The native transport's counters, once started.
    public var transportCounters: NativeTransportCounters? { lock.withLock { server }?.transportCounters }

    /// The statement executor, once started.
    public var queryProcessor: QueryProcessor? { lock.withLock { processor } }

    /// Attaches the open storage engine (opened with `openedTables`, normally
    /// ``SchemaHolder/startupTables``) and serves CQL on `address:nativePort`; with no
    /// `coordinator`, a ``LocalRequestCoordinator`` over the engine.
    @discardableResult
    public func start(engine: StorageEngine, openedTables: [TableSchema], coordinator: (any RequestCoordinator)?) async throws -> SocketAddress {
        try attachEngine(engine, openedTables: openedTables)
        var auth: AuthService?
        if let a = configuration.auth {
            let audit = try configuration.auditLog.map { s throws(FileError) in try AuditLog(settings: s, clock: clock) }
            auth = AuthService(settings: a, audit: audit, clock: clock, logger: logger)
        }
        let processor = QueryProcessor(schema: schema, coordinator: coordinator ?? LocalRequestCoordinator(engine: engine, schema: schema, dataCenter: configuration.dataCenter),
                                       distributor: distributor, cluster: cluster, clock: clock, timestamps: timestamps,
                                       settings: processorSettings, auth: auth, logger: logger)
        if let auth {
            auth.attach(processor)
            if auth.settings.authentication { await auth.startSetup() }
        }
        var settings = configuration.connectionSettings
        settings.requiresAuthentication = configuration.auth?.authentication ?? false
        let server = NativeServer(group: group, processor: processor, settings: settings, limits: configuration.transportLimits,
                                  events: events, tls: configuration.tls, logger: logger)
        lock.withLock {
            self.processor = processor
            self.server = server
            self.authService = auth
        }
        let bound = try await server.start(at: try SocketAddress(host: configuration.address, port: configuration.nativePort))
        return bound
    }

    /// Attaches the open storage engine to the schema (tables created and altered in it from now on)
    /// and starts pulling schema changes from peers; done by ``start(engine:openedTables:coordinator:)``,
    /// or earlier by a node that streams data before it serves (bootstrap). Idempotent.
    public func attachEngine(_ engine: StorageEngine, openedTables: [TableSchema]) throws {
        guard lock.withLock({ !engineAttached }) else { return }
        try schema.attach(engine: engine, openedTables: openedTables)
        lock.withLock { engineAttached = true }
        if let cluster = clusterDistributor {
            let task = Task {
                while !Task.isCancelled {
                    cluster.reconcile()
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            lock.withLock { reconcileTask = task }
        }
    }

    /// Membership changes: client events, and a schema pull when a peer reports another version.
    public func onMembershipEvent(_ event: MembershipEvent) {
        if let e = MembershipClusterInfo.clientEvent(event) { events.publish(e) }
        if case let .schemaVersionChanged(m, version) = event, let cluster = clusterDistributor,
           let address = try? SocketAddress(host: m.address.host, port: m.address.port) {
            cluster.peerReported(address, version: version)
        }
    }

    public func stop() async {
        let (task, server, auth) = lock.withLock { (reconcileTask, self.server, authService) }
        task?.cancel()
        await server?.stop()
        auth?.stop()
    }
}

/// One node alone, its details read on each query (tokens and schema version change).
struct DynamicSingleNode: ClusterInfoSource {
    let local: @Sendable () -> NodeInfo
    let clusterName: String
    func localNode() -> NodeInfo { local() }
    func peers() -> [NodeInfo] { [] }
}
