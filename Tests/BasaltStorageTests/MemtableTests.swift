import BasaltCore
@testable import BasaltStorage
import Testing

@Suite("Memtable")
struct MemtableTests {
    @Test func pointLookupsScansAndFragments() throws {
        let s = TestSchemas.keyValue()
        let cmp = ClusteringComparator(s)
        let m = Memtable(id: 1, commitLogLower: .zero)
        var expected: [[UInt8]: [UInt8]] = [:]
        var g = SplitMix64(seed: 5)
        for i in 0 ..< 5000 {
            let k = Array("k\(Int.random(in: 0 ..< 3000, using: &g))".utf8)
            let v = Array("v\(i)".utf8)
            var w = ByteWriter(capacity: 64)
            StorageCodec.writePartition(PartitionUpdate(rows: [Row(clustering: [], cells: [.live(column: "value", timestamp: Int64(i), value: v)])]), &w)
            _ = k.withUnsafeBytes { kb in w.bytes.withUnsafeBytes { m.apply(token: Murmur3.token(k).value, key: kb, body: $0, minTimestamp: 0, maxTimestamp: 0, tombstones: 0, cmp) } }
            expected[k] = v
        }
        for (k, v) in expected {
            let p = try #require(try m.read(token: Murmur3.token(k).value, key: k, cmp))
            #expect(p.rows.first?.cells.first?.value == v, "key \(String(decoding: k, as: UTF8.self))")
        }
        #expect(try m.read(token: Murmur3.token([9]).value, key: [9], cmp) == nil)
        let keys = m.keys(after: nil, endToken: nil, limit: .max)
        #expect(keys.count == expected.count)
        #expect(keys.map(\.0) == keys.map(\.0).sorted())
    }
}

extension MemtableTests {
    /// Many small writes to one wide partition stay cheap to absorb and read back correctly.
    @Test func manySmallWritesToOneWidePartition() throws {
        let s = TestSchemas.wide()
        let cmp = ClusteringComparator(s)
        let m = Memtable(id: 1, commitLogLower: .zero)
        let key = TestSchemas.int32(1)
        let token = Murmur3.token(key).value
        let n = 20_000
        for i in 0 ..< n {
            var w = ByteWriter(capacity: 64)
            StorageCodec.writePartition(PartitionUpdate(rows: [Row(clustering: [TestSchemas.int32(i), Array("x".utf8)], cells: [.live(column: "a", timestamp: 1, value: TestSchemas.int32(i))])]), &w)
            _ = key.withUnsafeBytes { kb in w.bytes.withUnsafeBytes { m.apply(token: token, key: kb, body: $0, minTimestamp: 1, maxTimestamp: 1, tombstones: 0, cmp) } }
        }
        let p = try #require(try m.read(token: token, key: key, cmp))
        #expect(p.rows.count == n)
        #expect(p.rows.last?.cells.first?.value == TestSchemas.int32(n - 1))
        // The arena grows O(n log n), far below the O(n²) of re-merging everything each time.
        #expect(m.sizeBytes < 64 * n * 20)
    }
}
