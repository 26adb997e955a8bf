/// Why a message could not be delivered or answered. Every case that involves a peer names it.
public enum MessagingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No response arrived within the request's timeout.
    case timeout(peer: SocketAddress, verb: UInt16, after: Duration)
    /// The peer could not be connected to (the connect failed, or failed recently and the
    /// connection is backing off before the next attempt).
    case peerUnreachable(SocketAddress, reason: String)
    /// The payload is larger than ``MessagingSettings/maxFrameSize``; nothing was sent.
    case frameTooLarge(size: Int, limit: Int)
    /// The connection the request went out on closed before its response arrived.
    case connectionClosed(SocketAddress, reason: String)
    /// The remote handler reported a failure (the response carried the failure flag and this
    /// message).
    case remoteFailure(SocketAddress, message: String)
    /// Too many requests are in flight to this peer, or its outgoing queue is full.
    case overloaded(SocketAddress, reason: String)
    /// The caller's task was cancelled.
    case cancelled
    /// The messaging service (or its event loop) is shut down or not started.
    case shutDown

    public var description: String {
        switch self {
        case let .timeout(peer, verb, after): "request (verb \(verb)) to \(peer) timed out after \(after)"
        case let .peerUnreachable(peer, reason): "peer \(peer) unreachable: \(reason)"
        case let .frameTooLarge(size, limit): "message of \(size) bytes exceeds the frame limit of \(limit)"
        case let .connectionClosed(peer, reason): "connection to \(peer) closed: \(reason)"
        case let .remoteFailure(peer, message): "peer \(peer) failed the request: \(message)"
        case let .overloaded(peer, reason): "overloaded sending to \(peer): \(reason)"
        case .cancelled: "request cancelled"
        case .shutDown: "messaging service is shut down"
        }
    }
}
