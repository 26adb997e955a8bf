@testable import BasaltStorage
import Testing

@Suite("Compaction strategies")
struct CompactionStrategyTests {
    func c(_ g: Int, _ mib: Int, ts: Int64 = 0) -> CompactionCandidate {
        CompactionCandidate(generation: g, sizeBytes: mib << 20, maxTimestamp: ts)
    }

    @Test func sizeTieredNeedsFourSimilarSizes() {
        #expect(CompactionStrategy.sizeTiered([c(1, 100), c(2, 110), c(3, 95)], minThreshold: 4, maxThreshold: 32) == nil)
        let pick = CompactionStrategy.sizeTiered([c(1, 100), c(2, 110), c(3, 95), c(4, 120), c(5, 1000)], minThreshold: 4, maxThreshold: 32)
        #expect(Set(pick ?? []) == [1, 2, 3, 4])
        // Small SSTables share one bucket; at most maxThreshold, smallest first.
        let small = CompactionStrategy.sizeTiered((1 ... 40).map { c($0, 1) }, minThreshold: 4, maxThreshold: 32)
        #expect(small?.count == 32)
    }

    @Test func timeWindowCompactsOlderWindowsWhole() {
        let hour: Int64 = 3_600_000_000
        let tables = [c(1, 1, ts: hour), c(2, 1, ts: hour + 5), c(3, 1, ts: 5 * hour), c(4, 1, ts: 5 * hour + 1)]
        let pick = CompactionStrategy.timeWindow(tables, windowSeconds: 3600, minThreshold: 4, maxThreshold: 32)
        #expect(Set(pick ?? []) == [1, 2])
        #expect(CompactionStrategy.timeWindow([c(1, 1, ts: hour), c(3, 1, ts: 5 * hour)], windowSeconds: 3600, minThreshold: 4, maxThreshold: 32) == nil)
    }
}
