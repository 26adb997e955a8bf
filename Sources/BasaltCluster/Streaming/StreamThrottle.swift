/// A token bucket for outbound stream bytes (`stream_throughput_outbound`), as a pure value: time
/// comes in as monotonic nanoseconds. ``reserve(_:now:)`` takes `bytes` and says how long the caller
/// must wait before sending them so that, over any stretch of time, at most `bytesPerSecond` (plus
/// one second's burst) leave. A rate of 0 means unthrottled.
public struct StreamThrottle: Hashable, Sendable {
    public private(set) var bytesPerSecond: Int
    /// The time (ns) at which everything reserved so far may have been sent.
    private var releasedUntil: UInt64 = 0

    public init(bytesPerSecond: Int) {
        self.bytesPerSecond = max(0, bytesPerSecond)
    }

    /// Changes the rate from now on (run-time setting).
    public mutating func setRate(bytesPerSecond: Int) {
        self.bytesPerSecond = max(0, bytesPerSecond)
    }

    /// Reserves `bytes`; returns the nanoseconds to wait before sending them (0: send now).
    public mutating func reserve(_ bytes: Int, now: UInt64) -> UInt64 {
        guard bytesPerSecond > 0 else { return 0 }
        // Up to one second of unused budget may be spent at once (the burst).
        let floor = now > 1_000_000_000 ? now - 1_000_000_000 : 0
        let start = max(releasedUntil, floor)
        let cost = UInt64(Double(bytes) / Double(bytesPerSecond) * 1e9)
        releasedUntil = start + cost
        return releasedUntil > now ? releasedUntil - now : 0
    }
}
