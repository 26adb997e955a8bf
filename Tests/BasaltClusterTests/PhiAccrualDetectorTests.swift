import Testing
@testable import BasaltCluster

struct PhiAccrualDetectorTests {
    let second: UInt64 = 1_000_000_000

    @Test func phiIsElapsedOverMeanTimesLn10() {
        var d = PhiAccrualDetector<String>()
        var t: UInt64 = 10 * second
        d.report("a", at: t)                   // records the 2 s initial guess
        for _ in 0 ..< 9 {
            t += second
            d.report("a", at: t)                // nine 1 s intervals
        }
        let mean = (2.0 + 9.0) / 10.0 * 1e9
        #expect(d.meanIntervalNanos("a") == mean)
        let phi = d.phi("a", at: t + 5 * second)!
        #expect(abs(phi - 5e9 / (mean * 2.302585092994046)) < 1e-9)
        #expect(d.phi("nobody", at: t) == nil)
    }

    @Test func convictsOnlyPastTheThreshold() {
        var d = PhiAccrualDetector<String>()
        var t: UInt64 = 0
        for _ in 0 ..< 1200 {
            t += second
            d.report("a", at: t)
        }
        // The window holds the last 1000 intervals, all 1 s: conviction after 8 · ln 10 ≈ 18.42 s.
        #expect(d.meanIntervalNanos("a") == 1e9)
        var convictedAt: UInt64?
        var now = t
        while convictedAt == nil && now < t + 60 * second {
            now += second / 10
            if d.convicted(among: ["a"], at: now) == ["a"] { convictedAt = now }
        }
        #expect(convictedAt == t + 18_500_000_000)
    }

    @Test func longIntervalsAreNotLearned() {
        var d = PhiAccrualDetector<String>()
        d.report("a", at: 1 * second)
        d.report("a", at: 2 * second)
        d.report("a", at: 30 * second)          // 28 s outage: not recorded
        #expect(d.meanIntervalNanos("a") == 1.5e9)
        d.report("a", at: 31 * second)
        #expect(abs(d.meanIntervalNanos("a")! - 4e9 / 3) < 1)
    }

    @Test func windowIsBounded() {
        var d = PhiAccrualDetector<String>(settings: .init(windowSize: 4))
        d.report("a", at: 0)
        for i in 1 ... 4 { d.report("a", at: UInt64(i) * second / 2) }
        #expect(d.meanIntervalNanos("a") == 0.5e9)   // the 2 s guess has been pushed out
    }

    @Test func localPauseSuppressesConviction() {
        var d = PhiAccrualDetector<String>()
        for i in 1 ... 20 { d.report("a", at: UInt64(i) * second) }
        #expect(d.convicted(among: ["a"], at: 21 * second).isEmpty)
        // This process stalls for 60 s: silence was ours, nobody is convicted for the next 5 s.
        #expect(d.convicted(among: ["a"], at: 81 * second).isEmpty)
        #expect(d.convicted(among: ["a"], at: 82 * second).isEmpty)
        #expect(d.convicted(among: ["a"], at: 85 * second).isEmpty)
        #expect(d.convicted(among: ["a"], at: 86 * second) == ["a"])
    }

    @Test func removeForgetsHistory() {
        var d = PhiAccrualDetector<String>()
        d.report("a", at: second)
        d.remove("a")
        #expect(d.phi("a", at: 100 * second) == nil)
    }
}
