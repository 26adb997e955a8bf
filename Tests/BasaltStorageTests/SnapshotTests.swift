import BasaltCore
@testable import BasaltStorage
import Foundation
import Synchronization
import Testing

@Suite("Snapshots")
struct SnapshotTests {
    let schema = TestSchemas.keyValue()

    /// Keys (as text) of the partitions in a snapshot's SSTables with rows and of those with a
    /// partition deletion (the deletion's timestamp shadows the rows written before it).
    func contents(_ entry: SnapshotEntry) throws -> (live: Set<String>, deleted: Set<String>) {
        var live: Set<String> = []
        var deleted: Set<String> = []
        for name in try FileSystem.list(entry.directory) where name.hasSuffix("-Data.db") {
            try SSTableInspector.dump(path: entry.directory + "/" + name) { p in
                let key = String(decoding: p.partitionKey, as: UTF8.self)
                if p.update.partitionDeletion != nil { deleted.insert(key) }
                if !p.update.rows.isEmpty { live.insert(key) }
            }
        }
        return (live.subtracting(deleted), deleted)
    }

    func deletion(_ i: Int) -> Mutation {
        Mutation(schema: schema, partitionKey: Array("key-\(i)".utf8),
                 update: PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 5, localDeletionTime: 1)))
    }

    @Test func snapshotFlushesLinksAndSurvivesCompactionOfTheOriginals() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: .syncedWithoutAutomaticCompaction, tables: [schema], logger: .test)
        defer { e.close() }
        for i in 0 ..< 100 { try e.apply(kvMutation(schema, i)) }
        try e.flush(tableId: schema.id)
        for i in 100 ..< 200 { try e.apply(kvMutation(schema, i)) }
        try e.apply(deletion(7))  // still in the memtable: the snapshot must flush it
        let tableDir = try e.tableDirectory(tableId: schema.id)
        // An attached index file of a live SSTable is linked too; a temporary file is not.
        let liveGeneration = try SSTableInspector.descriptor(forPath: try e.sstablePaths(tableId: schema.id)[0]).generation
        try FileSystem.writeFile("\(tableDir)/bs-\(liveGeneration)-VectorIndex-v_idx.db", [1, 2, 3])
        try FileSystem.writeFile("\(tableDir)/tmp-bs-999-Data.db", [0])

        let entries = try e.snapshot(tag: "before", schemaText: { "CREATE TABLE \($0.keyspace).\($0.name) (k text PRIMARY KEY)" })
        #expect(entries.count == 1)
        let entry = try #require(entries.first)
        #expect(entry.directory == tableDir + "/snapshots/before")
        #expect(entry.keyspace == schema.keyspace && entry.table == schema.name)
        let names = try FileSystem.list(entry.directory)
        #expect(names.contains("schema.cql"))
        #expect(names.contains("bs-\(liveGeneration)-VectorIndex-v_idx.db"))
        #expect(!names.contains { $0.hasPrefix("tmp-") })
        #expect(names.filter { $0.hasSuffix("-TOC.txt") }.count == 2)  // the earlier SSTable and the flushed memtable
        #expect(String(decoding: try FileSystem.readAll(entry.directory + "/schema.cql"), as: UTF8.self).hasPrefix("CREATE TABLE"))
        // Hard links: nothing but schema.cql is the snapshot's alone while the originals are live.
        #expect(entry.trueSizeBytes == (try FileSystem.fileSize(entry.directory + "/schema.cql")))
        #expect(entry.sizeOnDiskBytes > entry.trueSizeBytes)

        // Later writes are not in it; compaction deletes the originals and the links stay whole.
        for i in 200 ..< 300 { try e.apply(kvMutation(schema, i)) }
        try e.flush(tableId: schema.id)
        try e.compact(tableId: schema.id)
        #expect(!FileSystem.exists("\(tableDir)/bs-\(liveGeneration)-Data.db"))
        for name in try FileSystem.list(entry.directory) where name.hasSuffix("-Data.db") {
            #expect(SSTableInspector.verify(path: entry.directory + "/" + name).isIntact)
        }
        let (live, deleted) = try contents(entry)
        #expect(live == Set((0 ..< 200).filter { $0 != 7 }.map { "key-\($0)" }))
        #expect(deleted == ["key-7"])
        let listed = try #require(try e.listSnapshots().first)
        #expect(listed.tag == "before" && listed.sizeOnDiskBytes == entry.sizeOnDiskBytes)
        #expect(listed.trueSizeBytes == listed.sizeOnDiskBytes - 3)  // all but the (still linked) index file
    }

    @Test func snapshotsTakenWhileWritesFlushesAndCompactionsRunAreCompleteAndIntact() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = StorageConfig.syncedWithoutAutomaticCompaction
        c.automaticCompaction = true
        c.memtableSizeLimitBytes = 16 << 10  // many flushes, so size-tiered compaction keeps replacing SSTables
        c.compactionThroughputBytesPerSecond = 0
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        defer { e.close() }
        let acknowledged = Atomic<Int>(0)
        let finished = DispatchSemaphore(value: 0)
        let total = 6000
        Thread.detachNewThread { [schema] in
            for i in 0 ..< total {
                try? e.apply(kvMutation(schema, i))
                acknowledged.store(i + 1, ordering: .releasing)
            }
            finished.signal()
        }
        var taken: [(SnapshotEntry, Int)] = []
        for n in 0 ..< 8 {
            while acknowledged.load(ordering: .acquiring) < (n * total) / 8 { usleep(1000) }
            let before = acknowledged.load(ordering: .acquiring)
            let entry = try #require(try e.snapshot(tag: "s\(n)", schemaText: { _ in "" }).first)
            taken.append((entry, before))
        }
        finished.wait()
        e.waitForBackgroundWork()
        #expect(e.counters.compactions > 0)  // compactions replaced SSTables while snapshots were taken
        try e.compact(tableId: schema.id)  // every original of every snapshot is gone now
        for (entry, before) in taken {
            for name in try FileSystem.list(entry.directory) where name.hasSuffix("-Data.db") {
                #expect(SSTableInspector.verify(path: entry.directory + "/" + name).isIntact, "\(entry.tag)/\(name)")
            }
            let keys = try contents(entry).live
            // Everything acknowledged before the snapshot began is in it.
            #expect(Set((0 ..< before).map { "key-\($0)" }).isSubset(of: keys), "\(entry.tag) misses writes before it")
        }
    }

    @Test func snapshotsAreNotLiveDataAtStartUpAndOutliveTruncateAndDrop() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: .syncedWithoutAutomaticCompaction, tables: [schema], logger: .test)
        for i in 0 ..< 50 { try e.apply(kvMutation(schema, i)) }
        _ = try e.snapshot(tag: "t1", schemaText: { _ in "" })
        try e.truncateTable(id: schema.id)
        e.close()
        (e, _) = try StorageEngine.open(directory: dir.path, config: .syncedWithoutAutomaticCompaction, tables: [schema], logger: .test)
        #expect(try kvValue(e, schema, 3) == nil)  // the snapshot's SSTables were not loaded
        #expect(e.counters.liveSSTables == 0)
        #expect(try e.listSnapshots().map(\.tag) == ["t1"])
        try e.dropTable(id: schema.id)
        #expect(try e.listSnapshots().map(\.tag) == ["t1"])
        #expect(try e.clearSnapshots(tag: "t1").count == 1)
        #expect(try e.listSnapshots().isEmpty)
        e.close()
    }

    @Test func badTagsDuplicatesAndKeyspaceFilters() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let other = TestSchemas.wide()
        let (e, _) = try StorageEngine.open(directory: dir.path, config: .syncedWithoutAutomaticCompaction, tables: [schema, other], logger: .test)
        defer { e.close() }
        try e.apply(kvMutation(schema, 1))
        for bad in ["", "../x", "a/b", ".hidden", "sp ace", String(repeating: "x", count: 201)] {
            #expect(throws: StorageError.self) { try e.snapshot(tag: bad, schemaText: { _ in "" }) }
        }
        let first = try e.snapshot(tag: "same", keyspace: schema.keyspace, schemaText: { _ in "" })
        #expect(first.allSatisfy { $0.keyspace == schema.keyspace })
        #expect(throws: StorageError.self) { try e.snapshot(tag: "same", keyspace: schema.keyspace, schemaText: { _ in "" }) }
        #expect(try e.snapshot(tag: "nothing", keyspace: "no_such_keyspace", schemaText: { _ in "" }).isEmpty)
        _ = try e.snapshot(tag: "all", schemaText: { _ in "" })
        #expect(Set(try e.listSnapshots().map(\.tag)) == ["same", "all"])
        let count = try e.listSnapshots().count
        #expect(try e.clearSnapshots().count == count)
        #expect(try e.listSnapshots().isEmpty)
    }
}
