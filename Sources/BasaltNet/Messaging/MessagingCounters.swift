import Synchronization

/// A snapshot of a ``MessagingService``'s counters since it started.
public struct MessagingCounters: Sendable, Equatable {
    public var bytesIn = 0
    public var bytesOut = 0
    public var framesIn = 0
    public var framesOut = 0
    /// Outgoing connections established (first connects and reconnects).
    public var connectionsOpened = 0
    /// Incoming connections accepted.
    public var connectionsAccepted = 0
    /// Connections currently open, both directions.
    public var connectionsActive = 0
    /// Outgoing connections re-established after an earlier one to the same peer and lane closed.
    public var reconnects = 0
    /// Connect attempts that failed.
    public var connectFailures = 0
    /// Requests that timed out waiting for their response.
    public var timeouts = 0
    /// Connections closed because the peer sent bytes that are not valid frames (garbage, checksum
    /// mismatch, oversize length, unknown version, flags or verb).
    public var badFramesDropped = 0
    /// Responses that matched no pending request (it had timed out or been cancelled).
    public var unmatchedResponses = 0
    /// Times an incoming connection stopped reading because its queue passed its limit.
    public var readPauses = 0
    /// Messages refused with ``MessagingError/overloaded(_:reason:)``.
    public var overloadRejections = 0
    /// Incoming connections closed at accept because ``MessagingSettings/maxInboundConnections`` were open.
    public var connectionsRefused = 0
    /// Incoming connections closed because a frame stayed incomplete past
    /// ``MessagingSettings/incompleteFrameTimeout``.
    public var incompleteFrameCloses = 0
    /// Requests that timed out, by verb name (`verb_N` for a code this node does not serve).
    public var timeoutsByVerb: [String: Int] = [:]
    /// Messages dropped before they were sent (refused as overloaded), by verb name.
    public var droppedByVerb: [String: Int] = [:]
}

/// The live counters: relaxed atomics, bumped on the loops and read by ``snapshot()``.
final class MessagingMetrics: Sendable {
    let bytesIn = Atomic<Int>(0)
    let bytesOut = Atomic<Int>(0)
    let framesIn = Atomic<Int>(0)
    let framesOut = Atomic<Int>(0)
    let connectionsOpened = Atomic<Int>(0)
    let connectionsAccepted = Atomic<Int>(0)
    let connectionsActive = Atomic<Int>(0)
    let reconnects = Atomic<Int>(0)
    let connectFailures = Atomic<Int>(0)
    let timeouts = Atomic<Int>(0)
    let badFramesDropped = Atomic<Int>(0)
    let unmatchedResponses = Atomic<Int>(0)
    let readPauses = Atomic<Int>(0)
    let overloadRejections = Atomic<Int>(0)
    let connectionsRefused = Atomic<Int>(0)
    let incompleteFrameCloses = Atomic<Int>(0)
    let timeoutsByVerb = VerbCounts()
    let droppedByVerb = VerbCounts()

    func snapshot() -> MessagingCounters {
        var c = MessagingCounters()
        c.bytesIn = bytesIn.load(ordering: .relaxed)
        c.bytesOut = bytesOut.load(ordering: .relaxed)
        c.framesIn = framesIn.load(ordering: .relaxed)
        c.framesOut = framesOut.load(ordering: .relaxed)
        c.connectionsOpened = connectionsOpened.load(ordering: .relaxed)
        c.connectionsAccepted = connectionsAccepted.load(ordering: .relaxed)
        c.connectionsActive = connectionsActive.load(ordering: .relaxed)
        c.reconnects = reconnects.load(ordering: .relaxed)
        c.connectFailures = connectFailures.load(ordering: .relaxed)
        c.timeouts = timeouts.load(ordering: .relaxed)
        c.badFramesDropped = badFramesDropped.load(ordering: .relaxed)
        c.unmatchedResponses = unmatchedResponses.load(ordering: .relaxed)
        c.readPauses = readPauses.load(ordering: .relaxed)
        c.overloadRejections = overloadRejections.load(ordering: .relaxed)
        c.connectionsRefused = connectionsRefused.load(ordering: .relaxed)
        c.incompleteFrameCloses = incompleteFrameCloses.load(ordering: .relaxed)
        return c
    }
}

extension Atomic where Value == Int {
    /// Relaxed increment.
    @inline(__always)
    public func bump(_ by: Int = 1) { wrappingAdd(by, ordering: .relaxed) }
}
