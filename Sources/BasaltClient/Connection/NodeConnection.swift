import BasaltProtocol
import BasaltCore
import BasaltNet
import Logging
import Synchronization

/// One native-protocol connection to one node, multiplexing many requests by stream id.
///
/// Threading: the connection lives on ``loop``. ``send(_:timeout:completion:)`` and ``close(_:)``
/// may be called from any thread (they hop to the loop); completions and event handlers always
/// run on the loop, never inside the call that sent the request (a refusal completes on a later
/// loop turn), so a completion may send the next request without recursing.
///
/// Guarantees: every request completes exactly once — with its response frame, or with a
/// ``ClientError``: `tooManyInFlight` when every stream id is taken, `timeout` after its
/// deadline (checked every ``sweepInterval``), `connectionClosed` when the connection closes
/// first. Responses are matched by stream in any order; late answers to timed-out requests are
/// dropped. When more than half the stream ids are held by timed-out requests the connection is
/// closed (the pool reopens one). Nothing blocks the loop: frames are only cut and matched here;
/// the completion decides where a body is decoded.
final class NodeConnection: @unchecked Sendable {
    // @unchecked: `decoder`, `requests`, `sweepTimer`, `closeError`, `closeHandlers` and
    // `eventHandler` are touched only on `loop`'s thread (asserted in debug builds); the entry
    // points callable from other threads hop there with `execute`. `load` and `openFlag` are
    // atomics, readable anywhere.

    typealias Completion = @Sendable (Result<Frame, ClientError>) -> Void

    struct Waiter {
        var completion: Completion
        var timeout: Duration
    }

    /// How often deadlines are checked: a timeout fires at most this late.
    static let sweepInterval: Duration = .milliseconds(50)

    /// The node's native address, `host:port`, as errors name it.
    let node: String
    let loop: EventLoop
    /// The most requests that can be outstanding (stream ids). Any thread.
    let capacity: Int
    let logger: Logger
    private let tcp: TCPConnection
    private let clock = SystemClock()
    private var decoder = FrameDecoder(side: .client)
    private var requests: InFlightRequests<Waiter>
    private var sweepTimer: LoopTimer?
    private var closeError: ClientError?
    private var closeHandlers: [@Sendable (ClientError) -> Void] = []
    private var eventHandler: (@Sendable (ProtocolEvent) -> Void)?
    private let load = Atomic<Int>(0)
    private let openFlag = Atomic<Bool>(true)

    private init(node: String, tcp: TCPConnection, maxInFlight: Int, logger: Logger) {
        self.node = node
        self.tcp = tcp
        loop = tcp.loop
        requests = InFlightRequests(capacity: maxInFlight)
        capacity = requests.capacity
        self.logger = logger
    }

    /// Requests waiting for a response (not counting timed-out ones). Any thread.
    var inFlight: Int { load.load(ordering: .relaxed) }
    /// False once the connection has closed (or started closing). Any thread.
    var isOpen: Bool { openFlag.load(ordering: .relaxed) }

    /// Opens a TCP connection to `address` on `loop` and starts reading; no handshake yet.
    static func connect(to address: SocketAddress, on loop: EventLoop, bindingTo local: SocketAddress?, maxInFlight: Int,
                        connectTimeout: Duration, tls: TLSContext? = nil, logger: Logger) async throws(ClientError) -> NodeConnection {
        var options = TCPOptions()
        options.connectTimeout = connectTimeout
        options.tls = tls
        let tcp: TCPConnection
        do {
            tcp = try await TCPConnection.connect(on: loop, to: address, bindingTo: local, options: options)
        } catch {
            throw .connectionFailed(node: address.description, reason: error.description)
        }
        let connection = NodeConnection(node: address.description, tcp: tcp, maxInFlight: maxInFlight, logger: logger)
        let started: Bool = await withCheckedContinuation { continuation in
            let accepted = loop.execute { continuation.resume(returning: connection.startOnLoop()) }
            if !accepted { continuation.resume(returning: false) }
        }
        guard started else { throw .connectionFailed(node: address.description, reason: "closed before it could be used") }
        return connection
    }

    private func startOnLoop() -> Bool {
        loop.assertInEventLoop()
        guard tcp.state == .open else {
            openFlag.store(false, ordering: .relaxed)
            return false
        }
        tcp.onRead = { [self] chunk in didRead(chunk) }
        tcp.onClose = { [self] reason in didClose(reason) }
        tcp.startReading()
        sweepTimer = loop.scheduleRepeatingTimer(every: Self.sweepInterval) { [self] in sweep() }
        return true
    }

    /// Calls `handler` once when the connection closes, with the error requests failed with (at
    /// once if it is closed already). On the loop.
    func onClose(_ handler: @escaping @Sendable (ClientError) -> Void) {
        let scheduled = onLoop {
            if let closeError = self.closeError { handler(closeError) } else { self.closeHandlers.append(handler) }
        }
        if !scheduled { handler(.connectionClosed(node: node, reason: "event loop shut down")) }
    }

    /// Server events (stream -1) go to `handler`, on the loop.
    func onEvent(_ handler: @escaping @Sendable (ProtocolEvent) -> Void) {
        onLoop { self.eventHandler = handler }
    }

