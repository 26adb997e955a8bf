import BasaltCore
@testable import BasaltStorage
import Testing
#if canImport(Glibc)
import Glibc
#endif

func kvMutation(_ schema: TableSchema, _ i: Int, ts: Int64 = 1, value: [UInt8]? = nil) -> Mutation {
    let v = value ?? Array("value-\(i)".utf8)
    return Mutation(schema: schema, partitionKey: Array("key-\(i)".utf8),
                    update: PartitionUpdate(rows: [Row(clustering: [], liveness: LivenessInfo(timestamp: ts), cells: [.live(column: "value", timestamp: ts, value: v)])]))
}

func kvValue(_ e: StorageEngine, _ schema: TableSchema, _ i: Int) throws -> [UInt8]? {
    let r = try e.read(ReadCommand(schema: schema, partitionKey: Array("key-\(i)".utf8), nowSeconds: 1))
    return r.live(now: 1, ClusteringComparator(schema)).rows.first?.cells.first?.value
}

@Suite("Storage engine")
struct EngineTests {
    let schema = TestSchemas.keyValue()

    func config(_ mode: CommitLogSyncMode = .batch) -> StorageConfig {
        var c = StorageConfig()
        c.commitLogSync = mode
        c.memtableSizeLimitBytes = 64 << 10
        c.commitLogSegmentBytes = 64 << 10
        return c
    }

