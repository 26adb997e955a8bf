import BasaltProtocol
import BasaltCore

/// Why a request or a connection attempt failed. Every case names the node involved (its native
/// address, `host:port`) so a caller can tell a server's refusal from a network problem.
///
/// Server refusals keep the protocol's typed error: ``server(_:node:)`` carries the ``CQLError``
/// (Unavailable with its required/alive counts, WriteTimeout with its write type, Syntax,
/// Invalid, …); ``cqlError`` extracts it.
public enum ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The server answered with an ERROR.
    case server(CQLError, node: String)
    /// A TCP connection to the node could not be opened (refused, unreachable, timed out).
    case connectionFailed(node: String, reason: String)
    /// The connection closed while the request was outstanding, or was not open; the request may
    /// or may not have been executed.
    case connectionClosed(node: String, reason: String)
    /// No response within the request timeout; the request may or may not have been executed.
    case timeout(node: String, after: Duration)
    /// Every connection to the node already has its maximum of requests in flight.
    case tooManyInFlight(node: String, limit: Int)
    /// Every node the request could go to was down or refused it; what each one said.
    case noHostAvailable([NodeFailure])
    /// The server sent something the client cannot use (an unexpected response, a malformed frame).
    case protocolViolation(node: String, reason: String)
    /// The STARTUP/authentication exchange failed.
    case handshakeFailed(node: String, reason: String)
    /// A bound value does not match its marker's type, or the wrong number of values was given.
    case invalidValue(String)
    /// The session is closed.
    case sessionClosed

    /// One node's part of a ``noHostAvailable(_:)``.
    public struct NodeFailure: Hashable, Sendable, CustomStringConvertible {
        public var node: String
        public var reason: String
        public init(node: String, reason: String) {
            self.node = node
            self.reason = reason
        }
        public var description: String { "\(node): \(reason)" }
    }

    /// The server's typed error, when the server answered with one.
    public var cqlError: CQLError? {
        if case let .server(e, _) = self { return e }
        return nil
    }

    public var description: String {
        switch self {
        case let .server(e, node): "\(node) answered \(e)"
        case let .connectionFailed(node, reason): "cannot connect to \(node): \(reason)"
        case let .connectionClosed(node, reason): "connection to \(node) closed: \(reason)"
        case let .timeout(node, after): "no response from \(node) within \(after)"
        case let .tooManyInFlight(node, limit): "every connection to \(node) has \(limit) requests in flight"
        case let .noHostAvailable(failures):
            failures.isEmpty ? "no node available" : "no node available: " + failures.map(\.description).joined(separator: "; ")
        case let .protocolViolation(node, reason): "protocol violation from \(node): \(reason)"
        case let .handshakeFailed(node, reason): "handshake with \(node) failed: \(reason)"
        case let .invalidValue(reason): "invalid value: \(reason)"
        case .sessionClosed: "the session is closed"
        }
    }
}
