import BasaltCore
import BasaltIndex
import BasaltStorage
import BasaltTestSupport
import BasaltVector
import Foundation
import Logging
import Testing

/// Vector indexes attached to a real storage engine: they follow writes, flushes, compactions and
/// restarts, and a damaged index file is rebuilt from the SSTable.
@Suite struct AttachedVectorIndexTests {
    static let tableId = UUIDValue(msb: 0xAB, lsb: 1)
    static let dimension = 8
    static let schema = TableSchema(keyspace: "ks", name: "docs", id: tableId, columns: [
        ColumnDefinition(name: "id", type: .int, kind: .partitionKey, position: 0),
        ColumnDefinition(name: "v", type: .vector(.float, dimension), kind: .regular),
    ])
    static let definition = VectorIndexDefinition(name: "docs_v_idx", column: "v", dimension: dimension, similarity: .euclidean,
                                                  parameters: HNSWParameters(m: 8, efConstruction: 64))

    /// An engine with the index defined before the table opens (as a node starts).
    static func open(_ dir: String) throws -> (StorageEngine, AttachedIndexRegistry) {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let registry = AttachedIndexRegistry(logger: logger)
        registry.define(table: tableId, indexes: [definition])
        var config = StorageConfig()
        config.automaticCompaction = false
        let engine = try StorageEngine(directory: dir, config: config, logger: logger, attachedIndexes: registry)
        registry.attach(engine)
        try engine.addTable(schema)
        _ = try engine.replayCommitLog()
        return (engine, registry)
    }

    static func key(_ id: Int32) -> [UInt8] { withUnsafeBytes(of: id.bigEndian) { Array($0) } }

    static func vector(_ id: Int) -> [Float] { (0 ..< dimension).map { Float(id) + Float($0) / 100 } }

    static func put(_ engine: StorageEngine, _ id: Int, _ v: [Float], at ts: Int64 = 1) throws {
        let bytes = v.flatMap { withUnsafeBytes(of: $0.bitPattern.bigEndian) { Array($0) } }
        let row = Row(clustering: [], liveness: LivenessInfo(timestamp: ts), cells: [.live(column: "v", timestamp: ts, value: bytes)])
        try engine.apply(Mutation(schema: schema, partitionKey: key(Int32(id)), update: PartitionUpdate(rows: [row])))
    }

    static func nearest(_ r: AttachedIndexRegistry, _ q: [Float], k: Int = 3) throws -> [Int] {
        try r.nearest(table: tableId, index: definition.name, query: q, k: k).map { key in
            Int(key.key.partitionKey.withUnsafeBytes { Int32(bigEndian: $0.loadUnaligned(as: Int32.self)) })
        }
    }

    static func segmentFiles(_ engine: StorageEngine) throws -> [String] {
        let dir = try engine.tableDirectory(tableId: tableId)
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("VectorIndex") }.sorted()
    }

    @Test func indexFollowsWritesFlushesAndCompaction() throws {
        let dir = TemporaryDirectory("index")
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        for id in 0 ..< 300 { try Self.put(engine, id, Self.vector(id)) }
        #expect(try Self.nearest(registry, Self.vector(42)).first == 42)
        try engine.flush(tableId: Self.tableId)
        for id in 300 ..< 600 { try Self.put(engine, id, Self.vector(id)) }
        try engine.flush(tableId: Self.tableId)
        #expect(try Self.segmentFiles(engine).count == 2)
        #expect(try Self.nearest(registry, Self.vector(42)).first == 42)
        #expect(try Self.nearest(registry, Self.vector(555)).first == 555)
        // Row 42 moves far away in a newer memtable: the index offers both versions, and the newest
        // one ranks where the row now is.
        try Self.put(engine, 42, Self.vector(5_000), at: 2)
        let moved = try Self.nearest(registry, Self.vector(5_000), k: 1)
        #expect(moved.first == 42, "\(moved)")
        try engine.compact(tableId: Self.tableId)
        #expect(try Self.segmentFiles(engine).count == 1)
        #expect(try Self.nearest(registry, Self.vector(555)).first == 555)
        #expect(registry.counters.segmentsBuilt == 1)
    }

    @Test func restartLoadsSegmentsAndDamagedFilesAreRebuilt() throws {
        let dir = TemporaryDirectory("index")
        do {
            let (engine, _) = try Self.open(dir.path)
            for id in 0 ..< 500 { try Self.put(engine, id, Self.vector(id)) }
            engine.close(flush: true)
        }
        var files: [String] = []
        do {
            let (engine, registry) = try Self.open(dir.path)
            #expect(registry.counters.segmentsLoaded == 1 && registry.counters.segmentsBuilt == 0)
            #expect(try Self.nearest(registry, Self.vector(123)).first == 123)
            files = try Self.segmentFiles(engine)
            let path = try engine.tableDirectory(tableId: Self.tableId) + "/" + files[0]
            engine.close(flush: false)
            // Flip one byte in the middle of the index file.
            var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
            bytes[bytes.count / 2] ^= 0xFF
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
        }
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        #expect(registry.counters.segmentsQuarantined == 1 && registry.counters.segmentsBuilt == 1)
        #expect(try Self.nearest(registry, Self.vector(123)).first == 123)
        let tableDir = try engine.tableDirectory(tableId: Self.tableId)
        #expect(FileManager.default.fileExists(atPath: tableDir + "/quarantine/" + files[0]))
        #expect(try Self.segmentFiles(engine) == files)
    }

    @Test func commitLogReplayRebuildsTheMemtableIndex() throws {
        let dir = TemporaryDirectory("index")
        do {
            let (engine, _) = try Self.open(dir.path)
            for id in 0 ..< 200 { try Self.put(engine, id, Self.vector(id)) }
            engine.close(flush: false)
        }
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        #expect(try Self.nearest(registry, Self.vector(77)).first == 77)
    }

    @Test func anIndexCreatedOnATableWithDataIsBuiltInTheBackground() throws {
        let dir = TemporaryDirectory("index")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let registry = AttachedIndexRegistry(logger: logger)
        let engine = try StorageEngine(directory: dir.path, logger: logger, attachedIndexes: registry)
        defer { engine.close(flush: false) }
        registry.attach(engine)
        try engine.addTable(Self.schema)
        for id in 0 ..< 400 { try Self.put(engine, id, Self.vector(id)) }
        try engine.flush(tableId: Self.tableId)
        for id in 400 ..< 500 { try Self.put(engine, id, Self.vector(id)) }
        registry.define(table: Self.tableId, indexes: [Self.definition])
        for id in 500 ..< 600 { try Self.put(engine, id, Self.vector(id)) }
        var waited = 0
        while registry.status(table: Self.tableId, index: Self.definition.name) == .building, waited < 600 {
            usleep(50_000)
            waited += 1
        }
        #expect(registry.status(table: Self.tableId, index: Self.definition.name) == .ready)
        for id in [3, 399, 450, 580] {
            #expect(try Self.nearest(registry, Self.vector(id)).first == id)
        }
    }

    @Test func truncateForgetsEverything() throws {
        let dir = TemporaryDirectory("index")
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        for id in 0 ..< 50 { try Self.put(engine, id, Self.vector(id)) }
        try engine.flush(tableId: Self.tableId)
        try engine.truncateTable(id: Self.tableId)
        #expect(try Self.nearest(registry, Self.vector(1)).isEmpty)
    }
}