    // MARK: - Sending

    /// Sends `request`; `completion` runs on the loop with the response frame or the error.
    func send(_ request: EncodedRequest, timeout: Duration, completion: @escaping Completion) {
        if loop.inEventLoop {
            sendOnLoop(request, timeout: timeout, completion: completion)
        } else if !loop.execute({ self.sendOnLoop(request, timeout: timeout, completion: completion) }) {
            completion(.failure(.connectionClosed(node: node, reason: "event loop shut down")))
        }
    }

    private func sendOnLoop(_ request: EncodedRequest, timeout: Duration, completion: @escaping Completion) {
        loop.assertInEventLoop()
        if let closeError { return refuse(closeError, completion) }
        let deadline = clock.monotonicNanos() &+ timeout.wholeNanoseconds
        guard let stream = requests.start(Waiter(completion: completion, timeout: timeout), deadline: deadline) else {
            return refuse(.tooManyInFlight(node: node, limit: capacity), completion)
        }
        do {
            try tcp.write(byteCount: request.bytes.count) { request.write(into: $0, stream: stream) }
        } catch {
            _ = requests.complete(stream)
            refuse(.connectionClosed(node: node, reason: error.description), completion)
            if case .writeQueueFull = error { close(.connectionClosed(node: node, reason: error.description)) }
            return
        }
        load.store(requests.waitingCount, ordering: .relaxed)
    }

    /// Completes a refused request on a later loop turn.
    private func refuse(_ error: ClientError, _ completion: @escaping Completion) {
        if !loop.execute({ completion(.failure(error)) }) { completion(.failure(error)) }
    }

    /// Sends `request` and returns the decoded response; an ERROR response is thrown as
    /// ``ClientError/server(_:node:)``. For the handshake and the control plane.
    func request(_ request: Request, timeout: Duration) async throws(ClientError) -> Response {
        let encoded = EncodedRequest(request)
        let result: Result<Frame, ClientError> = await withCheckedContinuation { continuation in
            send(encoded, timeout: timeout) { continuation.resume(returning: $0) }
        }
        let response = try ResponseDecoding.decode(try result.get(), node: node).response
        if case let .error(e) = response { throw .server(e, node: node) }
        return response
    }

    // MARK: - Receiving

    private func didRead(_ chunk: UnsafeRawBufferPointer) {
        decoder.append(chunk)
        while true {
            let frame: Frame
            do {
                guard let next = try decoder.next() else { return }
                frame = next
            } catch {
                let failure = ClientError.protocolViolation(node: node, reason: error.description)
                if error.isFatal {
                    close(failure)
                    return
                }
                if let waiter = requests.complete(error.stream) {
                    load.store(requests.waitingCount, ordering: .relaxed)
                    waiter.completion(.failure(failure))
                }
                continue
            }
            let stream = frame.header.stream
            if stream < 0 {
                deliverEvent(frame)
            } else if let waiter = requests.complete(stream) {
                load.store(requests.waitingCount, ordering: .relaxed)
                waiter.completion(.success(frame))
            }
        }
    }

    private func deliverEvent(_ frame: Frame) {
        guard let eventHandler else { return }
        do {
            if case let .event(e) = try ResponseFrame.decode(frame, compression: nil).response { eventHandler(e) }
        } catch {
            logger.warning("undecodable event", metadata: ["node": "\(node)", "error": "\(error)"])
        }
    }

    private func sweep() {
        let expired = requests.expire(now: clock.monotonicNanos())
        guard !expired.isEmpty else { return }
        load.store(requests.waitingCount, ordering: .relaxed)
        for waiter in expired { waiter.completion(.failure(.timeout(node: node, after: waiter.timeout))) }
        if requests.orphanedCount > requests.capacity / 2 {
            close(.connectionClosed(node: node, reason: "\(requests.orphanedCount) requests timed out without an answer"))
        }
    }

    // MARK: - Closing

    /// Closes the connection; outstanding requests fail with `error`. Any thread.
    func close(_ error: ClientError) {
        onLoop {
            guard self.closeError == nil else { return }
            self.closeError = error
            self.openFlag.store(false, ordering: .relaxed)
            self.tcp.close(.local(error.description))
        }
    }

    private func didClose(_ reason: TCPCloseReason) {
        let error = closeError ?? .connectionClosed(node: node, reason: reason.description)
        closeError = error
        openFlag.store(false, ordering: .relaxed)
        sweepTimer?.cancel()
        sweepTimer = nil
        let waiters = requests.failAll()
        load.store(0, ordering: .relaxed)
        for waiter in waiters { waiter.completion(.failure(error)) }
        let handlers = closeHandlers
        closeHandlers = []
        eventHandler = nil
        for handler in handlers { handler(error) }
    }

    /// Runs `body` on the loop (now, when already there); false if the loop is shut down.
    @discardableResult
    private func onLoop(_ body: @escaping @Sendable () -> Void) -> Bool {
        if loop.inEventLoop {
            body()
            return true
        }
        return loop.execute(body)
    }
}
