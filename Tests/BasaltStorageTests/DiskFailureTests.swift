import BasaltCore
@testable import BasaltStorage
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The failure policies against real failing files. Commit log: the first segment's name is a
/// symbolic link to `/dev/full`, so writing it fails with ENOSPC exactly as a full disk does, while
/// the next segment (a plain file) works. Flush: the temporary data file's name is taken by a
/// directory, so creating it fails.
@Suite("Disk failures")
struct DiskFailureTests {
    let schema = TestSchemas.keyValue()
    /// The wall clock fixes the first segment id (µs since the epoch).
    let wallMicros: Int64 = 1_800_000_000_000_000

    func open(_ dir: TemporaryDirectory, _ policy: CommitFailurePolicy) throws -> StorageEngine {
        var c = StorageConfig()
        c.commitLogSync = .batch
        c.commitFailurePolicy = policy
        c.commitLogProbeIntervalNanos = 20_000_000
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema],
                                            clock: ManualClock(wallMicros: wallMicros), logger: .test)
        return e
    }

    /// Makes the engine's first segment file a link to /dev/full (before anything was written to it).
    func makeFirstSegmentFull(_ dir: TemporaryDirectory, _ e: StorageEngine) throws {
        let id = try #require(e.commitLogSegmentIds.first)
        #expect(symlink("/dev/full", dir.path + "/commitlog/" + CommitLogSegmentFormat.fileName(id)) == 0)
    }

    func refusal(_ body: () throws -> Void) -> StorageError? {
        do { try body() } catch let e as StorageError { return e } catch { return .invalid("\(error)") }
        return nil
    }

    @Test func stopRefusesWithTheCauseThenResumesAndLosesNothingAcknowledged() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var e = try open(dir, .stop)
        try makeFirstSegmentFull(dir, e)
        let first = refusal { try e.apply(kvMutation(schema, 0)) }
        #expect(first?.description.contains("the commit log cannot be written: no space left on device") == true)
        // Writes resume by themselves once a probe could write a fresh segment (every 20 ms here).
        var acknowledged: [Int] = []
        var refused = 0
        for i in 1 ..< 2000 where acknowledged.count < 200 {
            if refusal({ try e.apply(kvMutation(schema, i)) }) == nil { acknowledged.append(i) } else {
                refused += 1
                usleep(5_000)
            }
        }
        #expect(acknowledged.count == 200)
        #expect(e.writeRefusal == nil)
        #expect(e.counters.commitLogFailures == 1)
        #expect(e.counters.refusedWrites == refused)
        for i in acknowledged { #expect(try kvValue(e, schema, i) != nil) }
        // Restarted without a flush: replay brings back every acknowledged write; the broken segment
        // reads as a torn tail.
        e.close(flush: false)
        e = try open(dir, .stop)
        defer { e.close(flush: false) }
        for i in acknowledged { #expect(try kvValue(e, schema, i) != nil) }
    }

    @Test func stopCommitRefusesUntilReopened() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var e = try open(dir, .stopCommit)
        try makeFirstSegmentFull(dir, e)
        #expect(refusal { try e.apply(kvMutation(schema, 0)) } != nil)
        usleep(200_000)
        let later = refusal { try e.apply(kvMutation(schema, 1)) }
        #expect(later?.description.contains("writes refused") == true)
        #expect(e.counters.commitLogRefusingWrites == 1)
        e.close(flush: false)
        e = try open(dir, .stopCommit)
        defer { e.close(flush: false) }
        try e.apply(kvMutation(schema, 2))
        #expect(try kvValue(e, schema, 2) != nil)
    }

    @Test func ignoreFailsOnlyTheWritesConcerned() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let e = try open(dir, .ignore)
        defer { e.close(flush: false) }
        try makeFirstSegmentFull(dir, e)
        #expect(refusal { try e.apply(kvMutation(schema, 0)) } != nil)
        #expect(e.writeRefusal == nil)
        try e.apply(kvMutation(schema, 1))
        #expect(try kvValue(e, schema, 1) != nil)
    }

    @Test func theNonBlockingApplyReportsTheCauseToo() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let e = try open(dir, .stop)
        defer { e.close(flush: false) }
        try makeFirstSegmentFull(dir, e)
        await #expect(throws: StorageError.self) { try await e.apply(kvMutation(schema, 0)) }
        let r = await withCheckedContinuation { (c: CheckedContinuation<Result<Void, StorageError>, Never>) in
            e.apply(kvMutation(schema, 1)) { c.resume(returning: $0) }
        }
        // Refused at once, or (if a probe already reopened the log) accepted.
        if case let .failure(err) = r { #expect(err.description.contains("commit log cannot be written")) }
    }

    @Test func aFailingFlushIsRetriedKeepsItsMemtableAndAsksTheNodeToStopOnce() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = StorageConfig.syncedWithoutAutomaticCompaction
        c.diskFailurePolicy = .stop
        let asked = Mutex<[DiskFailureResponse]>([])
        var (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        e.close(flush: false)
        e = try StorageEngine(directory: dir.path, config: c, logger: .test) { response, _ in asked.withLock { $0.append(response) } }
        try e.addTable(schema)
        _ = try e.replayCommitLog()
        for i in 0 ..< 100 { try e.apply(kvMutation(schema, i)) }
        // The next three SSTables cannot be created: their data file's name is taken by a directory.
        let t = try e.table(schema.id)
        let next = t.allocateGeneration() + 1
        let blocked = (next ..< next + 3).map { t.directory + "/tmp-bs-\($0)-Data.db" }
        for path in blocked { #expect(mkdir(path, 0o755) == 0) }
        try e.flush(tableId: schema.id)  // returns once a retry succeeded
        #expect(e.counters.flushFailures == 3)
        #expect(e.counters.flushes == 1)
        #expect(asked.withLock { $0 } == [.stopNode])
        for i in 0 ..< 100 { #expect(try kvValue(e, schema, i) != nil) }
        #expect(try e.sstablePaths(tableId: schema.id).count == 1)
        for path in blocked { rmdir(path) }
        e.close(flush: false)
        (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        defer { e.close(flush: false) }
        for i in 0 ..< 100 { #expect(try kvValue(e, schema, i) != nil) }
    }

    @Test func whileAFlushKeepsFailingTheMemtableIsReadAndItsSegmentsStayForReplay() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let c = StorageConfig.syncedWithoutAutomaticCompaction
        var (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        for i in 0 ..< 100 { try e.apply(kvMutation(schema, i)) }
        let t = try e.table(schema.id)
        let next = t.allocateGeneration() + 1
        let blocked = (next ..< next + 100).map { t.directory + "/tmp-bs-\($0)-Data.db" }
        for path in blocked { #expect(mkdir(path, 0o755) == 0) }
        try e.forceFlush(t)
        var waited = 0
        while e.counters.flushFailures < 2 && waited < 500 {
            usleep(10_000)
            waited += 1
        }
        #expect(e.counters.flushFailures >= 2)
        for i in 0 ..< 100 { #expect(try kvValue(e, schema, i) != nil) }
        e.close(flush: false)
        for path in blocked { rmdir(path) }
        let report: CommitLogReplayReport
        (e, report) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        defer { e.close(flush: false) }
        #expect(report.replayed == 100)
        for i in 0 ..< 100 { #expect(try kvValue(e, schema, i) != nil) }
    }
}
