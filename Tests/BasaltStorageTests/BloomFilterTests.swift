import BasaltCore
@testable import BasaltStorage
import Testing

/// The bloom filter never answers "absent" for a key it holds, admits other keys at about the rate
/// it was sized for, and reads back from its file as written. (The keys are fixed, so the rates
/// measured are the same at every run.)
@Suite("Bloom filters")
struct BloomFilterTests {
    static func hash(_ i: Int, salt: UInt8) -> (UInt64, UInt64) {
        var key = [salt]
        withUnsafeBytes(of: UInt64(i).bigEndian) { key.append(contentsOf: $0) }
        return key.withUnsafeBytes { Murmur3.hash128($0) }
    }

    /// Adds `n` keys; returns the share of `probes` other keys the filter admits (after checking
    /// that it admits every added one).
    static func measuredRate(_ filter: inout BloomFilter, keys n: Int, probes: Int) -> Double {
        for i in 0 ..< n { filter.add(hash(i, salt: 1)) }
        #expect((0 ..< n).allSatisfy { filter.mightContain(hash($0, salt: 1)) }, "a key that was added must never be answered absent")
        let wrong = (0 ..< probes).count { filter.mightContain(hash($0, salt: 2)) }
        return Double(wrong) / Double(probes)
    }

    @Test(arguments: [0.1, 0.01, 0.001])
    func filtersKeepTheRateTheyWereSizedFor(rate: Double) {
        var filter = BloomFilter(expectedKeys: 40_000, falsePositiveRate: rate)
        let measured = Self.measuredRate(&filter, keys: 40_000, probes: 200_000)
        // 200,000 probes: at 0.1 % about 200 ± 14 false positives, so 1.35× the target is far outside chance.
        #expect(measured <= rate * 1.35, "measured \(measured) for a target of \(rate)")
        #expect(measured >= rate * 0.3, "measured \(measured): a filter far better than asked wastes memory")
    }

    @Test func aFilterIsReadBackAsWritten() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var filter = BloomFilter(expectedKeys: 10_000, falsePositiveRate: 0.01)
        _ = Self.measuredRate(&filter, keys: 10_000, probes: 0)
        let path = dir.path + "/Filter.db"
        try filter.write(to: path)
        let read = try BloomFilter.read(from: path)
        #expect(read.hashCount == filter.hashCount)
        #expect(read.words == filter.words)
        #expect((0 ..< 10_000).allSatisfy { read.mightContain(Self.hash($0, salt: 1)) })
    }

    @Test func anUnknownVersionIsRefusedAsCorrupt() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path + "/Filter.db"
        try BloomFilter(expectedKeys: 100, falsePositiveRate: 0.01).write(to: path)
        var bytes = try FileSystem.readAll(path)
        bytes[4] = 2
        try FileSystem.writeFile(path, bytes)
        #expect(throws: StorageError.self) { _ = try BloomFilter.read(from: path) }
    }
}
