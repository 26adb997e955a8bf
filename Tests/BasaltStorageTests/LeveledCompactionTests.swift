import BasaltCore
@testable import BasaltStorage
import Testing

@Suite("Leveled compaction")
struct LeveledCompactionTests {
    func c(_ g: Int, level: Int, _ lo: Int64, _ hi: Int64, mib: Int = 1) -> CompactionCandidate {
        CompactionCandidate(generation: g, sizeBytes: mib << 20, maxTimestamp: 0, level: level, minToken: lo, maxToken: hi)
    }

    // MARK: the strategy alone

    @Test func levelZeroWaitsForFourThenMergesWithOverlappingLevelOne() {
        let l1 = [c(10, level: 1, 0, 99), c(11, level: 1, 100, 199), c(12, level: 1, 200, 299)]
        let three = [c(1, level: 0, 50, 120), c(2, level: 0, 60, 110), c(3, level: 0, 70, 130)]
        #expect(CompactionStrategy.leveled(three + l1, sstableSizeBytes: 1 << 20, fanout: 10) == nil)
        let task = CompactionStrategy.leveled(three + [c(4, level: 0, 55, 150)] + l1, sstableSizeBytes: 1 << 20, fanout: 10)
        #expect(task?.outputLevel == 1)
        #expect(Set(task?.generations ?? []) == [1, 2, 3, 4, 10, 11])
        #expect(task?.maxOutputBytes == 1 << 20)
    }

    @Test func overfullLevelMovesItsOldestSSTableDown() {
        // Level 1 may hold 2 × 1 MiB with fanout 2; it holds 3 MiB.
        let tables = [c(5, level: 1, 0, 99), c(6, level: 1, 100, 199), c(7, level: 1, 200, 299),
                      c(8, level: 2, 0, 49), c(9, level: 2, 50, 150), c(20, level: 2, 151, 400)]
        let task = CompactionStrategy.leveled(tables, sstableSizeBytes: 1 << 20, fanout: 2)
        #expect(task?.outputLevel == 2)
        #expect(Set(task?.generations ?? []) == [5, 8, 9])
        // Within its limit, nothing to do.
        #expect(CompactionStrategy.leveled(Array(tables.dropFirst()), sstableSizeBytes: 1 << 20, fanout: 2) == nil)
        // Moving one SSTable with nothing below it is still a task (it changes level).
        let alone = CompactionStrategy.plan([c(5, level: 1, 0, 99), c(6, level: 1, 100, 199), c(7, level: 1, 200, 299)],
                                            params: .leveled(sstableSizeMiB: 1, fanout: 2))
        #expect(alone?.generations == [5] && alone?.outputLevel == 2)
    }

    @Test func overlapInsideALevelIsRepairedFirst() {
        let tables = [c(1, level: 1, 0, 100), c(2, level: 1, 90, 150), c(3, level: 1, 140, 160), c(4, level: 1, 200, 300)]
        let task = CompactionStrategy.leveled(tables, sstableSizeBytes: 1 << 20, fanout: 10)
        #expect(task?.outputLevel == 1)
        #expect(Set(task?.generations ?? []) == [1, 2, 3])
    }

