import BasaltCore
import Logging

/// One lane to one peer: the TCP connection this node opened, the requests awaiting responses on it,
/// and the messages held while it connects. Loop-bound: every method runs on ``loop``.
///
/// Lifecycle decisions come from ``OutboundStateMachine``; this shell performs them. Responses are
/// matched to requests by id; requests fail exactly once (see ``PendingRequest``).
final class OutboundConnection: @unchecked Sendable {
    // @unchecked: all mutable state is touched only on `loop`'s thread (asserted in debug builds).
    // Fields marked @exclusivity(unchecked) are loop-bound and never accessed re-entrantly while
    // being mutated; their dynamic exclusivity checks cost ~10% of a small request's CPU (perf).
    let context: MessagingContext
    let peer: SocketAddress
    let lane: Lane
    let loop: EventLoop
    private let logger: Logger
    @exclusivity(unchecked) private var machine: OutboundStateMachine
    @exclusivity(unchecked) private var connection: TCPConnection?
    @exclusivity(unchecked) private var decoder: InternodeFrameDecoder
    @exclusivity(unchecked) private var pending: [UInt64: PendingRequest] = [:]
    @exclusivity(unchecked) private var held: [OutgoingMessage] = []
    private var backoffTimer: LoopTimer?

    init(context: MessagingContext, peer: SocketAddress, lane: Lane, loop: EventLoop) {
        self.context = context
        self.peer = peer
        self.lane = lane
        self.loop = loop
        var logger = context.logger
        logger[metadataKey: "peer"] = "\(peer)"
        logger[metadataKey: "lane"] = "\(lane)"
        self.logger = logger
        machine = OutboundStateMachine(backoff: context.settings.reconnectBackoff)
        decoder = InternodeFrameDecoder(maxPayloadSize: context.settings.maxFrameSize)
    }

    // MARK: - Sending

    /// Sends a request and arms its timeout; `completion` runs once on this loop, never from
    /// inside this call (a refusal completes on a later loop turn, so a caller that sends again
    /// from its completion cannot recurse). A request whose task was cancelled before it got here
    /// completes as cancelled.
    func submitRequest(
        _ message: OutgoingMessage, timeout: Duration, canceller: RequestCanceller?,
        completion: @escaping (Result<[UInt8], MessagingError>) -> Void
    ) {
        loop.assertInEventLoop()
        let request = PendingRequest(id: message.requestID, verb: message.verb, timeout: timeout, owner: self, completion: completion)
        if canceller?.isCancelled == true { return request.finishLater(.failure(.cancelled)) }
        if loop.isShuttingDown { return request.finishLater(.failure(.shutDown)) }
        if pending.count >= context.settings.maxInFlightPerConnection {
            context.metrics.overloadRejections.bump()
            context.metrics.droppedByVerb.bump(message.verb)
            return request.finishLater(.failure(.overloaded(
                peer, reason: "\(pending.count) requests in flight on the \(lane) lane (limit \(context.settings.maxInFlightPerConnection))")))
        }
        // Registered first: a connect that fails synchronously fails everything pending, this too.
        pending[message.requestID] = request
        if let refusal = transmit(message) {
            pending.removeValue(forKey: message.requestID)?.finishLater(.failure(refusal))
            return
        }
        if pending[message.requestID] != nil { request.startTimer() }
    }

    /// Sends a one-way message; refusals are counted and logged, not reported.
    func submitOneWay(_ message: OutgoingMessage) {
        loop.assertInEventLoop()
        guard !loop.isShuttingDown else { return }
        if let refusal = transmit(message) {
            logger.debug("one-way message dropped", metadata: ["verb": "\(message.verb)", "reason": "\(refusal)"])
        }
    }

    /// Writes, holds or refuses `message` as the state machine says; returns the refusal, if any.
    private func transmit(_ message: OutgoingMessage) -> MessagingError? {
        switch machine.onSend() {
        case .write:
            guard let connection else { return .connectionClosed(peer, reason: "no connection") }
            return write(message, on: connection)
        case .enqueue:
            return hold(message)
        case .connectAndEnqueue:
            let refusal = hold(message)
            startConnecting()
            return refusal
        case let .rejectUnreachable(reason):
            return .peerUnreachable(peer, reason: reason)
        case .rejectShutDown:
            return .shutDown
        }
    }

    private func hold(_ message: OutgoingMessage) -> MessagingError? {
        guard held.count < context.settings.maxQueuedWhileConnecting else {
            context.metrics.overloadRejections.bump()
            context.metrics.droppedByVerb.bump(message.verb)
            return .overloaded(peer, reason: "\(held.count) messages queued while connecting")
        }
        held.append(message)
        return nil
    }

    private func write(_ message: OutgoingMessage, on connection: TCPConnection) -> MessagingError? {
        do {
            try connection.writeFrame(message)
            context.metrics.framesOut.bump()
            context.metrics.bytesOut.bump(message.frameSize)
            return nil
        } catch .writeQueueFull {
            context.metrics.overloadRejections.bump()
            context.metrics.droppedByVerb.bump(message.verb)
            return .overloaded(peer, reason: "outgoing queue on the \(lane) lane is full")
        } catch {
            return .connectionClosed(peer, reason: error.description)
        }
    }

    // MARK: - Connecting

    private func startConnecting() {
        let settings = context.settings
        let local = settings.bindOutgoingConnections ? context.address.with(port: 0) : nil
        var options = settings.tcp
        options.tls = settings.clientTLS
        TCPConnection.connect(on: loop, to: peer, bindingTo: local, options: options) { result in
            switch result {
            case let .success(connection): self.didConnect(connection)
            case let .failure(error): self.didFailToConnect(error.description)
            }
        }
    }

