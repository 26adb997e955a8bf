import BasaltCore
import BasaltNet
import BasaltProtocol
import Logging

/// Schema changes across a cluster (docs/cql.md, "Schema distribution").
///
/// - A DDL is applied here (``SchemaHolder/accept(_:)``), then pushed as a ``SchemaLogEntry`` to
///   every live peer (`schema.push`), each answering with its resulting schema version; the
///   answer waits for those acknowledgements (bounded by `pushTimeout`), then tells the peers which
///   nodes acknowledged which version (`schema.versions`), so every node's system.peers shows
///   agreement before the client's first poll.
/// - A node that sees a peer report a different version (gossip) pulls that peer's whole log
///   (`schema.pull`) and merges it: logs merge by set union and replay in one total order
///   (``SchemaLog``), so concurrent DDL on different nodes converges. Pulls per peer are
///   single-flight with exponential backoff after failures.
/// - TRUNCATE goes to every node (`schema.truncate`) and fails with a Truncate error when a node
///   is down or does not answer.
public final class ClusterSchemaDistributor: SchemaDistributor, @unchecked Sendable {
    // @unchecked: `pulls` is only touched under `lock`; the rest is immutable or thread-safe.
    public static let pushVerb = Verb(40, "schema.push")
    public static let pullVerb = Verb(41, "schema.pull", lane: .large)
    public static let truncateVerb = Verb(42, "schema.truncate")
    public static let versionsVerb = Verb(43, "schema.versions")

    /// A peer as the distributor needs it: internode address and liveness.
    public struct Peer: Sendable {
        public var address: SocketAddress
        public var isAlive: Bool
        public init(address: SocketAddress, isAlive: Bool) {
            self.address = address
            self.isAlive = isAlive
        }
    }

    public let holder: SchemaHolder
    public let messaging: MessagingService
    public let hostId: UUIDValue
    public let timestamps: TimestampGenerator
    public let peerVersions: PeerSchemaVersions
    let peers: @Sendable () -> [Peer]
    let clock: any Clock
    let logger: Logger
    let pushTimeout: Duration
    private let lock = Lock()
    private var pulls: [String: (inFlight: Bool, failures: Int, notBeforeNanos: UInt64)] = [:]

    public init(holder: SchemaHolder, messaging: MessagingService, hostId: UUIDValue, timestamps: TimestampGenerator,
                peerVersions: PeerSchemaVersions, clock: any Clock, pushTimeout: Duration = .seconds(3), logger: Logger,
                peers: @escaping @Sendable () -> [Peer]) {
        self.holder = holder
        self.messaging = messaging
        self.hostId = hostId
        self.timestamps = timestamps
        self.peerVersions = peerVersions
        self.clock = clock
        self.pushTimeout = pushTimeout
        self.logger = logger
        self.peers = peers
    }

    /// Registers the verbs; call before `messaging.start()`.
    public func register() {
        let holder = holder, logger = logger, peerVersions = peerVersions
        messaging.registerAsync(Self.pushVerb) { message in
            let entries = try SchemaLog.decode(message.payload)
            try holder.merge(entries)
            return holder.version.bytes
        }
        messaging.registerAsync(Self.pullVerb) { _ in SchemaLog.encode(holder.entries) }
        messaging.registerAsync(Self.truncateVerb) { message in
            guard let id = UUIDValue(bytes: message.payload) else { throw CQLError.protocolError("bad truncate payload") }
            try holder.truncateLocally(tableId: id)
            logger.info("schema: truncated table on request", metadata: ["table": "\(id)", "peer": "\(message.peer)"])
            return []
        }
        messaging.registerAsync(Self.versionsVerb) { message in
            var r = ByteReader(message.payload)
            let n = try r.readVarLength()
            for _ in 0 ..< n {
                let host = try r.readVarString()
                let v = UUIDValue(msb: try r.readUInt64(), lsb: try r.readUInt64())
                peerVersions.record(host, v)
            }
            return []
        }
    }

    public func announce(_ change: SchemaChange) async throws(CQLError) -> SchemaChangeDescription? {
        let entry = SchemaLogEntry(timestamp: timestamps.next().micros, origin: hostId, change: change)
        guard let description = try holder.accept(entry) else { return nil }
        // Push the entry as recorded (its timestamp may have been raised above the log's last one).
        let recorded = holder.entries.last { $0.origin == hostId && $0.change == change } ?? entry
        await push([recorded])
        return description
    }