    @Test func writesSurviveRestartWithAndWithoutFlush() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(.periodic(intervalNanos: 10_000_000)), tables: [schema], logger: .test)
        for i in 0 ..< 2000 { try e.apply(kvMutation(schema, i)) }
        e.close(flush: true)
        (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        for i in 2000 ..< 2500 { try e.apply(kvMutation(schema, i)) }
        e.close(flush: false)
        let report: CommitLogReplayReport
        (e, report) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(report.replayed > 0 && report.replayed + report.alreadyFlushed == 500)
        #expect(report.tornTails.isEmpty)
        for i in [0, 999, 1999, 2000, 2499] { #expect(try kvValue(e, schema, i) == Array("value-\(i)".utf8)) }
        #expect(e.counters.liveSSTables >= 1)
    }

    @Test func tornCommitLogTailStopsReplayCleanly() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        for i in 0 ..< 20 { try e.apply(kvMutation(schema, i)) }
        e.close(flush: false)
        let logDir = dir.path + "/commitlog"
        let segment = try FileSystem.list(logDir).last!
        let path = logDir + "/" + segment
        let size = try FileSystem.fileSize(path)
        #expect(truncate(path, off_t(size - 5)) == 0)
        let report: CommitLogReplayReport
        (e, report) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(report.replayed == 19)
        #expect(report.tornTails.count == 1)
        #expect(report.tornTails.first?.path == path)
        #expect(try kvValue(e, schema, 18) == Array("value-18".utf8))
        #expect(try kvValue(e, schema, 19) == nil)
        // The torn segment was replayed and removed; new writes go to a fresh one.
        try e.apply(kvMutation(schema, 19))
        #expect(try kvValue(e, schema, 19) == Array("value-19".utf8))
    }

    @Test func commitLogSegmentsAreDeletedOnceFlushed() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = config(.periodic(intervalNanos: 5_000_000))
        c.memtableSizeLimitBytes = 64 << 20
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        defer { e.close() }
        for i in 0 ..< 3000 { try e.apply(kvMutation(schema, i, value: [UInt8](repeating: 7, count: 100))) }
        let live = e.commitLogSegmentIds.count
        #expect(live > 3)
        try e.flushAll()
        // Give the sync thread a moment to close the last written segment.
        for _ in 0 ..< 100 where e.commitLogSegmentIds.count > 2 { usleep(20_000); try e.flushAll() }
        #expect(e.commitLogSegmentIds.count <= 2)
        let files = try FileSystem.list(dir.path + "/commitlog")
        #expect(files.filter { $0.hasSuffix(".log") }.count <= 2)
        // Full-sized ones are kept to be written over as later segments, not deleted: no more than
        // the log had live (and a zero-filled one perhaps under way).
        let kept = files.filter { $0.hasPrefix(CommitLogSegmentFormat.preallocatedPrefix) }
        #expect(kept.count <= live + 1, "\(files)")
        #expect(files.count == files.filter { $0.hasSuffix(".log") }.count + kept.count, "\(files)")
    }

    @Test func corruptChunkQuarantinesOnlyThatSSTable() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = config(.periodic(intervalNanos: 5_000_000))
        c.chunkCacheBytes = 0
        c.automaticCompaction = false
        var params = TableParams()
        params.chunkLengthKiB = 4
        let s = TestSchemas.keyValue(params: params)
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [s], logger: .test)
        defer { e.close() }
        for i in 0 ..< 300 { try e.apply(kvMutation(s, i)) }
        try e.flush(tableId: s.id)
        let first = try e.sstablePaths(tableId: s.id)
        for i in 300 ..< 600 { try e.apply(kvMutation(s, i)) }
        try e.flush(tableId: s.id)
        #expect(try e.sstablePaths(tableId: s.id).count == 2)
        // Flip a byte in the middle of the first SSTable's first chunk.
        let fd = open(first[0], O_RDWR)
        var b: UInt8 = 0
        pread(fd, &b, 1, 40)
        b ^= 0xff
        pwrite(fd, &b, 1, 40)
        close(fd)
        // Reads of every key still answer; those in the damaged SSTable are gone.
        var found = 0
        for i in 0 ..< 600 where try kvValue(e, s, i) != nil { found += 1 }
        #expect(found == 300)
        for i in 300 ..< 600 { #expect(try kvValue(e, s, i) == Array("value-\(i)".utf8)) }
        #expect(e.counters.quarantinedSSTables == 1)
        let reports = try e.quarantineReports(tableId: s.id)
        #expect(reports.count == 1)
        if case let .corrupt(path, offset, reason)? = reports.first {
            #expect(path == first[0])
            #expect(offset == 0)
            #expect(reason.contains("checksum"))
        } else {
            Issue.record("expected a corruption report, got \(reports)")
        }
        let tableDir = e.tableDirectory(s)
        let name = String(first[0].dropFirst(tableDir.count + 1))
        let quarantined = try FileSystem.list(tableDir + "/quarantine")
        #expect(quarantined.contains(name))
        let verify = SSTableInspector.verify(path: tableDir + "/quarantine/" + name)
        #expect(!verify.isIntact)
        #expect(verify.errors.contains { "\($0)".contains("checksum") })
    }

    @Test func damagedComponentIsQuarantinedAtOpen() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        for i in 0 ..< 10 { try e.apply(kvMutation(schema, i)) }
        e.close(flush: true)
        let data = try #require(try FileSystem.list(e.tableDirectory(schema)).first { $0.hasSuffix("Statistics.db") })
        let path = e.tableDirectory(schema) + "/" + data
        var bytes = try FileSystem.readAll(path)
        bytes[6] ^= 0x55
        try FileSystem.writeFile(path, bytes)
        (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(e.counters.quarantinedSSTables == 1)
        // The commit log may still hold the write (its segment was the active one): either way the
        // store answers and accepts writes.
        let v = try kvValue(e, schema, 3)
        #expect(v == nil || v == Array("value-3".utf8))
        try e.apply(kvMutation(schema, 3))
        #expect(try kvValue(e, schema, 3) == Array("value-3".utf8))
    }

    @Test func nonBlockingWritesFailOverloadedWhenFlushesBackUp() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = config(.periodic(intervalNanos: 5_000_000))
        c.maxPendingFlushesPerTable = 1
        c.flushThreads = 1
        c.writeBlockTimeoutNanos = 200_000_000
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        defer { e.close() }
        // Occupy the only flush thread.
        let gate = ConditionLock()
        nonisolated(unsafe) var open = false
        e.flushExecutor.submit { gate.withLock { while !open { gate.wait() } } }
        var overloaded = 0
        for i in 0 ..< 5000 {
            let box = ResultBox()
            e.apply(kvMutation(schema, i, value: [UInt8](repeating: 1, count: 100))) { box.set($0) }
            if case .failure(.overloaded)? = box.get() { overloaded += 1; break }
        }
        #expect(overloaded == 1)
        // A blocking write waits, then reports overload when the backlog does not clear in time.
        #expect(throws: StorageError.self) { try e.apply(kvMutation(schema, 99_999)) }
        gate.withLock { open = true; gate.broadcast() }
        try e.apply(kvMutation(schema, 99_999))
        #expect(e.counters.overloadedWrites >= 1)
    }

    @Test func concurrentGroupCommitWritersAllAcknowledged() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(.default), tables: [schema], logger: .test)
        defer { e.close() }
        let s = schema
        try await withThrowingTaskGroup(of: Void.self) { g in
            for w in 0 ..< 8 {
                g.addTask {
                    for i in 0 ..< 25 { try await e.apply(kvMutation(s, w * 100 + i)) }
                }
            }
            try await g.waitForAll()
        }
        for w in 0 ..< 8 { #expect(try kvValue(e, s, w * 100 + 24) == Array("value-\(w * 100 + 24)".utf8)) }
        #expect(e.counters.writes == 200)
    }

    @Test func truncateAndDropForgetData() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let other = TestSchemas.keyValue(id: UUIDValue(msb: 9, lsb: 9))
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema, other], logger: .test)
        for i in 0 ..< 50 { try e.apply(kvMutation(schema, i)); try e.apply(kvMutation(other, i)) }
        try e.flush(tableId: schema.id)
        for i in 50 ..< 60 { try e.apply(kvMutation(schema, i)) }
        try e.truncateTable(id: schema.id)
        #expect(try kvValue(e, schema, 5) == nil)
        #expect(try kvValue(e, schema, 55) == nil)
        #expect(try kvValue(e, other, 5) == Array("value-5".utf8))
        try e.dropTable(id: other.id)
        #expect(throws: StorageError.unknownTable(other.id)) { try e.apply(kvMutation(other, 1)) }
        e.close(flush: false)
        (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(try kvValue(e, schema, 55) == nil)
        #expect(!FileSystem.exists(e.tableDirectory(other)))
    }

    @Test func droppedColumnDataIsIgnored() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var s = TestSchemas.wide()
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [s], logger: .test)
        defer { e.close() }
        let c = [TestSchemas.int32(1), Array("x".utf8)]
        try e.apply(Mutation(schema: s, partitionKey: TestSchemas.int32(1), update: PartitionUpdate(rows: [Row(clustering: c, cells: [
            .live(column: "a", timestamp: 10, value: TestSchemas.int32(5)), .live(column: "b", timestamp: 10, value: Array("keep".utf8)),
        ])])))
        s.dropColumn(named: "a", at: 10)
        try e.alterTable(s)
        let r = try e.read(ReadCommand(schema: s, partitionKey: TestSchemas.int32(1), nowSeconds: 0))
        #expect(r.live(now: 0, ClusteringComparator(s)).rows.first?.cells.map(\.column) == ["b"])
    }

    @Test func tokenScanPagesCoverTheRangeInTokenOrder() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(.periodic(intervalNanos: 5_000_000)), tables: [schema], logger: .test)
        defer { e.close() }
        for i in 0 ..< 300 { try e.apply(kvMutation(schema, i)) }
        try e.flush(tableId: schema.id)
        for i in 300 ..< 400 { try e.apply(kvMutation(schema, i)) }
        let keys = (0 ..< 400).map { Array("key-\($0)".utf8) }
        let range = TokenRange(start: Token(1_000_000), end: Token(-1_000_000)) // wraps
        let expected = keys.filter { range.contains(Murmur3.token($0)) }.sorted { Murmur3.token($0) < Murmur3.token($1) }
        var got: [[UInt8]] = []
        var after: ScanPosition?
        repeat {
            let page = try e.scan(TokenScanCommand(schema: schema, range: range, after: after, pageSize: 7, nowSeconds: 1))
            #expect(page.partitions.count <= 7)
            got += page.partitions.map(\.partitionKey)
            after = page.next
        } while after != nil
        // Unwrapped order is ascending tokens: the part up to the range's end, then the part after
        // its start.
        #expect(got == expected)
        #expect(got.count > 0)
    }
}

