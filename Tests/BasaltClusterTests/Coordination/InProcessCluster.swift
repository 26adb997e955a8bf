import BasaltCore
import BasaltNet
import BasaltStorage
import BasaltTestSupport
import Logging
@testable import BasaltCluster

/// Three (or more) nodes in one process for coordinator tests: each with its own storage engine in
/// a temporary directory (removed with the node), real internode messaging on 127.0.7.x (ephemeral ports), the replica
/// verbs, a batch log and a ``ClusterCoordinator``. Liveness is set by the test (`setAlive`);
/// `isolate` shuts a node's messaging down so its peers see connection failures.
final class InProcessCluster: @unchecked Sendable {
    // @unchecked: mutated only by the test, between requests.

    final class Node: @unchecked Sendable {
        let identity: NodeIdentity
        let directory = TemporaryDirectory("coordination")
        let engine: StorageEngine
        let messaging: MessagingService
        let topology: ClusterTopology
        let replicas: ReplicaService
        let batchlog: BatchlogService
        let hints = RecordingHints()
        /// Real hinted handoff, when the cluster was made with `hintedHandoff` settings.
        var handoff: HintedHandoff?
        var coordinator: ClusterCoordinator!
        /// The node's vector search, when the cluster was made with `vectorSearch`.
        let search: KeyOrderSearch?

        init(index: Int, host: String, schema: TestSchema, vectorSearch: Bool, logger: Logger) throws {
            engine = try StorageEngine(directory: directory.path, config: StorageConfig(), clock: SystemClock(), logger: logger)
            for t in schema.tables { try engine.addTable(t) }
            try engine.addTable(BatchlogTable.schema)
            _ = try engine.replayCommitLog()
            messaging = MessagingService(settings: MessagingSettings(address: try SocketAddress(host: host, port: 0)), threads: 1, logger: logger)
            identity = NodeIdentity(hostId: UUIDValue(msb: UInt64(index), lsb: 0xAB), address: NodeAddress(host: host, port: 0))
            topology = ClusterTopology(local: identity, localDataCenter: "dc1", clock: SystemClock())
            let engine = self.engine
            search = vectorSearch ? KeyOrderSearch(engine: engine, table: CoordinationFixtures.table) : nil
            replicas = ReplicaService(engine: { engine }, vectorSearch: search, logger: logger)
            replicas.register(on: messaging)
            batchlog = BatchlogService(engine: { engine }, replayAfter: .milliseconds(0), clock: SystemClock(), logger: logger)
            batchlog.register(on: messaging)
        }
    }

    let nodes: [Node]
    let schema: TestSchema
    var alive: [Bool]
    var ring: TokenRing

    /// `count` nodes with `tokensPerNode` evenly interleaved tokens each.
    init(count: Int = 3, tokensPerNode: Int = 4, schema: TestSchema, settings: ClusterCoordinator.Settings = ClusterCoordinator.Settings(),
         hintedHandoff: HintedHandoff.Settings? = nil, vectorSearch: Bool = false) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        self.schema = schema
        var list: [Node] = []
        for i in 0 ..< count {
            let n = try Node(index: i + 1, host: "127.0.7.\(i + 11)", schema: schema, vectorSearch: vectorSearch, logger: logger)
            try await n.messaging.start()
            list.append(n)
        }
        nodes = list
        alive = Array(repeating: true, count: count)
        let step = UInt64.max / UInt64(count * tokensPerNode)
        var members: [RingMember] = []
        for (i, n) in list.enumerated() {
            let tokens = (0 ..< tokensPerNode).map { t in Token(Int64(bitPattern: UInt64(t * count + i) &* step &+ 12345)) }
            members.append(RingMember(identity: n.identity, dataCenter: "dc1", rack: "rack1", tokens: tokens))
        }
        ring = TokenRing(members: members)
        for n in list {
            var sink: any HintSink = n.hints
            if let hintedHandoff {
                let store = try HintStore(directory: n.directory.path + "/hints", logger: logger)
                let handoff = HintedHandoff(store: store, topology: n.topology, messaging: n.messaging, schema: schema,
                                            settings: hintedHandoff, clock: SystemClock(), logger: logger)
                handoff.start()
                n.handoff = handoff
                sink = handoff
            }
            n.coordinator = ClusterCoordinator(engine: n.engine, messaging: n.messaging, topology: n.topology, schema: schema,
                                               hints: sink, vectorSearch: n.search, settings: settings, clock: SystemClock(), logger: logger)
        }
        publish()
    }

    /// Tells every node's topology who is alive.
    func publish() {
        let view = nodes.enumerated().map { i, n in
            ClusterTopology.Node(identity: n.identity, dataCenter: "dc1", rack: "rack1", isAlive: alive[i], address: n.messaging.address)
        }
        for n in nodes { n.topology.update(ring: ring, nodes: view) }
    }

    func setAlive(_ i: Int, _ value: Bool) {
        alive[i] = value
        publish()
    }

    /// The indices of the replicas of `key` (RF 3 on 3 nodes: everyone).
    func replicaIndices(of key: [UInt8], _ replication: ReplicationParams) -> [Int] {
        let ids = ReplicationStrategy(replication).replicas(for: Murmur3.token(key), in: ring, localNode: nodes[0].identity)
        return ids.compactMap { id in nodes.firstIndex { $0.identity == id } }
    }

    func shutdown() async {
        for n in nodes {
            n.coordinator.stop()
            n.handoff?.stop()
            await n.messaging.shutdown()
            n.engine.close(flush: false)
        }
    }
}

/// A schema of fixed keyspaces and tables.
struct TestSchema: SchemaSource {
    var keyspaces: [String: KeyspaceSchema]
    var tables: [TableSchema]

    func keyspace(named name: String) -> KeyspaceSchema? { keyspaces[name] }
    func table(keyspace: String, name: String) -> TableSchema? { tables.first { $0.keyspace == keyspace && $0.name == name } }
    func table(id: UUIDValue) -> TableSchema? { tables.first { $0.id == id } }

    /// `ks` with replication factor `rf` and the fixtures' table `ks.t`.
    static func simple(rf: Int) -> TestSchema {
        TestSchema(keyspaces: ["ks": KeyspaceSchema(name: "ks", replication: .simple(replicationFactor: rf))],
                   tables: [CoordinationFixtures.table])
    }
}

/// A ``HintSink`` that remembers what it was given.
final class RecordingHints: HintSink, @unchecked Sendable {
    // @unchecked: `stored` is guarded by `lock`.
    private let lock = Lock()
    private var stored: [(UUIDValue, [UInt8])] = []
    var accept = true

    func storeHint(_ mutation: [UInt8], for replica: Replica) -> Bool {
        lock.withLock {
            guard accept else { return false }
            stored.append((replica.hostId, mutation))
            return true
        }
    }

    var hints: [(UUIDValue, [UInt8])] { lock.withLock { stored } }
}
