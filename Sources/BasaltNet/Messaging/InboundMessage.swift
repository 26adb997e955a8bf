import BasaltCore

/// Serves one verb: called on the loop of the connection the request arrived on, with the message and
/// the token to answer it through. Handlers must not block the loop: hand slow work to another
/// thread and reply from there (``ReplyToken`` is Sendable).
public typealias MessageHandler = @Sendable (InboundMessage, ReplyToken) -> Void

/// A request or one-way message received from a peer.
public struct InboundMessage: Sendable {
    public let verb: Verb
    /// The sender's internode address (from its handshake).
    public let peer: SocketAddress
    public let lane: Lane
    public let payload: [UInt8]
}

/// Answers one request, from any thread, at any time, in any order relative to other requests on
/// the same connection.
///
/// Reply once: the first ``reply(_:)`` or ``fail(_:)`` is sent and later ones are ignored. A reply
/// after the connection closed is dropped (the requester has already failed the request). For a
/// one-way message ``expectsReply`` is false and replying does nothing.
///
/// A token keeps its connection object alive; drop it once answered (a handler that stores tokens
/// in state it captures forms a cycle until it lets them go). Every request must be answered or
/// failed: unanswered requests count against the connection's backpressure limits.
public struct ReplyToken: Sendable {
    let inbound: InboundConnection?
    let requestID: UInt64
    let verb: UInt16

    /// False for one-way messages.
    public var expectsReply: Bool { inbound != nil }

    /// Sends `payload` as the response.
    public func reply(_ payload: [UInt8]) { respond(payload, failure: false) }

    /// Sends a failure response; the requester's call fails with
    /// ``MessagingError/remoteFailure(_:message:)`` carrying `message`.
    public func fail(_ message: String) { respond(Array(message.utf8), failure: true) }

    private func respond(_ payload: [UInt8], failure: Bool) {
        guard let inbound else { return }
        let limit = inbound.context.settings.maxFrameSize
        var payload = payload
        var flags: InternodeFrameFlags = failure ? [.response, .failure] : .response
        if payload.count > limit {
            payload = Array("response of \(payload.count) bytes exceeds the frame limit of \(limit)".utf8)
            flags = [.response, .failure]
        }
        let message = OutgoingMessage(
            flags: flags, verb: verb, requestID: requestID, payload: payload, payloadCRC: CRC32C.checksum(payload))
        if inbound.loop.inEventLoop {
            inbound.respond(message)
        } else {
            inbound.loop.execute { inbound.respond(message) }
        }
    }
}