/// A thread-safe slot for a completion's result.
final class ResultBox: @unchecked Sendable {
    // @unchecked: `value` is guarded by `lock`.
    private let lock = Lock()
    private var value: Result<Void, StorageError>?
    func set(_ r: Result<Void, StorageError>) { lock.withLock { value = r } }
    func get() -> Result<Void, StorageError>? { lock.withLock { value } }
}

@Suite("Storage engine input checks")
struct EngineInputTests {
    @Test func invalidMutationsAreRejectedAndDirectoryIsExclusive() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let s = TestSchemas.wide()
        let (e, _) = try StorageEngine.open(directory: dir.path, tables: [s], logger: .test)
        defer { e.close() }
        #expect(throws: StorageError.self) { try StorageEngine(directory: dir.path, logger: .test) }
        let bad = [
            PartitionUpdate(rows: [Row(clustering: [TestSchemas.int32(1)], cells: [.live(column: "a", timestamp: 1, value: [1])])]),
            PartitionUpdate(rows: [Row(clustering: [TestSchemas.int32(1), [1]], cells: [Cell(column: "a", timestamp: 1, ttl: 5, value: [1])])]),
            PartitionUpdate(staticRow: Row(clustering: [[1]], cells: [.live(column: "s", timestamp: 1, value: [1])])),
        ]
        for u in bad {
            #expect(throws: StorageError.self) { try e.apply(Mutation(schema: s, partitionKey: TestSchemas.int32(1), update: u)) }
        }
        #expect(throws: StorageError.self) { try e.apply(Mutation(schema: s, partitionKey: [], update: bad[0])) }
        #expect(e.counters.writes == 0)
    }
}

