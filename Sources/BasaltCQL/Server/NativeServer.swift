import BasaltCore
import BasaltNet
import Logging

/// The CQL native protocol v4 server of a node: listens on `address` (port 9042 by default),
/// spreads accepted connections over the loop group, and serves each with a
/// ``NativeConnection``. A bad frame closes only its own connection; the server keeps serving.
/// ``NativeTransportLimits`` bound what clients may make it hold: connections over the connection
/// caps are closed at once (a throttled warning, ``transportCounters`` counts them by reason).
public final class NativeServer: @unchecked Sendable {
    // @unchecked: `listener`, `connections` and `nextId` are only touched under `lock`.
    public let group: EventLoopGroup
    public let processor: QueryProcessor
    public let events: NativeEventHub
    let settings: NativeConnectionStateMachine.Settings
    let shared: NativeTransportShared
    let logger: Logger
    /// TLS on accepted connections (below the frame layer: TCPConnection+TLS.swift), or nil.
    let tls: TLSContext?
    private let lock = Lock()
    private var listener: TCPListener?
    private var connections: [Int: NativeConnection] = [:]
    private var nextId = 0

    public init(group: EventLoopGroup, processor: QueryProcessor, settings: NativeConnectionStateMachine.Settings = .init(),
                limits: NativeTransportLimits = NativeTransportLimits(), events: NativeEventHub = NativeEventHub(),
                tls: TLSContext? = nil, logger: Logger) {
        self.tls = tls
        shared = NativeTransportShared(limits: limits)
        self.events = events
        self.group = group
        self.processor = processor
        self.settings = settings
        self.logger = logger
    }

    /// Starts listening; returns the bound address (port 0 picks one).
    @discardableResult
    public func start(at address: SocketAddress) async throws(TCPError) -> SocketAddress {
        var options = TCPOptions()
        options.tls = tls
        let l = try await TCPListener.listen(on: group.loops[0], at: address, distributeTo: group, connectionOptions: options,
                                             logger: logger) { [self] tcp in
            self.accept(tcp)
        }
        lock.withLock { listener = l }
        logger.info("CQL native server listening", metadata: [
            "address": "\(l.localAddress)", "tls": "\(tls == nil ? "off" : tls!.allowsPlaintext ? "optional" : "required")"])
        return l.localAddress
    }

    public var localAddress: SocketAddress? { lock.withLock { listener?.localAddress } }

    /// Open client connections.
    public var connectionCount: Int { lock.withLock { connections.count } }

    /// What the transport did about its limits so far.
    public var transportCounters: NativeTransportCounters { shared.counters }

    private func accept(_ tcp: TCPConnection) {
        let host = tcp.remoteAddress?.host ?? "unknown"
        if let refusal = shared.connections.admit(host: host) {
            if let held = shared.refusalLog.admit(nowNanos: tcp.loop.nowMillis * 1_000_000) {
                let limits = shared.limits
                let (limit, key) = refusal == .maxConnections
                    ? (limits.maxConnections, "native_transport_max_concurrent_connections")
                    : (limits.maxConnectionsPerHost, "native_transport_max_concurrent_connections_per_ip")
                logger.warning("refusing native connection: \(limit) connections already open (\(key))",
                               metadata: ["remote": "\(tcp.peerDescription)", "refused_since_last_warning": "\(held)"])
            }
            tcp.close(.local("connection limit reached"))
            return
        }
        let id: Int = lock.withLock {
            nextId += 1
            return nextId
        }
        let c = NativeConnection(tcp: tcp, id: id, processor: processor, hub: events, settings: settings, shared: shared, logger: logger)
        lock.withLock { connections[id] = c }
        c.start { [self] closed in
            shared.connections.remove(host: closed.host)
            _ = self.lock.withLock { self.connections.removeValue(forKey: closed.id) }
        }
    }

    /// Stops accepting and closes every connection.
    public func stop() async {
        let (l, open) = lock.withLock { (listener, Array(connections.values)) }
        if let l { _ = l.loop.execute { l.close() } }
        for c in open { _ = c.loop.execute { c.tcp.close(.local("server stopping")) } }
        lock.withLock { listener = nil }
    }
}
