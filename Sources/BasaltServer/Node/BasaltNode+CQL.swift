import BasaltCluster
import BasaltCore
import BasaltCQL
import BasaltNet
import BasaltStorage
import Logging

/// The node's CQL subsystems (``CQLService``) as a ``NodeComponent`` of the service stage: the
/// persisted schema is loaded and the schema verbs registered in ``prepare(_:)`` (so the storage
/// engine opens the schema's tables before replaying its commit log), the native server starts
/// once the node is normal, on the engine the ``StorageComponent`` opened.
public final class CQLComponent: NodeComponent, @unchecked Sendable {
    // @unchecked: `service`, `openedTables` and `subscription` are only touched under `lock`.
    public let name = "CQL"
    public let stage = NodeComponentStage.service
    let storage: StorageComponent
    let coordination: CoordinationComponent?
    private let lock = Lock()
    private var service: CQLService?
    private var serving = false
    private var openedTables: [TableSchema] = []
    private var subscription: MembershipSubscription?

    init(storage: StorageComponent, coordination: CoordinationComponent?) {
        self.storage = storage
        self.coordination = coordination
    }

    /// The storage, coordination and CQL components, wired together, for `BasaltNode(components:)`;
    /// `releaseVersion` is what `basalt admin version` reports.
    public static func nodeComponents(releaseVersion: String = "") -> [any NodeComponent] {
        let box = Box()
        let storage = StorageComponent(initialTables: { try box.initialTables() })
        let coordination = CoordinationComponent(storage: storage, schema: { box.cql?.cql?.schema })
        let cql = CQLComponent(storage: storage, coordination: coordination)
        box.cql = cql
        let snapshots = SnapshotComponent(storage: storage, schema: { box.cql?.cql?.schema.schema })
        let movement = DataMovementComponent(storage: storage, coordination: coordination, schema: { box.cql?.cql?.schema })
        let repair = RepairComponent(storage: storage, movement: movement, schema: { box.cql?.cql?.schema })
        let operations = OperationsComponent(storage: storage, coordination: coordination, schema: { box.cql?.cql?.schema.schema },
                                             releaseVersion: releaseVersion)
        return [storage, coordination, cql, movement, snapshots, repair, operations]
    }

    /// Lets the storage component ask for the schema's tables before the CQL component exists as a value.
    final class Box: @unchecked Sendable {
        // @unchecked: `cql` is set once before the node starts.
        var cql: CQLComponent?
        /// The schema's tables and the node-local batch log.
        func initialTables() throws -> [StorageComponent.InitialTable] {
            [(BatchlogTable.schema, true)] + (cql?.startupTables() ?? [])
        }
    }

    /// The schema's tables, remembered as the ones the engine opens.
    func startupTables() -> [StorageComponent.InitialTable] {
        lock.withLock {
            guard let service else { return [] }
            let tables = service.schema.startupTables
            service.schema.defineIndexes(on: storage.indexes)
            openedTables = tables.map(\.schema)
            return tables.map { ($0.schema, $0.durableWrites) }
        }
    }

    /// The running service (between start and stop).
    public var cql: CQLService? { lock.withLock { service } }

    public func prepare(_ context: NodeContext) throws {
        let c = context.config
        var configuration = CQLService.Configuration(clusterName: c.clusterName, hostId: context.hostId, address: c.listenAddress,
                                                     internodePort: c.internodePort, nativePort: UInt16(clamping: c.nativePort),
                                                     dataCenter: c.dataCenter, rack: c.rack)
        let clockOffsets = context.clockOffsets
        configuration.serverTimestampRefusal = { clockOffsets.serverTimestampRefusal() }
        configuration.transportLimits = Self.transportLimits(c)
        configuration.auth = c.authSettings
        if configuration.auth != nil, c.superuserName != "cassandra" || c.superuserPassword != "cassandra" {
            context.logger.warning("superuser_name/superuser_password are deprecated: they only name the superuser the cluster's first start creates; manage roles with CREATE/ALTER ROLE (docs/security.md)")
        }
        configuration.auditLog = c.auditLogSettings
        configuration.tls = context.tls.native
        let membership = context.membership
        let update = context.updateLocalState
        let service = try CQLService(
            configuration: configuration, dataDirectory: context.dataDirectory, group: context.group, messaging: context.messaging,
            members: { Array(membership().members.values) }, tokens: { membership().local?.tokens ?? [] },
            publishSchemaVersion: { v in Task { await update([.schemaVersion(v)]) } },
            clock: context.clock, logger: context.logger)
        let subscription = context.events.subscribe { event in service.onMembershipEvent(event) }
        AuthMetrics.register(in: context.metrics) { service.auth }
        context.metrics.register("native_transport") { out in
            if let c = service.transportCounters { NativeTransportMetrics.write(c, into: &out) }
        }
        lock.withLock {
            self.service = service
            self.subscription = subscription
        }
    }

    /// The native transport limits of a configuration.
    static func transportLimits(_ c: NodeConfig) -> NativeTransportLimits {
        var l = NativeTransportLimits()
        l.maxFrameSize = c.nativeMaxFrameSize
        l.maxRequestBytesInFlight = c.nativeMaxRequestDataInFlight
        l.maxRequestBytesInFlightPerHost = c.nativeMaxRequestDataInFlightPerIP
        l.throwOnOverload = c.nativeThrowOnOverload
        l.maxConnections = c.nativeMaxConcurrentConnections
        l.maxConnectionsPerHost = c.nativeMaxConcurrentConnectionsPerIP
        l.incompleteFrameTimeout = .milliseconds(c.nativeIncompleteFrameTimeoutMillis)
        l.idleTimeout = .milliseconds(c.nativeIdleTimeoutMillis)
        return l
    }

    public func start(_ context: NodeContext) async throws {
        let (service, opened) = lock.withLock { (self.service, openedTables) }
        guard let service else { return }
        let bound = try await service.start(engine: storage.engine, openedTables: opened, coordinator: coordination?.coordinator)
        lock.withLock { serving = true }
        context.logger.info("serving CQL", metadata: ["address": "\(bound)"])
    }

    /// Whether the native server listens for clients (from a successful start to stop).
    public var isServing: Bool { lock.withLock { serving } }

    /// Attaches the open engine to the schema and starts pulling schema changes, before the native
    /// server starts (a bootstrapping node needs its tables to stream into).
    func attachEngineEarly() async throws {
        let (service, opened) = lock.withLock { (self.service, openedTables) }
        try service?.attachEngine(storage.engine, openedTables: opened)
    }

    public func stop() async {
        let service = lock.withLock { () -> CQLService? in
            serving = false
            subscription?.cancel()
            subscription = nil
            return self.service
        }
        await service?.stop()
    }
}
