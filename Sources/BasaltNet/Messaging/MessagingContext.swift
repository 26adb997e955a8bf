import BasaltCore
import Logging
import Synchronization

/// What every connection of a running ``MessagingService`` shares: settings, the node's own address,
/// the frozen handler table, counters, the logger and the registry of open incoming connections.
final class MessagingContext: @unchecked Sendable {
    // @unchecked: every stored property is immutable except `inbound` and `isShutDown`, which are
    // guarded by `lock`. The context is created in `start()` before any connection exists and
    // reaches the loops through their task queues, which order it before any use.
    let settings: MessagingSettings
    /// The node's internode address (with the bound port).
    let address: SocketAddress
    let handlers: [UInt16: RegisteredHandler]
    let metrics: MessagingMetrics
    let logger: Logger
    /// Incoming connections open, against ``MessagingSettings/maxInboundConnections``.
    let inboundConnections: ConnectionLimiter
    let refusalLog = LogThrottle()
    private let requestIDs = Atomic<UInt64>(1)
    private let lock = Lock()
    private var inbound: [ObjectIdentifier: InboundConnection] = [:]
    private var isShutDown = false

    init(
        settings: MessagingSettings, address: SocketAddress, handlers: [UInt16: RegisteredHandler],
        metrics: MessagingMetrics, logger: Logger
    ) {
        self.settings = settings
        self.address = address
        self.handlers = handlers
        self.metrics = metrics
        inboundConnections = ConnectionLimiter(limit: settings.maxInboundConnections, limitPerHost: -1)
        var logger = logger
        logger[metadataKey: "node"] = "\(address)"
        self.logger = logger
    }

    /// A request id unique within this node's lifetime.
    func nextRequestID() -> UInt64 { requestIDs.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Records an accepted connection; false once shut down (the caller closes it).
    func register(_ connection: InboundConnection) -> Bool {
        lock.withLock {
            guard !isShutDown else { return false }
            inbound[ObjectIdentifier(connection)] = connection
            return true
        }
    }

    func unregister(_ connection: InboundConnection) {
        lock.withLock { _ = inbound.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    /// Marks the context shut down and returns the incoming connections still open.
    func shutDown() -> [InboundConnection] {
        lock.withLock {
            isShutDown = true
            defer { inbound.removeAll() }
            return Array(inbound.values)
        }
    }
}

/// A verb and the code that serves it.
struct RegisteredHandler: Sendable {
    let verb: Verb
    let body: MessageHandler
}
