/// Why a TCP operation failed. Every case names the address involved.
public enum TCPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not an IP literal (or `localhost`).
    case invalidAddress(String)
    case bindFailed(address: String, reason: String)
    case listenFailed(address: String, reason: String)
    case connectFailed(address: String, reason: String)
    /// A write would take the connection's outgoing queue past its limit; nothing was queued.
    case writeQueueFull(peer: String, queued: Int, adding: Int, limit: Int)
    /// The connection is closing or closed.
    case notOpen(peer: String)
    /// The loop is shutting down; no new connection or listener can be opened on it.
    case loopShutDown

    public var description: String {
        switch self {
        case let .invalidAddress(text): "invalid address '\(text)': expected an IP literal"
        case let .bindFailed(address, reason): "cannot bind \(address): \(reason)"
        case let .listenFailed(address, reason): "cannot listen on \(address): \(reason)"
        case let .connectFailed(address, reason): "cannot connect to \(address): \(reason)"
        case let .writeQueueFull(peer, queued, adding, limit):
            "write queue to \(peer) full: \(queued) bytes queued, \(adding) more would pass the limit of \(limit)"
        case let .notOpen(peer): "connection to \(peer) is closed"
        case .loopShutDown: "event loop is shut down"
        }
    }
}

/// Why a connection closed, as given to ``TCPConnection/onClose``.
public enum TCPCloseReason: Sendable, Equatable, CustomStringConvertible {
    /// This side closed it, for the reason given.
    case local(String)
    /// The peer closed its side (end of stream).
    case remoteClosed
    /// A read or write failed (reset, broken pipe, …).
    case error(String)
    /// The owning event loop shut down.
    case loopShutdown

    public var description: String {
        switch self {
        case let .local(reason): "closed locally: \(reason)"
        case .remoteClosed: "closed by peer"
        case let .error(reason): "connection error: \(reason)"
        case .loopShutdown: "event loop shut down"
        }
    }
}

/// Settings of one connection.
public struct TCPOptions: Sendable {
    /// Disable Nagle's algorithm (small frames go out at once; writes are batched per loop iteration
    /// anyway).
    public var noDelay = true
    /// TCP keep-alive probe delay, or nil for none.
    public var keepAliveSeconds: UInt32? = 60
    /// Bytes that may wait to be written (buffered plus handed to the kernel but not completed).
    /// A write that would pass it fails with ``TCPError/writeQueueFull(peer:queued:adding:limit:)``.
    public var maxQueuedWriteBytes = 64 << 20
    /// Above this many queued bytes the connection reports itself unwritable
    /// (``TCPConnection/onWritabilityChanged``); producers should pause.
    public var writeHighWatermark = 4 << 20
    /// Back under this many queued bytes it reports itself writable again.
    public var writeLowWatermark = 1 << 20
    /// How long an outgoing connect may take before it fails.
    public var connectTimeout: Duration = .seconds(10)
    /// TLS over the stream, or nil for plain text: a server context on accepted connections, a client
    /// context on connections opened (TCPConnection+TLS.swift).
    public var tls: TLSContext?

    public init() {}
}
