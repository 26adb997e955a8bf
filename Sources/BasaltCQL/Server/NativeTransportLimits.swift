import BasaltCore
import BasaltNet
import BasaltProtocol
import Logging
import Synchronization

/// The native transport's limits (Cassandra's `native_transport_*` settings): what a client may
/// make the node hold, and how long a half-sent frame or an idle connection may stay open.
public struct NativeTransportLimits: Sendable, Hashable {
    /// Largest frame body accepted; a header announcing more is answered with a protocol error and
    /// the connection is closed, before any of the body is read (`native_transport_max_frame_size`).
    public var maxFrameSize = 16 << 20
    /// Bytes of requests held at once over every connection: frames still arriving plus requests
    /// executing (`native_transport_max_request_data_in_flight`); 0 or less is no limit.
    public var maxRequestBytesInFlight = 64 << 20
    /// The same per client address (`native_transport_max_request_data_in_flight_per_ip`).
    public var maxRequestBytesInFlightPerHost = 16 << 20
    /// Over a byte limit: false stops reading the connection until bytes are released; true answers
    /// complete requests with Overloaded instead (`native_transport_throw_on_overload`). A frame
    /// still arriving always pauses its connection: there is nothing to answer yet.
    public var throwOnOverload = false
    /// Open connections at most; -1 (or 0) is no limit (`native_transport_max_concurrent_connections`).
    public var maxConnections = -1
    /// Open connections per client address at most; -1 is no limit
    /// (`native_transport_max_concurrent_connections_per_ip`).
    public var maxConnectionsPerHost = -1
    /// A connection whose current frame has been incomplete this long is closed
    /// (`native_transport_incomplete_frame_timeout`); zero turns the check off.
    public var incompleteFrameTimeout: Duration = .seconds(60)
    /// A connection with no traffic and no request running for this long is closed
    /// (`native_transport_idle_timeout`); zero (the default) keeps idle connections open.
    public var idleTimeout: Duration = .zero

    public init() {}
}

/// What the native transport did about its limits, for metrics.
public struct NativeTransportCounters: Sendable, Hashable {
    /// Client connections open now.
    public var connections = 0
    /// Connections refused at accept, by reason.
    public var refused: [ConnectionRefusal: Int] = [:]
    /// Bytes of requests held now (arriving frames and executing requests).
    public var bytesInFlight = 0
    /// Times a connection stopped reading because a byte limit was reached.
    public var readPauses = 0
    /// Requests answered Overloaded (``NativeTransportLimits/throwOnOverload``).
    public var overloaded = 0
    /// Connections closed because a frame stayed incomplete past the timeout.
    public var incompleteFrameCloses = 0
    /// Connections closed for being idle.
    public var idleCloses = 0
    /// Frame headers announcing a body over the maximum frame size.
    public var framesTooLarge = 0
}

/// What every connection of one ``NativeServer`` shares: the limits, the byte and connection
/// accounting, counters and throttled warnings.
final class NativeTransportShared: Sendable {
    let limits: NativeTransportLimits
    let bytes: InFlightBytesLimiter
    let connections: ConnectionLimiter
    let overloaded = Atomic<Int>(0)
    let incompleteFrameCloses = Atomic<Int>(0)
    let idleCloses = Atomic<Int>(0)
    let framesTooLarge = Atomic<Int>(0)
    let refusalLog = LogThrottle()
    let overloadLog = LogThrottle()

    init(limits: NativeTransportLimits) {
        self.limits = limits
        bytes = InFlightBytesLimiter(limit: limits.maxRequestBytesInFlight, limitPerHost: limits.maxRequestBytesInFlightPerHost)
        connections = ConnectionLimiter(limit: limits.maxConnections, limitPerHost: limits.maxConnectionsPerHost)
    }

    var counters: NativeTransportCounters {
        var c = NativeTransportCounters()
        c.connections = connections.open
        c.refused = connections.refused
        c.bytesInFlight = bytes.snapshot.total
        c.readPauses = bytes.pauses
        c.overloaded = overloaded.load(ordering: .relaxed)
        c.incompleteFrameCloses = incompleteFrameCloses.load(ordering: .relaxed)
        c.idleCloses = idleCloses.load(ordering: .relaxed)
        c.framesTooLarge = framesTooLarge.load(ordering: .relaxed)
        return c
    }
}

extension Opcode {
    /// QUERY, PREPARE, EXECUTE and BATCH: the requests that run statements (and count as requests
    /// in flight).
    var isStatement: Bool {
        switch self {
        case .query, .prepare, .execute, .batch: true
        default: false
        }
    }
}
