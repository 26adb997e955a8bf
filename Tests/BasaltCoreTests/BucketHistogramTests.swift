import BasaltCore
import Testing

@Suite("BucketHistogram")
struct HistogramTests {
    @Test func observationsLandInTheFirstBucketAtOrAboveThem() {
        let h = BucketHistogram(upperBounds: [10, 100, 1000])
        for v: UInt64 in [0, 10, 11, 100, 999, 1000, 1001, 50_000] { h.record(v) }
        let s = h.snapshot()
        #expect(s.bucketCounts == [2, 2, 2, 2])
        #expect(s.count == 8)
        #expect(s.sum == 0 + 10 + 11 + 100 + 999 + 1000 + 1001 + 50_000)
        #expect(s.quantileUpperBound(0.25) == 10)
        #expect(s.quantileUpperBound(0.5) == 100)
        #expect(s.quantileUpperBound(1) == .max)
        #expect(BucketHistogram(upperBounds: [1]).snapshot().quantileUpperBound(0.5) == nil)
    }

    @Test func latencyBucketsAreAscendingFromTenMicrosecondsToTenSeconds() {
        let h = BucketHistogram.latency()
        #expect(h.upperBounds.first == 10_000 && h.upperBounds.last == 10_000_000_000)
        #expect(zip(h.upperBounds, h.upperBounds.dropFirst()).allSatisfy { $0 < $1 })
        h.recordElapsed(since: 5_000_000, now: 7_000_000)
        h.recordElapsed(since: 9, now: 3)
        #expect(h.snapshot().quantileUpperBound(1) == 2_500_000)
        #expect(h.snapshot().count == 2)
    }

    @Test func concurrentRecordersLoseNothing() async {
        let h = BucketHistogram.latency()
        await withTaskGroup(of: Void.self) { g in
            for t in 0 ..< 4 {
                g.addTask { for i in 0 ..< 10_000 { h.record(UInt64((i * 7919 + t) % 20_000_000)) } }
            }
        }
        #expect(h.snapshot().count == 40_000)
    }
}
