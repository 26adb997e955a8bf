import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltStorage
import Logging

/// Everything CQL on one node, assembled: the ``SchemaHolder`` over the storage engine, the
/// schema distributor (cluster-wide when the node has internode messaging, else local), the
/// ``QueryProcessor`` over the node's coordinator, system tables from membership, and the
/// ``NativeServer``. The node calls ``prepare()`` before messaging starts, ``start()`` once it is
/// part of the ring, feeds it membership events, and ``stop()``s it first.
public final class CQLService: @unchecked Sendable {
    // @unchecked: `reconcileTask` is only touched under `lock`; everything else is immutable.
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
        public var authenticator: PasswordAuthenticator?
        public var connectionSettings = NativeConnectionStateMachine.Settings()

        public init(clusterName: String, hostId: UUIDValue, address: String, internodePort: Int = 7000, nativePort: UInt16 = 9042,
                    dataCenter: String = "datacenter1", rack: String = "rack1", authenticator: PasswordAuthenticator? = nil) {
            self.clusterName = clusterName
            self.hostId = hostId
            self.address = address
            self.internodePort = internodePort
            self.nativePort = nativePort
            self.dataCenter = dataCenter
            self.rack = rack
            self.authenticator = authenticator
        }
    }

    public let configuration: Configuration
    public let schema: SchemaHolder
    public let processor: QueryProcessor
    public let server: NativeServer
    public let peerVersions = PeerSchemaVersions()
    public let clusterDistributor: ClusterSchemaDistributor?
    let logger: Logger
    private let lock = Lock()
    private var reconcileTask: Task<Void, Never>?

    /// - Parameters:
    ///   - coordinator: the node's coordinator; given nil, a ``LocalRequestCoordinator`` over `engine`.
    ///   - messaging: internode messaging (schema distribution verbs); nil for a node alone.
    ///   - members: the current membership view's members (this node included); nil for a node alone.
    ///   - tokens: this node's tokens.
    ///   - publishSchemaVersion: puts this node's schema version into gossip.
    public init(configuration: Configuration, dataDirectory: String, engine: StorageEngine, group: EventLoopGroup,
                coordinator: (any RequestCoordinator)?, messaging: MessagingService?, members: (@Sendable () -> [Member])?,
                tokens: @escaping @Sendable () -> [Token], publishSchemaVersion: @escaping @Sendable (UUIDValue) -> Void,
                clock: any Clock, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let holder = try SchemaHolder(directory: dataDirectory, engine: engine, logger: logger)
        schema = holder
        let timestamps = TimestampGenerator(clock: clock)
        let versions = peerVersions
        let distributor: any SchemaDistributor
        if let messaging {
            let internodePort = configuration.internodePort
            let me = configuration.address
            let cluster = ClusterSchemaDistributor(
                holder: holder, messaging: messaging, hostId: configuration.hostId, timestamps: timestamps, peerVersions: versions,
                clock: clock, logger: logger) {
                    (members?() ?? []).compactMap { m -> ClusterSchemaDistributor.Peer? in
                        guard m.address.host != me || Int(m.address.port) != internodePort,
                              m.status == .normal || m.status == .leaving || m.status == .joining,
                              let address = try? SocketAddress(host: m.address.host, port: m.address.port) else { return nil }
                        return .init(address: address, isAlive: m.isAlive)
                    }
                }
            clusterDistributor = cluster
            distributor = cluster
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
        let info: any ClusterInfoSource = members.map {
            MembershipClusterInfo(clusterName: config.clusterName, peerVersions: versions, local: local, members: $0)
        } ?? DynamicSingleNode(local: local, clusterName: config.clusterName)
        let processor = QueryProcessor(schema: holder, coordinator: coordinator ?? LocalRequestCoordinator(engine: engine, schema: holder, dataCenter: config.dataCenter),
                                       distributor: distributor, cluster: info,
                                       clock: clock, timestamps: timestamps, logger: logger)
        self.processor = processor
        var settings = configuration.connectionSettings
        settings.authenticator = configuration.authenticator
        let server = NativeServer(group: group, processor: processor, settings: settings, logger: logger)
        self.server = server
        holder.onChange { schema, changes in
            publishSchemaVersion(schema.version)
            for c in changes { server.events.publish(.schemaChange(c)) }
        }
        publishSchemaVersion(holder.version)
    }

    /// Registers the internode verbs (before messaging starts).
    public func prepare() { clusterDistributor?.register() }

    /// Starts serving CQL on `address:nativePort`, and the periodic schema reconciliation.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let bound = try await server.start(at: try SocketAddress(host: configuration.address, port: configuration.nativePort))
        if let cluster = clusterDistributor {
            let task = Task {
                while !Task.isCancelled {
                    cluster.reconcile()
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            lock.withLock { reconcileTask = task }
        }
        return bound
    }

    /// Membership changes: client events, and a schema pull when a peer reports another version.
    public func onMembershipEvent(_ event: MembershipEvent) {
        if let e = MembershipClusterInfo.clientEvent(event) { server.events.publish(e) }
        if case let .schemaVersionChanged(m, version) = event, let cluster = clusterDistributor,
           let address = try? SocketAddress(host: m.address.host, port: m.address.port) {
            cluster.peerReported(address, version: version)
        }
    }

    public func stop() async {
        lock.withLock { reconcileTask }?.cancel()
        await server.stop()
    }
}

/// One node alone, its details read on each query (tokens and schema version change).
struct DynamicSingleNode: ClusterInfoSource {
    let local: @Sendable () -> NodeInfo
    let clusterName: String
    func localNode() -> NodeInfo { local() }
    func peers() -> [NodeInfo] { [] }
}
