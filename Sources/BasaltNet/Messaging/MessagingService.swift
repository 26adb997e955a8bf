import BasaltCore
import Logging

/// A node's internode messaging: it listens on the node's internode address, keeps one connection
/// per lane to each peer it talks to (opened on demand, reconnected with exponential backoff), and
/// carries requests, responses and one-way messages as checksummed frames (``InternodeFrameHeader``).
///
/// Peers are identified by their internode address (host and port); outgoing connections bind this
/// node's own host, so peers and per-node network rules see it. Handlers are registered per
/// ``Verb`` before ``start()``; a peer that sends a verb nobody registered is disconnected.
///
/// Threading: every public method may be called from any thread. Connections live on the loops of
/// ``group``: a peer's small and large lanes are placed on different loops when there are several.
///
/// Guarantees for requests: each completes exactly once — with the response, the remote failure,
/// ``MessagingError/timeout(peer:verb:after:)`` when its timeout passes (a loop timer), at once with
/// ``MessagingError/connectionClosed(_:reason:)`` if its connection dies first, or with
/// ``MessagingError/cancelled`` if the calling task is cancelled. Nothing waits forever.
public final class MessagingService: @unchecked Sendable {
    // @unchecked: mutable state (`phase`, `handlers`, `context`, `listener`, `channels`) is guarded
    // by `lock`; the objects it hands out are loop-bound and reached through their loops.

    public let group: EventLoopGroup
    private let ownsGroup: Bool
    private let settings: MessagingSettings
    private let baseLogger: Logger
    private let metrics = MessagingMetrics()

    private enum Phase { case configuring, running, shutDown }

    private let lock = Lock()
    private var phase = Phase.configuring
    private var handlers: [UInt16: RegisteredHandler] = [:]
    private var context: MessagingContext?
    private var listener: TCPListener?
    private var channels: [SocketAddress: PeerChannel] = [:]
    /// The context, for the listener's accept callback (which must not hold the service itself).
    private let runningContext = ContextCell()

    /// A service on `group`'s loops (the caller keeps ownership of the group).
    public init(settings: MessagingSettings, group: EventLoopGroup, logger: Logger = Logger(label: "basalt.messaging")) {
        self.settings = settings
        self.group = group
        ownsGroup = false
        baseLogger = logger
    }

    /// A service with its own group of `threads` loops, shut down with the service.
    public init(settings: MessagingSettings, threads: Int = 1, logger: Logger = Logger(label: "basalt.messaging")) {
        self.settings = settings
        group = EventLoopGroup(threads: threads, name: "messaging", logger: logger)
        ownsGroup = true
        baseLogger = logger
    }

    /// The node's internode address; after ``start()`` it carries the bound port.
    public var address: SocketAddress {
        lock.withLock { context?.address ?? settings.address }
    }

    /// The counters so far.
    public var counters: MessagingCounters {
        var c = metrics.snapshot()
        let known = lock.withLock { handlers }
        func named(_ counts: [UInt16: Int]) -> [String: Int] {
            var out: [String: Int] = [:]
            for (code, n) in counts { out[known[code]?.verb.name ?? "verb_\(code)", default: 0] += n }
            return out
        }
        c.timeoutsByVerb = named(metrics.timeoutsByVerb.snapshot())
        c.droppedByVerb = named(metrics.droppedByVerb.snapshot())
        return c
    }

    // MARK: - Handlers

    /// Serves `verb` with `handler`. Register every verb before ``start()``; registering afterwards
    /// is a programming error.
    public func register(_ verb: Verb, handler: @escaping MessageHandler) {
        lock.withLock {
            precondition(phase == .configuring, "register(\(verb)) called after start()")
            handlers[verb.code] = RegisteredHandler(verb: verb, body: handler)
        }
    }

    /// Serves `verb` with an async function whose result is the response; a thrown error becomes a
    /// failure response carrying its description. Each request runs in its own task, off the loop.
    public func registerAsync(_ verb: Verb, handler: @escaping @Sendable (InboundMessage) async throws -> [UInt8]) {
        register(verb) { message, reply in
            Task {
                do {
                    reply.reply(try await handler(message))
                } catch {
                    reply.fail("\(error)")
                }
            }
        }
    }

    // MARK: - Lifecycle

    /// Starts listening on the internode address (port 0 picks one; see ``address``).
    public func start() async throws(TCPError) {
        let handlerTable: [UInt16: RegisteredHandler] = lock.withLock {
            precondition(phase == .configuring, "start() called twice")
            return handlers
        }
        let listenLoop = group.loops[0]
        var inboundOptions = settings.tcp
        inboundOptions.tls = settings.serverTLS
        let newListener = try await TCPListener.listen(
            on: listenLoop, at: settings.address, distributeTo: group.loops.count > 1 ? group : nil,
            connectionOptions: inboundOptions, logger: baseLogger
        ) { [cell = runningContext] connection in
            guard let context = cell.context else {
                connection.close(.local("messaging service not running"))
                return
            }
            InboundConnection(context: context, connection: connection).start()
        }
        let newContext = MessagingContext(
            settings: settings, address: newListener.localAddress, handlers: handlerTable, metrics: metrics,
            logger: baseLogger)
        lock.withLock {
            context = newContext
            listener = newListener
            phase = .running
        }
        runningContext.context = newContext
        newContext.logger.info("messaging listening", metadata: ["verbs": "\(handlerTable.count)"])
    }

