/// Lets one log line through per interval for a repeated event and counts the ones held back, so a
/// flood (refused connections, failing writes) is visible without filling the log. Thread-safe;
/// time comes from the caller (monotonic nanoseconds of an injected ``Clock`` or a loop).
public final class LogThrottle: @unchecked Sendable {
    // @unchecked: `nextAllowed` and `suppressed` are only touched under `lock`.
    private let lock = Lock()
    private let intervalNanos: UInt64
    private var nextAllowed: UInt64 = 0
    private var suppressed = 0

    public init(interval: Duration = .seconds(10)) {
        let (s, atto) = interval.components
        intervalNanos = UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, atto) / 1_000_000_000)
    }

    /// Whether to log now: nil when held back, else how many were held back since the last line.
    public func admit(nowNanos: UInt64) -> Int? {
        lock.withLock {
            guard nowNanos >= nextAllowed else {
                suppressed += 1
                return nil
            }
            nextAllowed = nowNanos &+ intervalNanos
            defer { suppressed = 0 }
            return suppressed
        }
    }
}
