import BasaltCore
@testable import BasaltStorage
import Testing

/// Cleanup drops exactly the partitions whose token the filter refuses, from memtables (flushed
/// first) and every SSTable, keeps tombstones of kept partitions, and survives a restart.
@Suite("Storage cleanup")
struct CleanupTests {
    let schema = TestSchemas.keyValue()

    @Test func cleanupKeepsOnlyTheTokensAskedFor() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var config = StorageConfig()
        config.commitLogSync = .batch
        config.memtableSizeLimitBytes = 64 << 10
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config, tables: [schema], logger: .test)
        // Several SSTables and a memtable.
        for i in 0 ..< 3000 {
            try e.apply(kvMutation(schema, i))
            if i % 1000 == 999 { try e.flush(tableId: schema.id) }
        }
        // A deleted partition among the kept ones stays deleted.
        let deleted = (0 ..< 3000).first { Murmur3.token(Array("key-\($0)".utf8)).value < 0 }!
        try e.apply(Mutation(schema: schema, partitionKey: Array("key-\(deleted)".utf8),
                             update: PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 5, localDeletionTime: 4_000_000_000))))
        let keep: (Token) -> Bool = { $0.value < 0 }
        let (before, after) = try e.cleanup(tableId: schema.id, keep: keep)
        #expect(after < before && after > 0)
        func check(_ e: StorageEngine) throws {
            for i in 0 ..< 3000 {
                let kept = keep(Murmur3.token(Array("key-\(i)".utf8)))
                let value = try kvValue(e, schema, i)
                if i == deleted { #expect(value == nil) } else { #expect((value != nil) == kept, "key \(i)") }
            }
        }
        try check(e)
        e.close(flush: true)
        (e, _) = try StorageEngine.open(directory: dir.path, config: config, tables: [schema], logger: .test)
        defer { e.close() }
        try check(e)
        #expect(e.liveDataBytes == after)
    }
}
