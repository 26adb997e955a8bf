import BasaltCore
@testable import BasaltStorage
import Synchronization
import Testing

/// The compaction throttle (`compaction_throughput_mb_per_sec`, `basalt admin setcompactionthroughput`)
/// on a manual clock: its arithmetic, the limiter's sleeps, and rate changes reaching a writer that
/// is already waiting.
@Suite("Compaction throttle")
struct CompactionThrottleTests {
    static let second: UInt64 = 1_000_000_000

    /// A monotonic clock that only moves when the limiter sleeps (or a test moves it).
    final class ManualTime: Sendable {
        let now = Atomic<UInt64>(1_000 * CompactionThrottleTests.second)
        let slept = Atomic<UInt64>(0)
        /// Runs once per sleep, after the clock moved (to change the rate mid-wait).
        let onSleep: (@Sendable (UInt64) -> Void)?

        init(onSleep: (@Sendable (UInt64) -> Void)? = nil) { self.onSleep = onSleep }

        func read() -> UInt64 { now.load(ordering: .relaxed) }
        func sleep(_ ns: UInt64) {
            now.add(ns, ordering: .relaxed)
            let total = slept.add(ns, ordering: .relaxed).newValue
            onSleep?(total)
        }
    }

    @Test func zeroIsUnthrottled() {
        var t = CompactionThrottle(bytesPerSecond: 0, now: 0)
        for i in 0 ..< 100 { #expect(t.charge(1 << 30, now: UInt64(i)) == 0) }
    }

    @Test func oneSecondOfBurstThenTheRate() {
        var t = CompactionThrottle(bytesPerSecond: 1 << 20, now: 0)
        #expect(t.charge(1 << 20, now: 0) == 0)
        #expect(t.charge(1 << 20, now: 0) == Self.second)
        // Half a second later half the debt is paid.
        #expect(t.wait(now: Self.second / 2) == Self.second / 2)
        #expect(t.wait(now: Self.second) == 0)
        // Idle time refills at most one second's budget.
        #expect(t.charge(1 << 20, now: 100 * Self.second) == 0)
        #expect(t.charge(1 << 19, now: 100 * Self.second) == Self.second / 2)
    }

    /// Whatever the mix of write sizes and pauses, bytes let through without waiting over a stretch of
    /// `t` seconds stay within `rate × (t + 1)`.
    @Test func neverMoreThanTheRatePlusOneSecond() {
        var rng = SplitMix64(seed: 7)
        let rate = 3 << 20
        var throttle = CompactionThrottle(bytesPerSecond: rate, now: 0)
        var now: UInt64 = 0
        var written = 0
        for _ in 0 ..< 2_000 {
            let bytes = 1 + Int(rng.next() % UInt64(512 << 10))
            now += throttle.charge(bytes, now: now)
            written += bytes
            now += rng.next() % (Self.second / 50)
            let allowed = Double(rate) * (Double(now) / 1e9 + 1)
            #expect(Double(written) <= allowed + 1)
        }
    }

    @Test func theLimiterSleepsToTheRate() {
        let time = ManualTime()
        let limiter = ThroughputLimiter(bytesPerSecond: 2 << 20, clock: { time.read() }, sleep: { time.sleep($0) })
        for _ in 0 ..< 160 { limiter.acquire(64 << 10) } // 10 MiB: 2 MiB of burst, then 4 s at 2 MiB/s
        let slept = Double(time.slept.load(ordering: .relaxed)) / 1e9
        #expect(slept >= 4 && slept < 4.01, "slept \(slept) s")
    }

    @Test func unthrottlingReachesAWaitingWriter() {
        let box = Mutex<ThroughputLimiter?>(nil)
        // The operator sets 0 once the writer has waited 300 ms of its 9-second debt.
        let time = ManualTime { total in
            if total >= 300_000_000 { box.withLock { $0 }?.setRate(bytesPerSecond: 0) }
        }
        let limiter = ThroughputLimiter(bytesPerSecond: 1 << 20, clock: { time.read() }, sleep: { time.sleep($0) })
        box.withLock { $0 = limiter }
        limiter.acquire(10 << 20)
        #expect(time.slept.load(ordering: .relaxed) == 300_000_000)
        #expect(limiter.bytesPerSecond == 0)
    }

    @Test func raisingTheRateShortensAWait() {
        let box = Mutex<ThroughputLimiter?>(nil)
        let time = ManualTime { total in
            if total == 1_000_000_000 { box.withLock { $0 }?.setRate(bytesPerSecond: 8 << 20) }
        }
        let limiter = ThroughputLimiter(bytesPerSecond: 1 << 20, clock: { time.read() }, sleep: { time.sleep($0) })
        box.withLock { $0 = limiter }
        limiter.acquire(10 << 20) // 9 s owed at 1 MiB/s; after 1 s, 8 MiB/s pays the remaining 8 MiB in 1 s
        let slept = time.slept.load(ordering: .relaxed)
        #expect(slept < 3 * Self.second, "slept \(Double(slept) / 1e9) s")
    }
}