    private func didConnect(_ connection: TCPConnection) {
        switch machine.onConnected() {
        case .close:
            connection.close(.local("lane shut down while connecting"))
        case let .sendHandshakeAndFlush(isReconnect):
            self.connection = connection
            context.metrics.connectionsOpened.bump()
            context.metrics.connectionsActive.bump()
            if isReconnect {
                context.metrics.reconnects.bump()
                logger.info("reconnected")
            } else {
                logger.debug("connected")
            }
            connection.onRead = { chunk in self.didRead(chunk) }
            connection.onClose = { reason in self.didClose(connection, reason: reason) }
            let hello = Handshake(sender: context.address, lane: lane).encoded()
            _ = write(OutgoingMessage(
                flags: .oneWay, verb: Verb.handshakeCode, requestID: 0, payload: hello,
                payloadCRC: CRC32C.checksum(hello)), on: connection)
            let messages = held
            held.removeAll()
            for message in messages {
                // A request that timed out or was cancelled while connecting is not sent.
                if message.flags.isEmpty && pending[message.requestID] == nil { continue }
                if let refusal = write(message, on: connection), message.flags.isEmpty {
                    abandon(message.requestID, with: refusal)
                }
            }
            connection.startReading()
        }
    }

    private func didFailToConnect(_ reason: String) {
        context.metrics.connectFailures.bump()
        guard case let .failQueuedAndBackOff(delay) = machine.onConnectFailed(reason: reason) else { return }
        logger.warning("cannot connect", metadata: ["error": "\(reason)", "retry_after": "\(delay)"])
        held.removeAll()
        failAll(with: .peerUnreachable(peer, reason: reason))
        guard !loop.isShuttingDown else { return }
        // Strong capture: weak references would give this hot object a side table (slow
        // refcounting); shutdown() cancels the timer, which releases the closure.
        backoffTimer = loop.scheduleTimer(after: delay) {
            self.backoffTimer = nil
            self.machine.onBackoffElapsed()
        }
    }

    // MARK: - Receiving

    private func didRead(_ chunk: UnsafeRawBufferPointer) {
        context.metrics.bytesIn.bump(chunk.count)
        do {
            try decoder.decode(chunk) { frame in self.didReceive(frame) }
        } catch {
            dropConnection(because: error.description)
        }
    }

    private func didReceive(_ frame: InternodeFrame) -> Bool {
        context.metrics.framesIn.bump()
        guard frame.flags.contains(.response) else {
            dropConnection(because: "peer sent a request (verb \(frame.verb)) on a connection it accepted")
            return false
        }
        guard let request = pending.removeValue(forKey: frame.requestID) else {
            context.metrics.unmatchedResponses.bump()
            return true
        }
        guard request.verb == frame.verb else {
            request.finish(.failure(.connectionClosed(peer, reason: "response carried the wrong verb")))
            dropConnection(because: "response to request \(frame.requestID) has verb \(frame.verb), expected \(request.verb)")
            return false
        }
        if frame.flags.contains(.failure) {
            request.finish(.failure(.remoteFailure(peer, message: String(decoding: frame.payload, as: UTF8.self))))
        } else {
            request.finish(.success(frame.payload))
        }
        return true
    }

    /// Closes the connection after the peer broke the protocol; the log line names the peer.
    private func dropConnection(because reason: String) {
        context.metrics.badFramesDropped.bump()
        logger.warning("closing internode connection: \(reason)", metadata: [
            "remote": "\(connection?.remoteAddress?.description ?? peer.description)",
        ])
        connection?.close(.local(reason))
    }

    private func didClose(_ closed: TCPConnection, reason: TCPCloseReason) {
        guard connection === closed else { return }
        connection = nil
        decoder = InternodeFrameDecoder(maxPayloadSize: context.settings.maxFrameSize)
        context.metrics.connectionsActive.bump(-1)
        machine.onConnectionClosed()
        if !pending.isEmpty || reason != .loopShutdown {
            logger.info("internode connection closed", metadata: ["reason": "\(reason)", "failed_requests": "\(pending.count)"])
        }
        failAll(with: reason == .loopShutdown ? .shutDown : .connectionClosed(peer, reason: reason.description))
    }

    // MARK: - Completion

    /// The request's timer fired.
    func expire(_ id: UInt64) {
        guard let request = pending.removeValue(forKey: id) else { return }
        context.metrics.timeouts.bump()
        context.metrics.timeoutsByVerb.bump(request.verb)
        request.finish(.failure(.timeout(peer: peer, verb: request.verb, after: request.timeout)))
    }

    /// Fails the request if it is still pending (cancellation, shutdown, a write refused).
    func abandon(_ id: UInt64, with error: MessagingError) {
        pending.removeValue(forKey: id)?.finish(.failure(error))
    }

    /// Fails every pending request, on a later loop turn (this runs inside connect and close
    /// callbacks, possibly inside `submitRequest`).
    private func failAll(with error: MessagingError) {
        let requests = pending
        pending.removeAll()
        for request in requests.values { request.finishLater(.failure(error)) }
    }

    /// Closes the lane for good, failing everything pending.
    func shutdown() {
        loop.assertInEventLoop()
        machine.onShutdown()
        backoffTimer?.cancel()
        backoffTimer = nil
        held.removeAll()
        connection?.close(.local("messaging service shut down"))
        failAll(with: .shutDown)
    }
}
