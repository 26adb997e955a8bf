/// Whether a node is usable and when to try it again: a pure value driven by connection outcomes
/// and time passed in (no I/O, no clock of its own). ``NodePool`` carries out its actions.
///
/// ```
/// connecting --connected--> up --last connection lost--> down(retry after initial delay)
///     |                                                      |
///     +--connect failed--> down(retry after backoff) <-------+--retry due / UP event--> connecting
/// ```
///
/// The n-th consecutive failed attempt waits `min(maximum, initial × 2^(n-1))`; a successful
/// connect resets the count. An UP event for a down node makes the next attempt immediate and
/// resets the count too.
struct NodeHealth: Equatable {
    enum State: Equatable {
        case connecting
        case up
        /// Down; the next attempt is due at this monotonic time.
        case down(retryAt: UInt64)
        case closed
    }

    enum Action: Equatable {
        case none
        /// Open connections now.
        case connect
        /// Try again after this many nanoseconds.
        case retry(afterNanos: UInt64)
    }

    let initialDelayNanos: UInt64
    let maxDelayNanos: UInt64
    private(set) var state: State = .connecting
    private(set) var consecutiveFailures = 0

    init(initialDelayNanos: UInt64, maxDelayNanos: UInt64) {
        self.initialDelayNanos = max(1, initialDelayNanos)
        self.maxDelayNanos = max(self.initialDelayNanos, maxDelayNanos)
    }

    var isUp: Bool { state == .up }

    /// The delay after `failures` consecutive failures (≥ 1).
    func backoff(failures: Int) -> UInt64 {
        let shift = UInt64(min(max(failures - 1, 0), 40))
        let (d, overflow) = initialDelayNanos.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? maxDelayNanos : min(d, maxDelayNanos)
    }

    mutating func connected() {
        guard state != .closed else { return }
        state = .up
        consecutiveFailures = 0
    }

    mutating func connectFailed(now: UInt64) -> Action {
        guard state != .closed else { return .none }
        consecutiveFailures += 1
        let delay = backoff(failures: consecutiveFailures)
        state = .down(retryAt: now &+ delay)
        return .retry(afterNanos: delay)
    }

    /// The last open connection closed.
    mutating func allConnectionsLost(now: UInt64) -> Action {
        guard state == .up else { return .none }
        state = .down(retryAt: now &+ initialDelayNanos)
        return .retry(afterNanos: initialDelayNanos)
    }

    /// A scheduled retry's time came.
    mutating func retryDue(now: UInt64) -> Action {
        guard case let .down(at) = state, now >= at else { return .none }
        state = .connecting
        return .connect
    }

    /// The cluster says the node is up (STATUS_CHANGE UP): try it at once if down, and forget
    /// the backoff history (a failure now is retried after the initial delay).
    mutating func reportedUp() -> Action {
        guard case .down = state else { return .none }
        state = .connecting
        consecutiveFailures = 0
        return .connect
    }

    mutating func close() { state = .closed }
}
