import BasaltNet
import Logging
import Synchronization

/// The admin endpoint: a small HTTP/1.1 server on the node's address (`admin_port`, 7199 by default)
/// answering ``AdminRoutes``, one request per connection.
///
/// Bounded: at most ``maxConnections`` open connections (more are closed at once), a request head
/// of at most 8 KiB (431 beyond), and ``requestTimeout`` to send it (408 then; 10 s unless given). Bad requests are
/// answered with a 4xx status and the connection closed; nothing a client sends can stop the node.
public final class AdminServer: Sendable {
    public static let maxConnections = 64

    public let loop: EventLoop
    /// How long a client has from connecting to sending its whole request head.
    public let requestTimeout: Duration
    private let routes: AdminRoutes
    private let logger: Logger
    private let listenerBox = Mutex<TCPListener?>(nil)
    private let open = Atomic<Int>(0)

    public init(loop: EventLoop, routes: AdminRoutes, logger: Logger, requestTimeout: Duration = .seconds(10)) {
        self.loop = loop
        self.requestTimeout = requestTimeout
        self.routes = routes
        self.logger = logger
    }

    /// Starts listening on `address`; returns the bound address (port 0 picks one).
    public func start(at address: SocketAddress) async throws(TCPError) -> SocketAddress {
        let listener = try await TCPListener.listen(on: loop, at: address, logger: logger) { [self] connection in
            accept(connection)
        }
        listenerBox.withLock { $0 = listener }
        logger.info("admin endpoint listening", metadata: ["address": "\(listener.localAddress)"])
        return listener.localAddress
    }

    /// Stops accepting; connections in progress finish on their own.
    public func stop() {
        let listener = listenerBox.withLock { l in
            defer { l = nil }
            return l
        }
        listener?.close()
    }

    private func accept(_ connection: TCPConnection) {
        guard open.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxConnections else {
            open.wrappingSubtract(1, ordering: .relaxed)
            connection.close(.local("too many admin connections"))
            return
        }
        AdminConnection(connection: connection, routes: routes, logger: logger, requestTimeout: requestTimeout) { [self] in
            open.wrappingSubtract(1, ordering: .relaxed)
        }.start()
    }
}

/// One admin connection: reads a request head, answers it, closes. Loop-bound.
private final class AdminConnection: @unchecked Sendable {
    // @unchecked: every field is touched only on `connection.loop` (callbacks run there).
    let connection: TCPConnection
    let routes: AdminRoutes
    let logger: Logger
    let requestTimeout: Duration
    let onFinish: @Sendable () -> Void
    var parser = HTTPRequestParser()
    var timer: LoopTimer?
    var answered = false

    init(connection: TCPConnection, routes: AdminRoutes, logger: Logger, requestTimeout: Duration,
         onFinish: @escaping @Sendable () -> Void) {
        self.connection = connection
        self.routes = routes
        self.logger = logger
        self.requestTimeout = requestTimeout
        self.onFinish = onFinish
    }

    func start() {
        connection.onRead = { [self] bytes in received(bytes) }
        connection.onClose = { [self] _ in
            timer?.cancel()
            timer = nil
            connection.onRead = nil
            onFinish()
        }
        timer = connection.loop.scheduleTimer(after: requestTimeout) { [self] in
            respond(.error(408, "no complete request within \(requestTimeout)"), head: false)
        }
        connection.startReading()
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        guard !answered else { return }
        switch parser.feed(bytes) {
        case .needMore:
            return
        case let .rejected(status, reason):
            logger.debug("bad admin request", metadata: ["remote": "\(connection.peerDescription)", "reason": "\(reason)"])
            respond(.error(status, reason), head: false)
        case let .request(request):
            switch routes.answer(request) {
            case let .now(response):
                respond(response, head: request.method == "HEAD")
            case let .later(handler):
                // The work may outlast the request timeout: it applies to receiving the request only.
                timer?.cancel()
                timer = nil
                connection.pauseReading()
                let loop = connection.loop
                Task { [self] in
                    let response = await handler(request)
                    loop.execute { [self] in respond(response, head: request.method == "HEAD") }
                }
            }
        }
    }

    private func respond(_ response: HTTPResponse, head: Bool) {
        guard !answered else { return }
        answered = true
        timer?.cancel()
        timer = nil
        connection.pauseReading()
        do {
            try connection.write(response.encoded(omitBody: head))
            connection.close(.local("response sent"), flushFirst: true)
        } catch {
            connection.close(.local("admin response not sent: \(error)"))
        }
    }
}
