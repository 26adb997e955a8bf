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
