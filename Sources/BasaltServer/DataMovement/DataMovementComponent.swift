import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltStorage
import Foundation
import Logging
import Synchronization

/// Data movement as a ``NodeComponent``: streaming (``StreamService``: the `stream.*` verbs,
/// throttled by `stream_throughput_outbound`), bootstrap and replace on a first start, and the
/// operator's decommission, removenode and cleanup (admin endpoint), the node's Load in gossip, and
/// `netstats`. Operations run one at a time; each has a progress record the admin endpoint shows.
public final class DataMovementComponent: NodeComponent, @unchecked Sendable {
    // @unchecked: the mutable references are only touched under `lock`; the rest is immutable.
    public let name = "data movement"
    public let stage = NodeComponentStage.service
    let storage: StorageComponent
    let coordination: CoordinationComponent
    let schema: @Sendable () -> (any SchemaSource)?
    private let lock = Lock()
    private var streams: StreamService?
    private var contextBox: NodeContext?
    private var loadTask: Task<Void, Never>?
    let operations = Mutex(AdminOperationLog())

    init(storage: StorageComponent, coordination: CoordinationComponent, schema: @escaping @Sendable () -> (any SchemaSource)?) {
        self.storage = storage
        self.coordination = coordination
        self.schema = schema
    }

    /// The streaming service (after prepare).
    public var streamService: StreamService? { lock.withLock { streams } }
    var context: NodeContext? { lock.withLock { contextBox } }

    public func prepare(_ context: NodeContext) throws {
        let membership = context.membership
        let storage = self.storage
        let streams = StreamService(
            engine: { storage.engine }, messaging: context.messaging,
            throughputBytesPerSecond: context.config.streamThroughputMiBPerSecond << 20,
            isAlive: { address in
                membership().members.values.contains { m in
                    m.isAlive && m.address.host == address.host && Int(m.address.port) == Int(address.port)
                }
            },
            clock: context.clock, logger: context.logger)
        streams.register(on: context.messaging)
        context.messaging.register(StreamVerbs.sees) { [weak self] m, reply in
            guard let self else { return reply.fail("shutting down") }
            do {
                let (host, status) = try StreamVerbs.decodeSeesRequest(m.payload)
                reply.reply([self.sees(host, status, membership: membership()) ? 1 : 0])
            } catch {
                reply.fail("\(error)")
            }
        }
        context.messaging.register(StreamVerbs.hintHandoff) { [weak self] m, reply in
            do {
                let (target, created, mutation) = try StreamVerbs.decodeHintHandoff(m.payload)
                guard let store = self?.coordination.hintedHandoff?.store else { return reply.fail("hints are not running here") }
                try store.write(mutation: mutation, for: target, createdAtMicros: created)
                reply.reply([])
            } catch {
                reply.fail("\(error)")
            }
        }
        context.metrics.register("streaming") { [weak self] out in
            guard let s = self?.streamService else { return }
            let c = s.counters
            out.counter("basalt_stream_chunks_served_total", help: "Stream chunks sent to receivers", c.chunksServed)
            out.counter("basalt_stream_bytes_served_total", help: "Stream bytes sent to receivers", c.bytesServed)
            let received = s.progress.reduce(0) { $0 + $1.bytes }
            out.gauge("basalt_stream_bytes_received_recent", help: "Bytes received by recent stream sessions", Double(received))
            var byState: [String: Int] = [:]
            for p in s.progress { byState[p.state, default: 0] += 1 }
            out.family("basalt_stream_sessions", type: .gauge, help: "Recent stream sessions this node received, by state",
                       samples: byState.sorted { $0.key < $1.key }.map { ([("state", $0.key)], Double($0.value)) })
            out.gauge("basalt_stream_throughput_bytes_per_second", help: "stream_throughput_outbound (0 = unthrottled)",
                      Double(s.throughputBytesPerSecond))
        }
        lock.withLock {
            self.streams = streams
            contextBox = context
        }
    }

    public func start(_ context: NodeContext) async throws {
        // The node's Load (bytes of live SSTables) in gossip, as nodetool status shows it.
        let task = Task { [weak self] in
            while !Task.isCancelled {
                await self?.publishLoad()
                try? await Task.sleep(for: .seconds(5))
            }
        }
        lock.withLock { loadTask = task }
    }

    public func stop() async {
        lock.withLock { loadTask }?.cancel()
    }

    func publishLoad() async {
        guard let context else { return }
        let bytes = storage.engine.liveDataBytes
        await context.updateLocalState([.load(Double(bytes))])
    }