    /// Stops listening, closes every connection and fails every pending request with
    /// ``MessagingError/shutDown``; shuts the group down too if the service owns it.
    public func shutdown() async {
        let (oldListener, oldChannels, oldContext) = lock.withLock {
            phase = .shutDown
            defer {
                listener = nil
                channels.removeAll()
            }
            return (listener, Array(channels.values), context)
        }
        oldListener?.close()
        for channel in oldChannels {
            for lane in channel.lanes {
                lane.loop.execute { lane.shutdown() }
            }
        }
        for inbound in oldContext?.shutDown() ?? [] {
            inbound.loop.execute { inbound.close(.local("messaging service shut down")) }
        }
        // Two turns of every loop: the closes above ran, then their close callbacks.
        for loop in group.loops {
            _ = try? await loop.submit {}
            _ = try? await loop.submit {}
        }
        if ownsGroup { await group.shutdownGracefully() }
    }

    // MARK: - Peers

    /// The lane to use for `verb` and a payload of `size` bytes, or nil when not running.
    private func lane(to peer: SocketAddress, verb: Verb, size: Int) -> OutboundConnection? {
        let lane: Lane = verb.lane == .large || size > settings.largeMessageThreshold ? .large : .small
        return lock.withLock {
            guard phase == .running, let context else { return nil }
            if let channel = channels[peer] { return channel.lanes[Int(lane.rawValue)] }
            let channel = PeerChannel(
                lanes: Lane.allCases.map { OutboundConnection(context: context, peer: peer, lane: $0, loop: group.next()) })
            channels[peer] = channel
            return channel.lanes[Int(lane.rawValue)]
        }
    }

    /// Checks the size and computes the checksum on the caller's thread.
    private func prepare(
        to peer: SocketAddress, verb: Verb, payload: [UInt8], flags: InternodeFrameFlags
    ) -> Result<(OutboundConnection, OutgoingMessage), MessagingError> {
        guard payload.count <= settings.maxFrameSize else {
            return .failure(.frameTooLarge(size: payload.count, limit: settings.maxFrameSize))
        }
        guard let lane = lane(to: peer, verb: verb, size: payload.count) else { return .failure(.shutDown) }
        let id = flags.contains(.oneWay) ? 0 : lane.context.nextRequestID()
        let message = OutgoingMessage(
            flags: flags, verb: verb.code, requestID: id, payload: payload, payloadCRC: CRC32C.checksum(payload))
        return .success((lane, message))
    }

    // MARK: - Sending

    /// Sends a request and waits for its response payload. Cancelling the calling task fails the
    /// request with ``MessagingError/cancelled`` at once (a late response is discarded).
    public func request(
        to peer: SocketAddress, verb: Verb, payload: [UInt8], timeout: Duration? = nil
    ) async throws(MessagingError) -> [UInt8] {
        let (lane, message) = try prepare(to: peer, verb: verb, payload: payload, flags: []).get()
        let canceller = RequestCanceller(lane: lane, id: message.requestID)
        let timeout = timeout ?? settings.defaultTimeout
        let result = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<[UInt8], MessagingError>, Never>) in
                Self.submit(message, on: lane, timeout: timeout, canceller: canceller) { continuation.resume(returning: $0) }
            }
        } onCancel: {
            canceller.cancel()
        }
        return try result.get()
    }

    /// Callback form of ``request(to:verb:payload:timeout:)`` for hot paths: no task, no
    /// continuation. `completion` runs exactly once, on a loop of ``group`` (the lane's, except for
    /// refusals before a lane is chosen), and never from inside this call, so a completion may send
    /// the next request without recursing.
    public func request(
        to peer: SocketAddress, verb: Verb, payload: [UInt8], timeout: Duration? = nil,
        completion: @escaping @Sendable (Result<[UInt8], MessagingError>) -> Void
    ) {
        switch prepare(to: peer, verb: verb, payload: payload, flags: []) {
        case let .failure(error):
            if !group.next().execute({ completion(.failure(error)) }) { completion(.failure(error)) }
        case let .success((lane, message)):
            Self.submit(message, on: lane, timeout: timeout ?? settings.defaultTimeout, canceller: nil, completion: completion)
        }
    }

    private static func submit(
        _ message: OutgoingMessage, on lane: OutboundConnection, timeout: Duration, canceller: RequestCanceller?,
        completion: @escaping @Sendable (Result<[UInt8], MessagingError>) -> Void
    ) {
        if lane.loop.inEventLoop {
            lane.submitRequest(message, timeout: timeout, canceller: canceller, completion: completion)
        } else if !lane.loop.execute({
            lane.submitRequest(message, timeout: timeout, canceller: canceller, completion: completion)
        }) {
            completion(.failure(.shutDown))
        }
    }

    /// Sends a one-way message. Only refusals known on the calling thread are thrown; a message
    /// that cannot be delivered later is dropped (connect failures and closes are counted).
    public func send(to peer: SocketAddress, verb: Verb, payload: [UInt8]) throws(MessagingError) {
        let (lane, message) = try prepare(to: peer, verb: verb, payload: payload, flags: .oneWay).get()
        if lane.loop.inEventLoop {
            lane.submitOneWay(message)
        } else if !lane.loop.execute({ lane.submitOneWay(message) }) {
            throw .shutDown
        }
    }
}

/// The running context, readable from the accept callback on any loop.
private final class ContextCell: @unchecked Sendable {
    // @unchecked: `stored` is guarded by `lock`.
    private let lock = Lock()
    private var stored: MessagingContext?

    var context: MessagingContext? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// The lanes to one peer, indexed by ``Lane/rawValue``.
struct PeerChannel {
    let lanes: [OutboundConnection]
}