    @Test func pendingCountsDisjointTasks() {
        let l0 = (1 ... 8).map { c($0, level: 0, 0, 100) }
        #expect(CompactionStrategy.pendingCount(l0, params: .leveled(sstableSizeMiB: 1, fanout: 10)) == 1)
        #expect(CompactionStrategy.pendingCount((1 ... 8).map { CompactionCandidate(generation: $0, sizeBytes: 1 << 20, maxTimestamp: 0) },
                                                params: .sizeTiered(minThreshold: 4, maxThreshold: 4)) == 2)
    }

    // MARK: through the engine

    func schema(gcGraceSeconds: Int = 864_000) -> TableSchema {
        var p = TableParams()
        p.compaction = .leveled(sstableSizeMiB: 1, fanout: 2)
        p.gcGraceSeconds = gcGraceSeconds
        return TestSchemas.keyValue(params: p)
    }

    func config() -> StorageConfig {
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 100_000_000)
        c.memtableSizeLimitBytes = 512 << 10
        c.compactionThroughputBytesPerSecond = 0
        return c
    }

    /// Incompressible values of 200 bytes, different per key and version.
    func value(_ i: Int, _ version: Int) -> [UInt8] {
        var r = SplitMix64(seed: UInt64(i) &* 31 &+ UInt64(version))
        return (0 ..< 25).flatMap { _ in withUnsafeBytes(of: r.next()) { Array($0) } }
    }

    func sstables(_ e: StorageEngine, _ s: TableSchema) throws -> [SSTableReader] { try e.table(s.id).view.sstables }

    /// Every level from 1 holds SSTables with disjoint token ranges.
    func expectLevelsDisjoint(_ readers: [SSTableReader]) {
        for level in Set(readers.map(\.stats.level)) where level >= 1 {
            let members = readers.filter { $0.stats.level == level }.sorted { $0.stats.minToken < $1.stats.minToken }
            for (a, b) in zip(members, members.dropFirst()) {
                #expect(a.stats.maxToken < b.stats.minToken, "level \(level): \(a.descriptor.generation) and \(b.descriptor.generation) overlap")
            }
        }
    }

    @Test func levelsStayDisjointAndReadsSeeTheNewestVersionAcrossLevels() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let s = schema()
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [s], logger: .test)
        defer { e.close() }
        let n = 12_000
        // Two passes: the second overwrites every third key, so versions sit in different levels.
        for i in 0 ..< n { try e.apply(kvMutation(s, i, ts: 1, value: value(i, 1))) }
        try e.flush(tableId: s.id)
        e.waitForBackgroundWork()
        for i in stride(from: 0, to: n, by: 3) { try e.apply(kvMutation(s, i, ts: 2, value: value(i, 2))) }
        try e.flush(tableId: s.id)
        e.waitForBackgroundWork()

        let readers = try sstables(e, s)
        expectLevelsDisjoint(readers)
        #expect(readers.contains { $0.stats.level >= 2 }, "6 MB with 1 MiB SSTables and fanout 2 must reach level 2")
        #expect(readers.filter { $0.stats.level >= 1 }.allSatisfy { $0.sizeOnDisk < 3 << 20 }, "outputs are cut near the SSTable size")
        for i in stride(from: 0, to: n, by: 7) {
            #expect(try kvValue(e, s, i) == value(i, i % 3 == 0 ? 2 : 1))
        }

        // A major compaction keeps the invariant and the data.
        try e.compact(tableId: s.id)
        e.waitForBackgroundWork()
        expectLevelsDisjoint(try sstables(e, s))
        for i in stride(from: 1, to: n, by: 11) {
            #expect(try kvValue(e, s, i) == value(i, i % 3 == 0 ? 2 : 1))
        }
    }

    @Test func tombstonesAndExpiredCellsArePurgedAfterGracePeriod() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let s = schema(gcGraceSeconds: 0)
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [s], logger: .test)
        defer { e.close() }
        let n = 6_000
        for i in 0 ..< n { try e.apply(kvMutation(s, i, ts: 1, value: value(i, 1))) }
        try e.flush(tableId: s.id)
        // Delete the first third; overwrite the second third with a row that expired long ago.
        for i in 0 ..< n / 3 {
            try e.apply(Mutation(schema: s, partitionKey: Array("key-\(i)".utf8),
                                 update: PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 2, localDeletionTime: 1))))
        }
        for i in n / 3 ..< 2 * n / 3 {
            try e.apply(Mutation(schema: s, partitionKey: Array("key-\(i)".utf8),
                                 update: PartitionUpdate(rows: [Row(clustering: [], liveness: LivenessInfo(timestamp: 2, ttl: 1, localExpirationTime: 2),
                                                                    cells: [.live(column: "value", timestamp: 2, value: [1], ttl: 1, now: 1)])])))
        }
        try e.flush(tableId: s.id)
        try e.compact(tableId: s.id)
        e.waitForBackgroundWork()

        let readers = try sstables(e, s)
        expectLevelsDisjoint(readers)
        #expect(readers.reduce(0) { $0 + $1.stats.partitionCount } == n - 2 * (n / 3), "deleted and expired partitions are gone")
        #expect(readers.reduce(0) { $0 + $1.stats.tombstoneCount } == 0)
        #expect(try kvValue(e, s, 5) == nil)
        #expect(try kvValue(e, s, n / 3 + 5) == nil)
        #expect(try kvValue(e, s, n - 1) == value(n - 1, 1))
    }
}
