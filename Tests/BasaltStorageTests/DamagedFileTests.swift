import BasaltCore
@testable import BasaltStorage
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Damaged files")
struct DamagedFileTests {
    let schema = TestSchemas.keyValue()

    func config() -> StorageConfig {
        var c = StorageConfig()
        c.commitLogSync = .batch
        c.commitLogSegmentBytes = 64 << 10
        return c
    }

    @Test func truncatedDataFileIsNamedAndQuarantined() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        for i in 0 ..< 2000 { try e.apply(kvMutation(schema, i, value: [UInt8](repeating: UInt8(i & 0xff), count: 64))) }
        try e.flush(tableId: schema.id)
        let data = try #require(try e.sstablePaths(tableId: schema.id).first)
        e.close(flush: false)
        let size = try FileSystem.fileSize(data)
        #expect(truncate(data, off_t(size / 2)) == 0)
        let report = SSTableInspector.verify(path: data)
        #expect(!report.isIntact)
        #expect(report.errors.contains { if case let .corrupt(path, _, reason) = $0 { path == data && reason.contains("truncated") } else { false } })
        (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(e.counters.quarantinedSSTables == 1)
        try e.apply(kvMutation(schema, 1))
        #expect(try kvValue(e, schema, 1) == Array("value-1".utf8))
    }

    /// The bloom filter is written and read in pieces, checked as a whole: a flipped bit in its
    /// words, or a truncated file, quarantines the SSTable with the filter named.
    @Test(arguments: [false, true])
    func damagedBloomFilterIsNamedAndQuarantined(truncated: Bool) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        for i in 0 ..< 2000 { try e.apply(kvMutation(schema, i)) }
        try e.flush(tableId: schema.id)
        let data = try #require(try e.sstablePaths(tableId: schema.id).first)
        e.close(flush: false)
        let filter = try #require(SSTableDescriptor.parse(path: data)).0.path(.filter)
        var bytes = try FileSystem.readAll(filter)
        if truncated { bytes.removeLast(9) } else { bytes[bytes.count / 2] ^= 0x08 }
        try FileSystem.writeFile(filter, bytes)
        #expect(throws: StorageError.self) { _ = try BloomFilter.read(from: filter) }
        (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(e.counters.quarantinedSSTables == 1)
        try e.apply(kvMutation(schema, 1))
        #expect(try kvValue(e, schema, 1) == Array("value-1".utf8))
    }

    @Test func flippedByteInTheCommitLogEndsThatSegmentOnly() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        for i in 0 ..< 1500 { try e.apply(kvMutation(schema, i, value: [UInt8](repeating: 1, count: 100))) }
        e.close(flush: false)
        let logDir = dir.path + "/commitlog"
        let segments = try FileSystem.list(logDir)
        #expect(segments.count >= 3)
        // Damage a record in the middle of the first segment.
        let first = logDir + "/" + segments[0]
        var bytes = try FileSystem.readAll(first)
        bytes[bytes.count / 2] ^= 0x40
        try FileSystem.writeFile(first, bytes)
        let report: CommitLogReplayReport
        (e, report) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(report.tornTails.count == 1)
        #expect(report.tornTails.first?.path == first)
        #expect(report.replayed > 1000 && report.replayed < 1500)
        // Later segments were replayed.
        #expect(try kvValue(e, schema, 1499) != nil)
    }
}

@Suite("Truncation races")
struct TruncationRaceTests {
    /// A memtable frozen before TRUNCATE whose flush only starts afterwards must not publish.
    @Test func flushQueuedBeforeTruncateDoesNotResurrectData() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let s = TestSchemas.keyValue()
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 5_000_000)
        c.flushThreads = 1
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [s], logger: .test)
        defer { e.close() }
        let gate = ConditionLock()
        nonisolated(unsafe) var open = false
        e.flushExecutor.submit { gate.withLock { while !open { gate.wait() } } }
        for i in 0 ..< 10 { try e.apply(kvMutation(s, i)) }
        try e.forceFlush(e.table(s.id)) // queued behind the gate
        try e.truncateTable(id: s.id)
        gate.withLock { open = true; gate.broadcast() }
        e.waitForBackgroundWork()
        #expect(try kvValue(e, s, 3) == nil)
        #expect(try e.sstablePaths(tableId: s.id).isEmpty)
    }
}

