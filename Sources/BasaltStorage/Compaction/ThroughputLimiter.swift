import BasaltCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The arithmetic of the compaction throttle (`compaction_throughput_mb_per_sec`), as a pure value:
/// a token bucket holding at most one second of budget, refilled at `bytesPerSecond`, that may go
/// into debt. Time comes in as monotonic nanoseconds. A rate of 0 means unthrottled.
///
/// Guarantee: over any stretch of `t` seconds, at most `bytesPerSecond × (t + 1)` bytes are charged
/// without the caller having been told to wait, whatever the rate changes in between.
public struct CompactionThrottle: Hashable, Sendable {
    public private(set) var bytesPerSecond: Int
    /// Budget left in bytes (negative: debt to wait off).
    private var available: Double
    private var last: UInt64

    public init(bytesPerSecond: Int, now: UInt64) {
        self.bytesPerSecond = max(0, bytesPerSecond)
        available = Double(self.bytesPerSecond)
        last = now
    }

    /// Changes the rate from `now` on (`basalt admin setcompactionthroughput`). Debt already run up is
    /// kept, so lowering the rate slows a running compaction at once and raising it shortens the wait.
    public mutating func setRate(bytesPerSecond: Int, now: UInt64) {
        refill(now)
        self.bytesPerSecond = max(0, bytesPerSecond)
        if self.bytesPerSecond == 0 { available = 0 }
        available = min(available, Double(self.bytesPerSecond))
    }

    /// Charges `bytes` written at `now`; returns the nanoseconds to wait before writing more (0: go on).
    public mutating func charge(_ bytes: Int, now: UInt64) -> UInt64 {
        guard bytesPerSecond > 0 else { return 0 }
        refill(now)
        available -= Double(bytes)
        return owed()
    }

    /// Nanoseconds still to wait at `now` for the debt run up so far (0: none).
    public mutating func wait(now: UInt64) -> UInt64 {
        guard bytesPerSecond > 0 else { return 0 }
        refill(now)
        return owed()
    }

    private func owed() -> UInt64 {
        available < 0 ? UInt64((-available / Double(bytesPerSecond) * 1e9).rounded(.up)) : 0
    }

    private mutating func refill(_ now: UInt64) {
        let elapsed = now > last ? Double(now - last) / 1e9 : 0
        last = max(last, now)
        available = min(Double(bytesPerSecond), available + elapsed * Double(bytesPerSecond))
    }
}

/// Limits compaction writes to a number of bytes per second (0: unlimited) by sleeping the writing
/// thread; shared by all compaction threads. The rate can change while compactions run: a sleeping
/// writer wakes at least every 100 ms and waits by the new rate.
final class ThroughputLimiter: Sendable {
    private let throttle: Mutex<CompactionThrottle>
    private let clock: @Sendable () -> UInt64
    private let sleep: @Sendable (UInt64) -> Void

    /// `clock` gives monotonic nanoseconds and `sleep` waits nanoseconds (injected by tests).
    init(bytesPerSecond: Int, clock: @escaping @Sendable () -> UInt64 = { SystemClock().monotonicNanos() },
         sleep: @escaping @Sendable (UInt64) -> Void = CPUPacer.sleepNanos) {
        throttle = Mutex(CompactionThrottle(bytesPerSecond: bytesPerSecond, now: clock()))
        self.clock = clock
        self.sleep = sleep
    }

    /// The current rate in bytes per second (0: unthrottled).
    var bytesPerSecond: Int { throttle.withLock { $0.bytesPerSecond } }

    func setRate(bytesPerSecond: Int) {
        let now = clock()
        throttle.withLock { $0.setRate(bytesPerSecond: bytesPerSecond, now: now) }
    }

    /// Accounts for `bytes` written, sleeping as long as needed to stay under the rate.
    func acquire(_ bytes: Int) {
        let now = clock()
        var wait = throttle.withLock { $0.charge(bytes, now: now) }
        while wait > 0 {
            sleep(min(wait, 100_000_000))
            let now = clock()
            wait = throttle.withLock { $0.wait(now: now) }
        }
    }
}

extension StorageEngine {
    /// The compaction throttle in bytes per second (0: unthrottled).
    public var compactionThroughputBytesPerSecond: Int { throughput.bytesPerSecond }

    /// Sets the compaction throttle (0: unthrottled) until restart; running compactions follow it at once.
    public func setCompactionThroughput(bytesPerSecond: Int) { throughput.setRate(bytesPerSecond: bytesPerSecond) }
}
