import BasaltCore
@testable import BasaltStorage
import Testing

/// Seeks (token scans from a position) that skip SSTables by their token-prefix index return exactly
/// what reading every SSTable's index returns.
@Suite struct SeekIndexTests {
    let schema = TestSchemas.keyValue()

    static func index(_ tokens: [Int64], expected: Int? = nil) -> TokenPrefixIndex {
        var b = TokenPrefixIndex.Builder(expectedPartitions: expected ?? tokens.count)
        for t in tokens {
            let appended = b.append(t)
            #expect(appended)
        }
        return b.finish()
    }

    /// The first of the sorted `tokens` at or after `probe` (after it when `strictly`).
    static func first(_ tokens: [Int64], from probe: Int64, strictly: Bool = false) -> Int64? {
        var lo = 0, hi = tokens.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if tokens[mid] < probe || (strictly && tokens[mid] == probe) { lo = mid + 1 } else { hi = mid }
        }
        return lo < tokens.count ? tokens[lo] : nil
    }

    /// Checks `bound` against the sorted tokens for each probe: a lower bound of the first token at
    /// or after the probe, above the probe whenever the index can tell, `.none` only past the end.
    static func checkBounds(_ index: TokenPrefixIndex, _ tokens: [Int64], probes: [Int64]) {
        for probe in probes {
            let b = index.bound(from: probe)
            guard let first = first(tokens, from: probe) else {
                // Nothing there: said outright, or left to the index when the probe shares its top bits.
                #expect(b == .none || b == .atLeast(probe), "probe \(probe): \(b)")
                continue
            }
            guard case let .atLeast(bound) = b else {
                Issue.record("probe \(probe): no bound, first token \(first)")
                continue
            }
            #expect(bound >= probe && bound <= first, "probe \(probe): bound \(bound), first token \(first)")
        }
    }

    @Test func boundIsALowerBoundOfTheFirstTokenAtOrAfter() {
        let bucket: Int64 = 1 << 32
        let tokens: [Int64] = [.min, -5 * bucket - 7, -5 * bucket + 3, 17, 17, bucket + 1, 9 * bucket + 5, .max]
        var probes: [Int64] = [.min, .max]
        for t in tokens {
            probes += [t &- bucket, t &- 1, t, t &+ 1, t &+ bucket]
        }
        Self.checkBounds(Self.index(tokens), tokens, probes: probes)
        Self.checkBounds(Self.index(Array(tokens.dropFirst().dropLast())), Array(tokens.dropFirst().dropLast()), probes: probes)
        #expect(Self.index([]).bound(from: 0) == .none)
    }

    /// Random tokens at the sizes of small and large SSTables, with estimates of the partition
    /// count far too low and too high: every probe gets a true bound, and almost every probe
    /// between two tokens a bound above it (two bytes a partition keep at least 27 bits).
    @Test(arguments: [(1, 1), (100, 100), (5_000, 5_000), (200_000, 200_000), (20_000, 0), (20_000, 1_000_000)])
    func randomTokensAndProbes(count: Int, expected: Int) {
        var rng = SplitMix64(seed: UInt64(count * 31 + expected))
        let tokens = (0 ..< count).map { _ in Int64(bitPattern: rng.next()) }.sorted()
        let index = Self.index(tokens, expected: expected)
        #expect(index.count == count)
        var probes = (0 ..< 2_000).map { _ in Int64(bitPattern: rng.next()) }
        probes += tokens.prefix(500).flatMap { [$0, $0 &- 1, $0 &+ 1] }
        Self.checkBounds(index, tokens, probes: probes.sorted())
        if expected == count {
            #expect(index.memoryBytes <= count * 2 + 64 + count / 8 + 16)
            // Probes strictly between two tokens: the bound passes the probe nearly always.
            var passed = 0, between = 0
            for p in probes.prefix(2_000) where Self.first(tokens, from: p) != p {
                guard let first = Self.first(tokens, from: p, strictly: true) else { continue }
                between += 1
                if case let .atLeast(b) = index.bound(from: p), b > p, b <= first { passed += 1 }
            }
            #expect(passed * 100 >= between * 95, "\(passed) of \(between)")
        }
    }

    @Test func tokensOutOfOrderAreRefused() {
        var b = TokenPrefixIndex.Builder(expectedPartitions: 4)
        let first = b.append(5), second = b.append(4)
        #expect(first && !second)
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
        // Nothing sought the table yet: no SSTable holds a seek index.
        #expect(e.counters.seekIndexBytes == 0)
        func sortedKeys() -> [(Int64, [UInt8])] {
            written.map { Array("key-\($0)".utf8) }
                .map { (Murmur3.token($0).value, $0) }
                .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1.lexicographicallyPrecedes($1.1) }
        }
        var all = sortedKeys()
        func checkSeeks(_ count: Int) throws {
            for probe in 0 ..< count {
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
        // The first seeks read every SSTable's index and have the seek indexes built.
        try checkSeeks(20)
        e.waitForBackgroundWork()
        #expect(budget == 0 ? e.counters.seekIndexBytes == 0 : e.counters.seekIndexBytes > 0)
        #expect(try e.table(schema.id).view.sstables.allSatisfy { ($0.prefixIndex != nil) == (budget > 0) })
        try checkSeeks(400)
        // A flush of a sought table gives its SSTable a seek index at once.
        for i in 2000 ..< 2100 {
            written.insert(i)
            try e.apply(kvMutation(schema, i))
        }
        try e.flush(tableId: schema.id)
        #expect(try e.table(schema.id).view.sstables.allSatisfy { ($0.prefixIndex != nil) == (budget > 0) })
        all = sortedKeys()
        try checkSeeks(100)
        // A compaction's output gets its bloom filter and seek index once the inputs are gone; the
        // inputs' go.
        let before = e.counters.seekIndexBytes
        try e.compact(tableId: schema.id)
        #expect(e.counters.liveSSTables == 1)
        #expect(try e.table(schema.id).view.sstables.allSatisfy(\.hasBloomFilter))
        if budget > 0 {
            #expect(e.counters.seekIndexBytes > 0 && e.counters.seekIndexBytes < before)
            #expect(try e.table(schema.id).view.sstables.allSatisfy { $0.prefixIndex != nil })
        } else {
            #expect(e.counters.seekIndexBytes == 0)
        }
        try checkSeeks(100)
    }
}
