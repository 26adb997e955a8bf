/// The φ accrual failure detector: instead of a yes/no verdict it keeps, per peer, a suspicion level
/// φ that grows the longer a heartbeat is overdue, and convicts a peer when φ passes a threshold.
///
/// Follows N. Hayashibara, X. Défago, R. Yared, T. Katayama, "The φ Accrual Failure Detector",
/// SRDS 2004 (φ = −log10 P_later(t), t = time since the last heartbeat), with Cassandra's choices
/// (`FailureDetector` / `ArrivalWindow`, CASSANDRA-2597): inter-arrival times are modelled as
/// exponentially distributed, so `P_later(t) = e^(−t/mean)` and `φ = t / (mean · ln 10)`; the mean is
/// taken over a bounded window of the last `windowSize` intervals; the first arrival records an
/// initial guess (`initialIntervalNanos`, twice the gossip interval) rather than an interval; an
/// interval longer than `maxIntervalNanos` (a partition, a pause) is not recorded, so that the
/// detector does not learn to tolerate outages; and if the detector itself was not run for
/// `maxLocalPauseNanos` (this process stalled), nobody is convicted until that much time has passed
/// again, since the silence was ours.
///
/// Time is a monotonic nanosecond count passed in by the caller; nothing here reads a clock.
public struct PhiAccrualDetector<Peer: Hashable & Sendable>: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Convict when φ exceeds this (Cassandra's `phi_convict_threshold`, default 8).
        public var threshold: Double
        /// Inter-arrival times kept per peer.
        public var windowSize: Int
        /// Recorded as the first interval of a new peer.
        public var initialIntervalNanos: UInt64
        /// Longer intervals are not recorded.
        public var maxIntervalNanos: UInt64
        /// A gap this long between two rounds of checks is a local pause.
        public var maxLocalPauseNanos: UInt64

        public init(threshold: Double = 8, windowSize: Int = 1000, initialIntervalNanos: UInt64 = 2_000_000_000,
                    maxIntervalNanos: UInt64 = 2_000_000_000, maxLocalPauseNanos: UInt64 = 5_000_000_000) {
            self.threshold = threshold
            self.windowSize = max(1, windowSize)
            self.initialIntervalNanos = initialIntervalNanos
            self.maxIntervalNanos = maxIntervalNanos
            self.maxLocalPauseNanos = maxLocalPauseNanos
        }
    }

    /// One peer's recent inter-arrival times: a ring buffer with a running sum.
    struct ArrivalWindow: Sendable {
        var intervals: [UInt64] = []
        var next = 0
        var sum: UInt64 = 0
        var lastArrival: UInt64

        mutating func add(_ interval: UInt64, capacity: Int) {
            if intervals.count < capacity {
                intervals.append(interval)
            } else {
                sum -= intervals[next]
                intervals[next] = interval
                next = (next + 1) % capacity
            }
            sum += interval
        }

        var mean: Double { intervals.isEmpty ? 0 : Double(sum) / Double(intervals.count) }
    }

    public let settings: Settings
    private var windows: [Peer: ArrivalWindow] = [:]
    private var lastRound: UInt64?
    private var pausedAt: UInt64?

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// A heartbeat from `peer` arrived at `now`.
    public mutating func report(_ peer: Peer, at now: UInt64) {
        guard var w = windows[peer] else {
            var w = ArrivalWindow(lastArrival: now)
            w.add(settings.initialIntervalNanos, capacity: settings.windowSize)
            windows[peer] = w
            return
        }
        if now >= w.lastArrival {
            let interval = now - w.lastArrival
            if interval <= settings.maxIntervalNanos {
                w.add(interval, capacity: settings.windowSize)
            }
            w.lastArrival = now
        }
        windows[peer] = w
    }

    /// φ for `peer` at `now`, on the scale of `threshold`; nil for a peer never reported.
    public func phi(_ peer: Peer, at now: UInt64) -> Double? {
        guard let w = windows[peer], w.mean > 0 else { return nil }
        let t = now >= w.lastArrival ? Double(now - w.lastArrival) : 0
        return t / (w.mean * 2.302585092994046)
    }

    /// Mean inter-arrival time of `peer` in nanoseconds; nil for a peer never reported.
    public func meanIntervalNanos(_ peer: Peer) -> Double? { windows[peer]?.mean }

    /// Forgets everything about `peer` (it restarted, or left): its next heartbeat starts afresh.
    public mutating func remove(_ peer: Peer) { windows[peer] = nil }

    /// One round of checks at `now`: the peers among `candidates` whose φ exceeds the threshold.
    /// Empty while recovering from a local pause (see the type's documentation).
    public mutating func convicted(among candidates: some Sequence<Peer>, at now: UInt64) -> [Peer] {
        defer { lastRound = now }
        if let last = lastRound, now > last, now - last > settings.maxLocalPauseNanos {
            pausedAt = now
            return []
        }
        if let p = pausedAt, now >= p, now - p < settings.maxLocalPauseNanos { return [] }
        return candidates.filter { (phi($0, at: now) ?? 0) > settings.threshold }
    }
}
