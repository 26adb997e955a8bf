import BasaltProtocol
import BasaltCore
import BasaltNet
import Logging
import Synchronization

/// A connection to a Basalt (or Cassandra-compatible, protocol v4) cluster: token-aware,
/// multiplexed, with typed errors.
///
/// ``connect(_:)`` opens a control connection to the first contact point that answers, reads
/// the cluster's nodes, tokens and keyspaces, and opens a pool of connections to every node.
/// Statements then go to a live replica of their partition (prepared statements with a routing
/// key), round-robin among replicas with the local data center first, falling back to any live
/// node (see ``QueryPlan``). Nodes whose connections close are marked down and reconnected with
/// backoff; the topology is re-read on the server's TOPOLOGY_CHANGE, STATUS_CHANGE and
/// keyspace SCHEMA_CHANGE events and every ``SessionConfiguration/topologyRefreshInterval``.
///
/// Every method may be called from any task or thread. The async methods never block an event
/// loop; the callback form of ``execute(_:encoded:consistency:options:completion:)`` runs its
/// completion on an event loop and is for load generators and other hot paths.
public final class Session: Sendable {
    public let configuration: SessionConfiguration
    /// The loops the session's connections run on.
    public let group: EventLoopGroup
    let ownsGroup: Bool
    let routing: Mutex<RoutingState>
    let control: Mutex<ControlState>
    private let rotation = Atomic<Int>(0)
    let logger: Logger

    /// What requests route by: one immutable snapshot, swapped whole on a topology refresh.
    final class RoutingState: Sendable {
        let topology: ClusterTopology
        /// Indexed like `topology.nodes`.
        let pools: [NodePool]
        let localDataCenter: String

        init(topology: ClusterTopology, pools: [NodePool], localDataCenter: String) {
            self.topology = topology
            self.pools = pools
            self.localDataCenter = localDataCenter
        }
    }

    /// The control connection and the background work around it.
    struct ControlState {
        var connection: NodeConnection?
        var refreshing = false
        var refreshAgain = false
        var reconnecting = false
        var closed = false
        var tasks: [Task<Void, Never>] = []
    }

    private init(configuration: SessionConfiguration, group: EventLoopGroup, ownsGroup: Bool, routing: RoutingState) {
        self.configuration = configuration
        self.group = group
        self.ownsGroup = ownsGroup
        self.routing = Mutex(routing)
        control = Mutex(ControlState())
        logger = configuration.logger
    }

    /// Connects to the cluster: control connection, topology, then a pool per node (returns once
    /// every node has been tried once; nodes that could not be reached are down and retried in
    /// the background). Throws ``ClientError/noHostAvailable(_:)`` when no contact point answers.
    public static func connect(_ configuration: SessionConfiguration) async throws(ClientError) -> Session {
        let group = configuration.eventLoopGroup ?? EventLoopGroup(threads: max(1, configuration.eventLoopThreads), name: "basalt-client")
        let ownsGroup = configuration.eventLoopGroup == nil
        var failures = [ClientError.NodeFailure]()
        for contact in configuration.contactPoints {
            let address: SocketAddress
            do {
                address = try Self.address(contact, defaultPort: configuration.port)
            } catch {
                failures.append(.init(node: contact, reason: error.description))
                continue
            }
            let connection: NodeConnection
            let snapshot: TopologyReader.Snapshot
            do {
                connection = try await NodeConnection.open(to: address, on: group.next(), configuration: configuration)
            } catch {
                if case .server = error { return try await fail(error, ownsGroup ? group : nil) }
                failures.append(.init(node: address.description, reason: error.description))
                continue
            }
            do {
                try await connection.registerForEvents(timeout: configuration.connectTimeout)
                snapshot = try await TopologyReader.read(on: connection, address: address, defaultPort: configuration.port,
                                                         timeout: configuration.requestTimeout)
            } catch {
                connection.close(error)
                failures.append(.init(node: address.description, reason: error.description))
                continue
            }
            let localDC = configuration.localDataCenter ?? snapshot.topology.node(hostId: snapshot.localHostId)?.dataCenter ?? ""
            let pools = snapshot.topology.nodes.map { NodePool(node: $0, configuration: configuration, group: group) }
            let session = Session(configuration: configuration, group: group, ownsGroup: ownsGroup,
                                  routing: RoutingState(topology: snapshot.topology, pools: pools, localDataCenter: localDC))
            session.adoptControl(connection)
            await withTaskGroup(of: Void.self) { tasks in
                for pool in pools { tasks.addTask { await pool.connect() } }
            }
            session.startPeriodicRefresh()
            return session
        }
        return try await fail(.noHostAvailable(failures), ownsGroup ? group : nil)
    }

    private static func fail(_ error: ClientError, _ group: EventLoopGroup?) async throws(ClientError) -> Session {
        await group?.shutdownGracefully()
        throw error
    }

    /// `host` or `host:port` (IPv6 in brackets) as a socket address.
    static func address(_ text: String, defaultPort: UInt16) throws(TCPError) -> SocketAddress {
        if text.hasPrefix("[") || text.split(separator: ":").count == 2 { return try SocketAddress(text) }
        return try SocketAddress(host: text, port: defaultPort)
    }

    /// The topology requests are routed by now.
    public var topology: ClusterTopology { routing.withLock { $0.topology } }

    /// The data center whose replicas are preferred.
    public var localDataCenter: String { routing.withLock { $0.localDataCenter } }

    /// A node and how the client sees it now.
    public struct NodeStatus: Sendable {
        public var node: ClusterNode
        /// Whether the client has an open connection to it (requests go only to such nodes).
        public var isUp: Bool
        /// Requests awaiting its answers.
        public var inFlight: Int
    }

    /// Every known node, in ``ClusterTopology/nodes`` order.
    public var nodeStates: [NodeStatus] {
        let state = routing.withLock { $0 }
        return zip(state.topology.nodes, state.pools).map { NodeStatus(node: $0, isUp: $1.isUp, inFlight: $1.inFlight) }
    }

    /// The replicas of `token` in `keyspace`, primary first, by the current topology.
    public func replicas(for token: Token, keyspace: String) -> [ClusterNode] {
        topology.replicas(for: token, keyspace: keyspace)
    }

    /// The order in which nodes would be tried for a request with this routing token.
    func plan(token: Token?, keyspace: String?) -> (RoutingState, [Int]) {
        let state = routing.withLock { $0 }
        let replicas = token.flatMap { t in keyspace.flatMap { state.topology.replicaIndices(for: t, keyspace: $0) } }
        let rotation = rotation.wrappingAdd(1, ordering: .relaxed).oldValue
        let plan = QueryPlan.order(
            replicas: replicas, nodeCount: state.pools.count, rotation: rotation,
            isUp: { state.pools[$0].isUp }, isLocal: { state.topology.nodes[$0].dataCenter == state.localDataCenter })
        return (state, plan)
    }

    /// Closes every connection and stops background work; requests still outstanding fail with
    /// ``ClientError/sessionClosed``. Stops the session's own event loops.
    public func close() async {
        let (connection, tasks): (NodeConnection?, [Task<Void, Never>]) = control.withLock { state in
            state.closed = true
            defer {
                state.tasks = []
                state.connection = nil
            }
            return (state.connection, state.tasks)
        }
        for t in tasks { t.cancel() }
        connection?.close(.sessionClosed)
        for pool in routing.withLock({ $0.pools }) { pool.close() }
        // Loop shutdown runs the queued closes first, then closes any handle left.
        if ownsGroup { await group.shutdownGracefully() }
    }

    var isClosed: Bool { control.withLock { $0.closed } }
}