@Suite("Uncompressed SSTables")
struct UncompressedTests {
    @Test func compressionOffStoresRawChunksThatReadAndVerify() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var params = TableParams()
        params.compressionEnabled = false
        params.chunkLengthKiB = 2
        let s = TestSchemas.keyValue(params: params)
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 5_000_000)
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [s], logger: .test)
        defer { e.close() }
        for i in 0 ..< 500 { try e.apply(kvMutation(s, i, value: [UInt8](repeating: 0x61, count: 200))) }
        try e.flush(tableId: s.id)
        let path = try #require(try e.sstablePaths(tableId: s.id).first)
        // Raw chunks: the data file is at least as large as the stream it holds.
        let stats = try SSTableInspector.statistics(path: path)
        #expect(try FileSystem.fileSize(path) >= stats.uncompressedSize)
        #expect(SSTableInspector.verify(path: path).isIntact)
        #expect(try kvValue(e, s, 499) == [UInt8](repeating: 0x61, count: 200))
    }
}

@Suite("SSTable robustness")
struct SSTableRobustnessTests {
    /// Random byte changes in every component, with the component checksum recomputed so that
    /// the decoders (not just the CRC checks) see the garbage: opening, reading, scanning and
    /// verifying report errors and never trap.
    @Test func corruptedComponentsWithValidChecksumsNeverTrap() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let s = TestSchemas.wide()
        let table = dir.path + "/t"
        try FileSystem.makeDirectories(table)
        let cmp = ClusteringComparator(s)
        let d = SSTableDescriptor(directory: table, generation: 1)
        let w = try SSTableWriter(descriptor: d, chunkLength: 1024, compress: true, filter: BloomFilter(expectedKeys: 50, falsePositiveRate: 0.01), rowIndexBlockBytes: 128)
        var parts: [(Int64, [UInt8], PartitionUpdate)] = []
        for k in 0 ..< 40 {
            let key = TestSchemas.int32(k)
            var u = EncodingTests.sampleMutation().update
            u.rows += (0 ..< 20).map { i in Row(clustering: [TestSchemas.int32(100 + i), Array("r".utf8)], cells: [.live(column: "a", timestamp: 3, value: TestSchemas.int32(i))]) }
            parts.append((Murmur3.token(key).value, key, u.normalized(cmp)))
        }
        parts.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1.lexicographicallyPrecedes($1.1) }
        for (t, k, u) in parts { try w.append(token: t, key: k, partition: u) }
        try w.finish(commitLogIntervals: [], createdAt: 0, level: 0)
        let originals = try SSTableDescriptor.Component.allCases.map { ($0, try FileSystem.readAll(d.path($0))) }
        var g = SplitMix64(seed: UInt64(getenv("BASALT_FUZZ_SEED").map { String(cString: $0) }.flatMap { UInt64($0) } ?? 99))
        var failures = 0
        let rounds = Int(getenv("BASALT_FUZZ_ROUNDS").map { String(cString: $0) } ?? "") ?? 300
        for _ in 0 ..< rounds {
            for (c, bytes) in originals { try FileSystem.writeFile(d.path(c), bytes) }
            let (c, original) = originals[Int.random(in: 0 ..< originals.count - 1, using: &g)]
            var bytes = original
            for _ in 0 ..< Int.random(in: 1 ..< 6, using: &g) {
                bytes[Int.random(in: 0 ..< bytes.count, using: &g)] = UInt8.random(in: 0 ... 255, using: &g)
            }
            if c != .data, bytes.count >= 4 {
                let crc = Checksum.crc32c(Array(bytes[0 ..< bytes.count - 4]))
                bytes[bytes.count - 4] = UInt8(crc & 0xff)
                bytes[bytes.count - 3] = UInt8(crc >> 8 & 0xff)
                bytes[bytes.count - 2] = UInt8(crc >> 16 & 0xff)
                bytes[bytes.count - 1] = UInt8(crc >> 24)
            }
            try FileSystem.writeFile(d.path(c), bytes)
            if !SSTableInspector.verify(path: d.path(.data)).isIntact { failures += 1 }
            guard let r = try? SSTableReader(descriptor: d, cache: nil) else { continue }
            for (_, key, _) in parts {
                _ = try? r.read(token: Murmur3.token(key).value, key: key)
                _ = try? r.read(token: Murmur3.token(key).value, key: key, slices: [ClusteringSlice(start: ClusteringBound([TestSchemas.int32(105)], inclusive: true), end: .unbounded)], cmp)
            }
            _ = try? r.keys(after: nil, endToken: nil, limit: 100)
        }
        #expect(failures > 100)
    }
}
