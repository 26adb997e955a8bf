import BasaltCore
@testable import BasaltStorage
import Testing

/// The live commit-log segments stay within `commitLogTotalSpaceBytes`: a table written too
/// slowly to fill its memtable, but written into every segment, is flushed so the oldest segment
/// can go, instead of keeping every segment alive.
@Suite("Commit-log space limit")
struct CommitLogSpaceTests {
    let busy = TestSchemas.keyValue()
    let slow = TableSchema(keyspace: "ks", name: "slow", id: UUIDValue(msb: 1, lsb: 2), columns: [
        ColumnDefinition(name: "key", type: .blob, kind: .partitionKey, position: 0),
        ColumnDefinition(name: "value", type: .blob, kind: .regular),
    ])
    static let segmentBytes = 64 << 10

    func config(limitSegments: Int?) -> StorageConfig {
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 5_000_000)
        c.commitLogSegmentBytes = Self.segmentBytes
        c.commitLogTotalSpaceBytes = limitSegments.map { $0 * Self.segmentBytes }
        // The busy table flushes on its own every few segments; the slow one never fills.
        c.memtableSizeLimitBytes = 256 << 10
        c.automaticCompaction = false
        return c
    }

    /// Opens an engine with the space limit, writes 6,000 1 KiB values (about 95 segments) to the
    /// busy table and one small one to the slow table after every 30, and calls `check` with the
    /// engine and the most live segments seen.
    func load(limitSegments: Int, _ check: (StorageEngine, Int) throws -> Void) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(limitSegments: limitSegments), tables: [busy, slow], logger: .test)
        defer { e.close() }
        var most = 0
        for i in 0 ..< 6000 {
            try e.apply(kvMutation(busy, i, value: [UInt8](repeating: UInt8(i & 0xFF), count: 1024)))
            if i % 30 == 0 {
                try e.apply(kvMutation(slow, i))
                most = max(most, e.commitLogSegmentIds.count)
            }
        }
        try check(e, most)
    }

    @Test func theSlowTableIsFlushedSoTheLogStaysWithinItsSpace() throws {
        try load(limitSegments: 12) { e, most throws in
            // Over the limit only until the slow table's flush (queued behind the busy one's) is
            // done: the writer runs ahead of the flush thread by a few segments, more on a loaded
            // machine.
            #expect(most <= 12 + 20, "live segments reached \(most)")
            #expect(e.counters.commitLogSpaceFlushes >= 1)
            #expect(try kvValue(e, slow, 0) == Array("value-0".utf8))
            #expect(try kvValue(e, slow, 5970) == Array("value-5970".utf8))
        }
    }

    /// Without a limit to speak of, the slow table keeps every segment alive: the case the limit
    /// is for.
    @Test func withoutTheLimitEverySegmentStays() throws {
        try load(limitSegments: 1_000_000) { e, most in
            #expect(most > 80, "live segments reached \(most)")
            #expect(e.counters.commitLogSpaceFlushes == 0)
        }
    }
}
