import BasaltCore
import Logging

/// A connection a peer opened to this node: it reads requests, runs their handlers and writes the
/// responses back on the same connection. Loop-bound: every method runs on the connection's loop.
///
/// Guarantees:
/// - The first frame must be a valid ``Handshake``; until then nothing is dispatched. A connection
///   that sends none within ``MessagingSettings/handshakeTimeout`` is closed.
/// - Any bad input (a ``InternodeFrameError``, a request for a verb with no handler, a response frame, a
///   second handshake) closes this connection with a warning naming the peer; other connections are
///   unaffected.
/// - Before the handshake no frame larger than ``MessagingSettings/maxHandshakeFrameSize`` is
///   accepted; after it, none larger than ``MessagingSettings/maxFrameSize``. A frame left
///   incomplete for ``MessagingSettings/incompleteFrameTimeout`` closes the connection, and past
///   ``MessagingSettings/maxInboundConnections`` new connections are closed at accept.
/// - Backpressure: while more than ``MessagingSettings/maxOutstandingInboundRequests`` requests (or
///   ``MessagingSettings/maxOutstandingInboundBytes`` payload bytes) are unanswered, or the responses
///   queue past the write high watermark, the connection stops reading; it resumes once they fall
///   to half and the queue drains.
final class InboundConnection: @unchecked Sendable {
    // @unchecked: all mutable state is touched only on the connection's loop (asserted in debug
    // builds); ReplyToken hops there before touching it.
    // Fields marked @exclusivity(unchecked) are loop-bound and never accessed re-entrantly while
    // being mutated; their dynamic exclusivity checks cost ~10% of a small request's CPU (perf).
    let context: MessagingContext
    let connection: TCPConnection
    var loop: EventLoop { connection.loop }
    private var logger: Logger
    @exclusivity(unchecked) private var decoder: InternodeFrameDecoder
    @exclusivity(unchecked) private var handshake: Handshake?
    private var handshakeTimer: LoopTimer?
    /// Unanswered requests: id → payload bytes.
    @exclusivity(unchecked) private var outstanding: [UInt64: Int] = [:]
    @exclusivity(unchecked) private var outstandingBytes = 0
    @exclusivity(unchecked) private var pausedForBackpressure = false
    @exclusivity(unchecked) private var framesInRead = false
    private var frameClock: IncompleteFrameClock
    private var frameWatch: LoopDeadlineWatch?
    private var admitted = false
    /// The peer's socket host, the key of the connection count.
    private let host: String

    init(context: MessagingContext, connection: TCPConnection) {
        self.context = context
        self.connection = connection
        var logger = context.logger
        logger[metadataKey: "peer"] = "\(connection.remoteAddress?.description ?? "unknown")"
        self.logger = logger
        decoder = InternodeFrameDecoder(maxPayloadSize: context.settings.maxFrameSize,
                                        maxFirstPayloadSize: context.settings.maxHandshakeFrameSize)
        frameClock = IncompleteFrameClock(timeoutMillis: context.settings.incompleteFrameTimeout.loopMillis)
        host = connection.remoteAddress?.host ?? "unknown"
    }

    /// Installs the callbacks and starts reading. Loop thread only.
    func start() {
        loop.assertInEventLoop()
        if let refusal = context.inboundConnections.admit(host: host) {
            context.metrics.connectionsRefused.bump()
            if let held = context.refusalLog.admit(nowNanos: loop.nowMillis * 1_000_000) {
                logger.warning("refusing internode connection: \(context.settings.maxInboundConnections) incoming connections already open (\(refusal.rawValue))",
                               metadata: ["refused_since_last_warning": "\(held)"])
            }
            connection.close(.local("connection limit reached"))
            return
        }
        admitted = true
        guard context.register(self) else {
            context.inboundConnections.remove(host: host)
            admitted = false
            connection.close(.local("messaging service shut down"))
            return
        }
        context.metrics.connectionsAccepted.bump()
        context.metrics.connectionsActive.bump()
        connection.onRead = { chunk in self.didRead(chunk) }
        connection.onClose = { reason in self.didClose(reason) }
        connection.onWritabilityChanged = { _ in self.updateBackpressure() }
        let timeout = context.settings.handshakeTimeout
        // Strong capture (no side table on this hot object); cancelled on handshake and close.
        handshakeTimer = loop.scheduleTimer(after: timeout) {
            guard self.handshake == nil else { return }
            self.drop(because: "no handshake within \(timeout)")
        }
        if frameClock.timeoutMillis > 0 {
            frameWatch = LoopDeadlineWatch(loop: loop, deadline: { [unowned self] in frameClock.deadline }) { [unowned self] in
                context.metrics.incompleteFrameCloses.bump()
                logger.warning("closing internode connection: a frame stayed incomplete for \(context.settings.incompleteFrameTimeout)",
                               metadata: ["buffered_bytes": "\(decoder.bufferedByteCount)"])
                connection.close(.local("incomplete frame timeout"))
            }
        }
        connection.startReading()
    }

