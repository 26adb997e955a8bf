import BasaltCore
@testable import BasaltStorage
import Testing

/// A compaction writes its outputs without bloom filters and spools their summaries and chunk
/// offsets to disk, so none of the three sits in memory beside its inputs' copies; each output's
/// filter is built from its index once the inputs are gone and written beside it.
@Suite("Filters built from the index")
struct BuiltFilterTests {
    let schema = TestSchemas.keyValue()

    func filterPath(_ data: String) throws -> String { try #require(SSTableDescriptor.parse(path: data)).0.path(.filter) }

    func fill(_ e: StorageEngine, sstables: Int, keys: Int) throws {
        for s in 0 ..< sstables {
            for i in stride(from: s, to: keys, by: sstables) { try e.apply(kvMutation(schema, i)) }
            try e.flush(tableId: schema.id)
        }
    }

    @Test func aCompactionOutputGetsItsFilterFromItsIndex() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: .syncedWithoutAutomaticCompaction, tables: [schema], logger: .test)
        try fill(e, sstables: 4, keys: 4000)
        try e.compact(tableId: schema.id)
        let data = try #require(try e.sstablePaths(tableId: schema.id).first)
        #expect(try e.sstablePaths(tableId: schema.id).count == 1)
        #expect(try e.table(schema.id).view.sstables.allSatisfy(\.hasBloomFilter))
        #expect(FileSystem.exists(try filterPath(data)))
        // The compaction's bytes written are its output's files, the filter written after it too.
        let output = try #require(SSTableDescriptor.parse(path: data)).0
        let onDisk = try SSTableDescriptor.Component.allCases.reduce(0) { sum, c in
            sum + (FileSystem.exists(output.path(c)) ? try FileSystem.fileSize(output.path(c)) : 0)
        }
        #expect(e.counters.compactionBytesWritten == onDisk)
        // No spool or temporary file is left behind.
        #expect(try FileSystem.list(e.table(schema.id).directory).allSatisfy { !$0.hasPrefix("tmp-") && !$0.hasSuffix(".spool") })
        // Every key is read back; absent keys are mostly turned away by the filter.
        for i in 0 ..< 4000 { #expect(try kvValue(e, schema, i) == Array("value-\(i)".utf8)) }
        let negativesBefore = e.counters.bloomNegatives
        for i in 10000 ..< 11000 { #expect(try kvValue(e, schema, i) == nil) }
        #expect(e.counters.bloomNegatives - negativesBefore > 900)
        // The filter written is the one loaded at the next start.
        let written = try BloomFilter.read(from: try filterPath(data))
        for i in 0 ..< 4000 { #expect(Array("key-\(i)".utf8).withUnsafeBytes { written.mightContain(Murmur3.hash128($0)) }) }
        e.close(flush: false)
        (e, _) = try StorageEngine.open(directory: dir.path, config: .syncedWithoutAutomaticCompaction, tables: [schema], logger: .test)
        defer { e.close() }
        #expect(e.counters.quarantinedSSTables == 0)
        #expect(try e.table(schema.id).view.sstables.allSatisfy(\.hasBloomFilter))
        for i in stride(from: 0, to: 4000, by: 7) { #expect(try kvValue(e, schema, i) == Array("value-\(i)".utf8)) }
    }

    /// A crash after a compaction's output was published but before its filter was written leaves
    /// an SSTable without one: it opens, gets its filter built and written, and serves every key.
    @Test func anSSTableWithoutAFilterOpensAndGetsOne() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: .syncedWithoutAutomaticCompaction, tables: [schema], logger: .test)
        try fill(e, sstables: 1, keys: 3000)
        let data = try #require(try e.sstablePaths(tableId: schema.id).first)
        e.close(flush: false)
        try FileSystem.remove(try filterPath(data))
        // Inspection reads it without writing anything.
        #expect(SSTableInspector.verify(path: data).isIntact)
        #expect(!FileSystem.exists(try filterPath(data)))
        (e, _) = try StorageEngine.open(directory: dir.path, config: .syncedWithoutAutomaticCompaction, tables: [schema], logger: .test)
        defer { e.close() }
        #expect(e.counters.quarantinedSSTables == 0)
        #expect(try e.table(schema.id).view.sstables.allSatisfy(\.hasBloomFilter))
        #expect(FileSystem.exists(try filterPath(data)))
        for i in 0 ..< 3000 { #expect(try kvValue(e, schema, i) == Array("value-\(i)".utf8)) }
        let negativesBefore = e.counters.bloomNegatives
        for i in 10000 ..< 11000 { #expect(try kvValue(e, schema, i) == nil) }
        #expect(e.counters.bloomNegatives - negativesBefore > 900)
    }

    /// A spooled component is its header, its entries and one checksum over both; an aborted one
    /// leaves nothing.
    @Test func spooledComponentsRoundTrip() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir.path)
        let spool = try ComponentSpool(path: dir.path + "/summary")
        var keys: [[UInt8]] = []
        for i in 0 ..< 20000 {
            let key = Array("partition-\(i)".utf8)
            keys.append(key)
            try key.withUnsafeBytes { k in try spool.append { IndexSummary.writeEntry(&$0, token: Int64(i) * 3 - 5000, key: k, offset: i * 64) } }
        }
        try spool.finish(header: IndexSummary.header(interval: 64, count: spool.count))
        #expect(!FileSystem.exists(spool.spoolPath))
        let summary = try IndexSummary.deserialize(FileSystem.readAll(dir.path + "/summary"), path: "summary")
        #expect(summary.count == 20000 && summary.interval == 64)
        #expect(summary.tokens[19999] == 19999 * 3 - 5000 && summary.offsets[123] == 123 * 64)
        #expect(summary.withKey(4567) { Array($0) } == keys[4567])

        let chunks = try ComponentSpool(path: dir.path + "/info")
        for i in 0 ..< 5000 { try chunks.append { $0.writeUInt64(UInt64(i) * 1000) } }
        try chunks.finish(header: CompressionInfo.header(compressed: true, chunkLength: 4096, dataLength: 5000 * 4096 - 7, chunks: chunks.count))
        let info = try CompressionInfo.deserialize(FileSystem.readAll(dir.path + "/info"), path: "info")
        #expect(info.offsets.count == 5000 && info.offsets[4999] == 4_999_000 && info.chunkLength == 4096)
        var bytes = try FileSystem.readAll(dir.path + "/info")
        bytes[bytes.count / 2] ^= 1
        #expect(throws: StorageError.self) { _ = try CompressionInfo.deserialize(bytes, path: "info") }

        let aborted = try ComponentSpool(path: dir.path + "/aborted")
        try aborted.append { $0.writeUInt64(1) }
        aborted.abort()
        #expect(!FileSystem.exists(aborted.spoolPath) && !FileSystem.exists(dir.path + "/aborted"))
    }
}
