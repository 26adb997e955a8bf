import BasaltCore
@testable import BasaltStorage
import Testing

/// Seeks (token scans from a position) that skip SSTables by their token-prefix index return exactly
/// what reading every SSTable's index returns.
@Suite struct SeekIndexTests {
    let schema = TestSchemas.keyValue()

    @Test func boundIsALowerBoundOfTheFirstTokenAtOrAfter() {
        let bucket: Int64 = 1 << 32
        let tokens: [Int64] = [-5 * bucket - 7, -5 * bucket + 3, 17, bucket + 1, 9 * bucket + 5]
        let index = TokenPrefixIndex(prefixes: tokens.map(TokenPrefixIndex.prefix))
        var probes: [Int64] = [.min, .max]
        for t in tokens {
            let around: [Int64] = [t - bucket, t - 1, t, t + 1, t + bucket]
            probes += around
        }
        for probe in probes {
            guard let first = tokens.first(where: { $0 >= probe }) else {
                // Nothing there: said outright, or left to the index when the probe's bucket has tokens.
                let b = index.bound(from: probe)
                #expect(b == .none || b == .atLeast(probe), "probe \(probe): \(b)")
                continue
            }
            guard case let .atLeast(b) = index.bound(from: probe) else {
                Issue.record("probe \(probe): no bound, first token \(first)")
                continue
            }
            #expect(b >= probe && b <= first, "probe \(probe): bound \(b), first token \(first)")
        }
        #expect(TokenPrefixIndex(prefixes: []).bound(from: 0) == .none)
    }

    /// Six SSTables with overlapping keys and a memtable; every seek with page sizes 1 and 5 is
    /// compared with the keys sorted by (token, key), with the prefix indexes and without them.
    @Test(arguments: [128 << 20, 0])
    func seeksMatchAFullMergeWithManySSTables(budget: Int) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 5_000_000)
        c.automaticCompaction = false
        c.seekIndexBytesLimit = budget
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        defer { e.close() }
        var rng = SplitMix64(seed: 42)
        var written = Set<Int>()
        for _ in 0 ..< 6 {
            for _ in 0 ..< 150 {
                let i = Int(rng.next() % 1500)
                written.insert(i)
                try e.apply(kvMutation(schema, i))
            }
            try e.flush(tableId: schema.id)
        }
        for _ in 0 ..< 50 {
            let i = Int(rng.next() % 1500)
            written.insert(i)
            try e.apply(kvMutation(schema, i))
        }
        #expect(e.counters.liveSSTables == 6)
        #expect(budget == 0 ? e.counters.seekIndexBytes == 0 : e.counters.seekIndexBytes > 0)
        let all = written.map { Array("key-\($0)".utf8) }
            .map { (Murmur3.token($0).value, $0) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1.lexicographicallyPrecedes($1.1) }
        for probe in 0 ..< 400 {
            // Half the seeks start just before an existing key's token, half anywhere.
            let t: Int64 = probe % 2 == 0 ? all[Int(rng.next() % UInt64(all.count))].0 &- 1 : Int64(bitPattern: rng.next())
            for pageSize in [1, 5] {
                let page = try e.scan(TokenScanCommand(schema: schema, range: TokenRange(start: .min, end: .min),
                                                       after: ScanPosition(token: Token(t), partitionKey: []), pageSize: pageSize, nowSeconds: 1))
                let expected = all.filter { $0.0 > t || ($0.0 == t && !$0.1.isEmpty) }.prefix(pageSize).map(\.1)
                #expect(page.partitions.map(\.partitionKey) == Array(expected), "seek after token \(t), page \(pageSize)")
            }
        }
    }
}