    /// Pushes entries to every live peer and waits (bounded) for their acknowledgements; then
    /// shares who acknowledged which version.
    func push(_ entries: [SchemaLogEntry]) async {
        let payload = SchemaLog.encode(entries)
        let live = peers().filter(\.isAlive)
        guard !live.isEmpty else { return }
        let acks = await withTaskGroup(of: (String, UUIDValue?).self) { group in
            for p in live {
                group.addTask { [messaging, pushTimeout, logger] in
                    do {
                        let reply = try await messaging.request(to: p.address, verb: Self.pushVerb, payload: payload, timeout: pushTimeout)
                        return (p.address.host, UUIDValue(bytes: reply))
                    } catch {
                        logger.warning("schema: push failed; the peer will pull", metadata: ["peer": "\(p.address)", "error": "\(error)"])
                        return (p.address.host, nil)
                    }
                }
            }
            var out = [(String, UUIDValue)]()
            for await (host, v) in group { if let v { out.append((host, v)) } }
            return out
        }
        for (host, v) in acks { peerVersions.record(host, v) }
        var w = ByteWriter(capacity: 32 + acks.count * 32)
        let mine = holder.version
        let shared = acks + [(messaging.address.host, mine)]
        w.writeVarUInt(UInt64(shared.count))
        for (host, v) in shared {
            w.writeVarString(host)
            w.writeUInt64(v.msb)
            w.writeUInt64(v.lsb)
        }
        let note = w.bytes
        await withTaskGroup(of: Void.self) { group in
            for p in live {
                group.addTask { [messaging, pushTimeout] in
                    _ = try? await messaging.request(to: p.address, verb: Self.versionsVerb, payload: note, timeout: pushTimeout)
                }
            }
        }
    }

    public func truncate(_ table: TableSchema) async throws(CQLError) {
        let all = peers()
        if let down = all.first(where: { !$0.isAlive }) {
            throw .truncateError("Cannot perform truncate: node \(down.address.host) is down")
        }
        let payload = table.id.bytes
        let failures = await withTaskGroup(of: String?.self) { group in
            for p in all {
                group.addTask { [messaging, pushTimeout] in
                    do {
                        _ = try await messaging.request(to: p.address, verb: Self.truncateVerb, payload: payload, timeout: pushTimeout * 3)
                        return nil
                    } catch {
                        return "\(p.address.host): \(error)"
                    }
                }
            }
            var out = [String]()
            for await f in group { if let f { out.append(f) } }
            return out
        }
        if !failures.isEmpty { throw .truncateError("Truncate failed on \(failures.joined(separator: "; "))") }
        try holder.truncateLocally(tableId: table.id)
    }

    /// A peer reported `version` (gossip): pull its log when it differs from ours.
    public func peerReported(_ address: SocketAddress, version: UUIDValue) {
        peerVersions.record(address.host, version)
        guard version != holder.version else { return }
        let now = clock.monotonicNanos()
        let go: Bool = lock.withLock {
            var state = pulls[address.host] ?? (false, 0, 0)
            guard !state.inFlight, now >= state.notBeforeNanos else { return false }
            state.inFlight = true
            pulls[address.host] = state
            return true
        }
        guard go else { return }
        Task { await self.pull(from: address) }
    }

    /// Pulls from every live peer whose last reported version differs from ours (subject to the
    /// per-peer backoff). The node calls this periodically, so a missed or failed pull is retried.
    public func reconcile() {
        let mine = holder.version
        for p in peers() where p.isAlive {
            if let v = peerVersions.version(of: p.address.host), v != mine { peerReported(p.address, version: v) }
        }
    }

    func pull(from address: SocketAddress) async {
        var ok = false
        do {
            let reply = try await messaging.request(to: address, verb: Self.pullVerb, payload: [], timeout: pushTimeout)
            try holder.merge(try SchemaLog.decode(reply))
            ok = true
        } catch {
            logger.warning("schema: pull failed", metadata: ["peer": "\(address)", "error": "\(error)"])
        }
        let now = clock.monotonicNanos()
        lock.withLock {
            var state = pulls[address.host] ?? (false, 0, 0)
            state.inFlight = false
            state.failures = ok ? 0 : state.failures + 1
            // Backoff: 100 ms doubling up to 10 s after failures; a short pause after success.
            let delay: UInt64 = ok ? 50_000_000 : min(10_000_000_000, 100_000_000 << UInt64(min(state.failures, 7)))
            state.notBeforeNanos = now + delay
            pulls[address.host] = state
        }
    }
}