    func close(_ reason: TCPCloseReason) { connection.close(reason) }

    private func didRead(_ chunk: UnsafeRawBufferPointer) {
        context.metrics.bytesIn.bump(chunk.count)
        framesInRead = false
        do {
            try decoder.decode(chunk) { frame in
                self.framesInRead = true
                return self.didReceive(frame)
            }
        } catch {
            drop(because: error.description)
            return
        }
        if let frameWatch, connection.state == .open {
            frameClock.onDecoded(completedFrames: framesInRead, partial: decoder.isMidFrame, now: loop.nowMillis)
            frameWatch.poke()
        }
    }

    private func didReceive(_ frame: InternodeFrame) -> Bool {
        context.metrics.framesIn.bump()
        guard let handshake else { return acceptHandshake(frame) }
        if frame.flags.contains(.response) {
            drop(because:
                "response frame (verb \(frame.verb), request \(frame.requestID)) on a connection the peer opened")
            return false
        }
        guard let handler = context.handlers[frame.verb] else {
            drop(because: frame.verb == Verb.handshakeCode ? "second handshake" : "unknown verb \(frame.verb)")
            return false
        }
        let message = InboundMessage(
            verb: handler.verb, peer: handshake.sender, lane: handshake.lane, payload: frame.payload)
        if frame.flags.contains(.oneWay) {
            handler.body(message, ReplyToken(inbound: nil, requestID: frame.requestID, verb: frame.verb))
        } else {
            outstanding[frame.requestID] = frame.payload.count
            outstandingBytes += frame.payload.count
            updateBackpressure()
            handler.body(message, ReplyToken(inbound: self, requestID: frame.requestID, verb: frame.verb))
        }
        return connection.state == .open
    }

    private func acceptHandshake(_ frame: InternodeFrame) -> Bool {
        guard frame.verb == Verb.handshakeCode, frame.flags == .oneWay else {
            let flags = String(frame.flags.rawValue, radix: 16)
            drop(because: "expected a handshake, got verb \(frame.verb) with flags 0x\(flags)")
            return false
        }
        switch Handshake.decode(frame.payload) {
        case let .success(hello):
            handshake = hello
            handshakeTimer?.cancel()
            handshakeTimer = nil
            logger[metadataKey: "peer"] = "\(hello.sender)"
            logger[metadataKey: "remote"] = "\(connection.remoteAddress?.description ?? "unknown")"
            logger[metadataKey: "lane"] = "\(hello.lane)"
            logger.debug("accepted internode connection")
            return true
        case let .failure(error):
            drop(because: error.description)
            return false
        }
    }

    /// Writes a handler's response (the first for its request id; later ones are ignored).
    func respond(_ message: OutgoingMessage) {
        loop.assertInEventLoop()
        guard let bytes = outstanding.removeValue(forKey: message.requestID) else { return }
        outstandingBytes -= bytes
        guard connection.state == .open else { return }
        do {
            try connection.writeFrame(message)
            context.metrics.framesOut.bump()
            context.metrics.bytesOut.bump(message.frameSize)
        } catch {
            // The peer is not reading its responses; a gap in the stream is not an option.
            drop(because: "cannot queue response: \(error)")
            return
        }
        updateBackpressure()
    }

    private func updateBackpressure() {
        let settings = context.settings
        guard connection.state == .open else { return }
        if !pausedForBackpressure {
            if outstanding.count > settings.maxOutstandingInboundRequests
                || outstandingBytes > settings.maxOutstandingInboundBytes || !connection.isWritable
            {
                pausedForBackpressure = true
                connection.pauseReading()
                context.metrics.readPauses.bump()
                logger.debug("paused reading", metadata: [
                    "outstanding": "\(outstanding.count)", "outstanding_bytes": "\(outstandingBytes)",
                    "queued_write_bytes": "\(connection.queuedWriteBytes)",
                ])
            }
        } else if outstanding.count <= settings.maxOutstandingInboundRequests / 2
            && outstandingBytes <= settings.maxOutstandingInboundBytes / 2 && connection.isWritable
        {
            pausedForBackpressure = false
            connection.resumeReading()
        }
    }

    /// Closes the connection because the peer broke the protocol; the warning names the peer.
    private func drop(because reason: String) {
        context.metrics.badFramesDropped.bump()
        logger.warning("closing internode connection: \(reason)")
        connection.close(.local(reason))
    }

    private func didClose(_ reason: TCPCloseReason) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        frameWatch?.stop()
        if admitted { context.inboundConnections.remove(host: host) }
        outstanding.removeAll()
        outstandingBytes = 0
        context.metrics.connectionsActive.bump(-1)
        context.unregister(self)
        logger.debug("internode connection closed", metadata: ["reason": "\(reason)"])
    }
}
