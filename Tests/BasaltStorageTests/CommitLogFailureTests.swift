import BasaltCore
@testable import BasaltStorage
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The commit log's failure policies against a real failing file: the first segment's name is a
/// symbolic link to `/dev/full`, so writing it fails with ENOSPC exactly as a full disk does, while
/// the next segment (a plain file) works.
@Suite("Commit-log failures")
struct CommitLogFailureTests {
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
}