    // MARK: - Views of the cluster

    /// Whether this node's view has `host` in `status` (for a joining node: with tokens and counted
    /// as a pending replica by the coordinator).
    func sees(_ host: UUIDValue, _ status: NodeStatus, membership: MembershipSnapshot) -> Bool {
        if let topology = coordination.clusterTopology {
            CoordinationComponent.refresh(topology, from: membership)
            if status == .joining || status == .leaving {
                return topology.snapshot.moving[host] == status
            }
        }
        return membership.members.values.contains { $0.hostId == host && $0.status == status }
    }

    /// Keyspaces that replicate across nodes, with their tables, as the engine has them.
    func movableKeyspaces() -> [RangeMovement.Keyspace] {
        guard let schema = schema() else { return [] }
        var byKeyspace: [String: [TableSchema]] = [:]
        for t in storage.engine.tableSchemas { byKeyspace[t.keyspace, default: []].append(t) }
        return byKeyspace.keys.sorted().compactMap { name in
            guard let ks = schema.keyspace(named: name), ks.replication != .local else { return nil }
            return RangeMovement.Keyspace(name: name, replication: ks.replication, tables: byKeyspace[name]!.sorted { $0.name < $1.name })
        }
    }

    /// Waits until every live member in the ring (and joining ones) answers that it sees `host` in
    /// `status`; throws after `timeout`.
    func waitUntilEveryoneSees(_ host: UUIDValue, _ status: NodeStatus, context: NodeContext, timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let snapshot = context.membership()
            let peers = snapshot.members.values.filter {
                $0.isAlive && $0.address != snapshot.localAddress && $0.hostId != host && !($0.status?.isDeadState ?? true)
            }
            var missing: [String] = []
            for p in peers {
                guard let address = try? SocketAddress(host: p.address.host, port: p.address.port) else { continue }
                let yes = try? await context.messaging.request(to: address, verb: StreamVerbs.sees,
                                                              payload: StreamVerbs.seesRequest(host: host, status: status),
                                                              timeout: .seconds(5))
                if yes != [1] { missing.append(p.address.description) }
            }
            if missing.isEmpty { return }
            if ContinuousClock.now >= deadline {
                throw StreamError.refused("nodes \(missing.joined(separator: ", ")) do not see \(host) as \(status.rawValue) after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    func socketAddress(_ id: NodeIdentity) throws -> SocketAddress {
        try SocketAddress(host: id.address.host, port: id.address.port)
    }

    func localIdentity(_ context: NodeContext) -> NodeIdentity {
        NodeIdentity(hostId: context.hostId, address: NodeAddress(host: context.config.listenAddress, port: UInt16(context.config.internodePort)))
    }

    /// Runs the transfers: each receiver fetches from its source (this node directly when it is the
    /// receiver, others through `stream.pull`), several at once; throws on the first failure.
    func run(_ transfers: [RangeMovement.Transfer], purpose: String, context: NodeContext,
             progress: @escaping @Sendable (Int, Int) -> Void) async throws {
        guard let streams = streamService else { throw StreamError.refused("streaming is not running") }
        let me = localIdentity(context)
        let total = transfers.count
        progress(0, total)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            var done = 0
            for t in transfers {
                if running >= 4 {
                    try await group.next()
                    running -= 1
                    done += 1
                    progress(done, total)
                }
                running += 1
                let messaging = context.messaging
                group.addTask {
                    let source = try SocketAddress(host: t.source.address.host, port: t.source.address.port)
                    if t.receiver == me {
                        _ = try await streams.fetch(from: source, tasks: t.tasks, purpose: purpose)
                    } else {
                        let request = StreamPullRequest(session: UUIDValue.random(), source: t.source.address, tasks: t.tasks)
                        let receiver = try SocketAddress(host: t.receiver.address.host, port: t.receiver.address.port)
                        let answer = try await messaging.request(to: receiver, verb: StreamVerbs.pull,
                                                                 payload: request.encoded(), timeout: .seconds(24 * 3600))
                        _ = try StreamSummary.decode(answer)
                    }
                }
            }
            while try await group.next() != nil {
                done += 1
                progress(done, total)
            }
        }
    }
}

extension CQLComponent {
    /// Attaches the storage engine to the schema before a bootstrap streams into it.
    public func beforeJoin(_ context: NodeContext) async throws {
        try await attachEngineEarly()
    }
}