@Suite("Wide partitions")
struct WidePartitionTests {
    @Test func slicesOfAnIndexedPartition() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let s = TestSchemas.wide()
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 5_000_000)
        c.rowIndexBlockBytes = 4096
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [s], logger: .test)
        defer { e.close() }
        let cmp = ClusteringComparator(s)
        let key = TestSchemas.int32(7)
        for i in 0 ..< 3000 {
            let row = Row(clustering: [TestSchemas.int32(i / 10), Array("r\(i % 10)".utf8)], liveness: LivenessInfo(timestamp: 1),
                          cells: [.live(column: "b", timestamp: 1, value: Array("row \(i) with some padding to make it longer".utf8))])
            try e.apply(Mutation(schema: s, partitionKey: key, update: PartitionUpdate(rows: [row])))
        }
        try e.flush(tableId: s.id)
        let slice = ClusteringSlice(start: ClusteringBound([TestSchemas.int32(150)], inclusive: true), end: ClusteringBound([TestSchemas.int32(152)], inclusive: false))
        let r = try e.read(ReadCommand(schema: s, partitionKey: key, slices: [slice], nowSeconds: 0))
        let rows = r.live(now: 0, cmp).rows
        #expect(rows.count == 20)
        #expect(rows.first?.clustering == [TestSchemas.int32(150), Array("r9".utf8)]) // c2 is DESC
        let last = try e.read(ReadCommand(schema: s, partitionKey: key, slices: [ClusteringSlice(start: ClusteringBound([TestSchemas.int32(299)], inclusive: true), end: .unbounded)], reversed: true, limit: 3, nowSeconds: 0))
        #expect(last.live(now: 0, reversed: true, limit: 3, cmp).rows.map { $0.clustering[1] } == ["r0", "r1", "r2"].map { Array($0.utf8) })
        for p in try e.sstablePaths(tableId: s.id) { #expect(SSTableInspector.verify(path: p).isIntact) }
    }
}

@Suite("Non-durable tables")
struct NonDurableTableTests {
    @Test func writesSkipTheCommitLog() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let s = TestSchemas.keyValue()
        var c = StorageConfig()
        c.commitLogSync = .batch
        var e = try StorageEngine(directory: dir.path, config: c, logger: .test)
        try e.addTable(s, durableWrites: false)
        _ = try e.replayCommitLog()
        for i in 0 ..< 10 { try e.apply(kvMutation(s, i)) }
        #expect(try kvValue(e, s, 3) == Array("value-3".utf8))
        #expect(e.counters.commitLogBytes == 0)
        e.close(flush: false)
        // Unflushed and not logged: gone after a restart, as with Cassandra's durable_writes = false.
        e = try StorageEngine(directory: dir.path, config: c, logger: .test)
        defer { e.close() }
        try e.addTable(s, durableWrites: false)
        #expect(try e.replayCommitLog().replayed == 0)
        #expect(try kvValue(e, s, 3) == nil)
    }
}
