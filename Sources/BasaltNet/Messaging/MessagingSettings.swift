/// Exponential backoff between connection attempts: after the n-th consecutive failure the next
/// attempt waits `min(maximum, initial × multiplier^(n-1))`.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double

    public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(5), multiplier: Double = 2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
    }

    /// The wait after `failures` consecutive failed attempts (failures ≥ 1).
    public func delay(afterFailures failures: Int) -> Duration {
        var delay = initial
        var n = 1
        while n < failures && delay < maximum {
            delay = delay * multiplier
            n += 1
        }
        return min(delay, maximum)
    }
}

/// Settings of a ``MessagingService``. Every queue has a limit and a defined behaviour when full.
public struct MessagingSettings: Sendable {
    /// The node's internode address: where it listens (port 0 picks one; see
    /// ``MessagingService/address``) and, with ``bindOutgoingConnections``, the source address of
    /// its outgoing connections, so peers and per-node network rules see this address.
    public var address: SocketAddress
    /// Bind outgoing connections to ``address``'s host.
    public var bindOutgoingConnections = true
    /// Largest payload sent or accepted. A larger outgoing message fails with
    /// ``MessagingError/frameTooLarge(size:limit:)``; a larger incoming frame closes the connection.
    public var maxFrameSize = 16 << 20
    /// Messages with a larger payload use the large lane whatever their verb says.
    public var largeMessageThreshold = 64 << 10
    /// Timeout of requests that do not give one.
    public var defaultTimeout: Duration = .seconds(10)
    /// Requests awaiting a response on one lane to one peer; past it requests fail with
    /// ``MessagingError/overloaded(_:reason:)``.
    public var maxInFlightPerConnection = 16_384
    /// Messages held while a lane connects; past it, ``MessagingError/overloaded(_:reason:)``.
    public var maxQueuedWhileConnecting = 4096
    /// Delay between reconnect attempts to a peer that could not be reached.
    public var reconnectBackoff = Backoff()
    /// Requests received on one connection and not yet answered above which the connection stops
    /// reading (backpressure); it resumes below half.
    public var maxOutstandingInboundRequests = 4096
    /// Payload bytes of requests received and not yet answered above which reading stops.
    public var maxOutstandingInboundBytes = 64 << 20
    /// An accepted connection that sends no handshake within this time is closed.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Largest payload accepted before the handshake: the handshake's own size bound, so a peer that
    /// has not identified itself cannot make the node buffer a large frame.
    public var maxHandshakeFrameSize = 1024
    /// Incoming connections open at once; past it new ones are closed at accept (a throttled
    /// warning, ``MessagingCounters/connectionsRefused``). 0 or less is no cap. Each peer opens two.
    public var maxInboundConnections = 1024
    /// An incoming connection whose current frame stays incomplete this long is closed; zero turns
    /// the check off.
    public var incompleteFrameTimeout: Duration = .seconds(60)
    /// Socket options and the per-connection write queue limits.
    public var tcp = TCPOptions()
    /// TLS on connections peers open to this node (a server context; with a required peer
    /// certificate, peers must show one signed by its truststore), or nil for plain text.
    public var serverTLS: TLSContext?
    /// TLS on connections this node opens to peers (a client context that checks the peer's
    /// certificate against its truststore), or nil for plain text.
    public var clientTLS: TLSContext?

    public init(address: SocketAddress) {
        self.address = address
    }
}
