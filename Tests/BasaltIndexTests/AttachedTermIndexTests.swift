import BasaltCluster
import BasaltCore
import BasaltIndex
import BasaltStorage
import BasaltTestSupport
import Foundation
import Logging
import Testing

/// Term (non-vector) indexes attached to a real storage engine: they follow writes, flushes,
/// compactions and restarts; a damaged index file is quarantined and rebuilt; replicas answer
/// index queries a page at a time with rows checked against their current data.
@Suite struct AttachedTermIndexTests {
    static let tableId = UUIDValue(msb: 0xAC, lsb: 2)
    static let columns = [
        ColumnDefinition(name: "shop", type: .int, kind: .partitionKey, position: 0),
        ColumnDefinition(name: "id", type: .int, kind: .clustering, position: 0),
        ColumnDefinition(name: "price", type: .int, kind: .regular),
        ColumnDefinition(name: "name", type: .text, kind: .regular),
        ColumnDefinition(name: "tags", type: .set(.text), kind: .regular),
        ColumnDefinition(name: "m", type: .map(.text, .text), kind: .regular),
        ColumnDefinition(name: "s", type: .int, kind: .static),
    ]
    static let schema = TableSchema(keyspace: "ks", name: "items", id: tableId, columns: columns)
    static func column(_ name: String) -> ColumnDefinition { columns.first { $0.name == name }! }
    static let definitions = [
        TermIndexDefinition(name: "price_idx", column: column("price"), target: .value),
        TermIndexDefinition(name: "name_idx", column: column("name"), target: .value,
                            analysis: TermAnalysis(caseSensitive: false, normalize: true, ascii: true)),
        TermIndexDefinition(name: "tags_idx", column: column("tags"), target: .values),
        TermIndexDefinition(name: "mkeys_idx", column: column("m"), target: .keys),
        TermIndexDefinition(name: "mentries_idx", column: column("m"), target: .entries),
        TermIndexDefinition(name: "s_idx", column: column("s"), target: .value),
    ]

    static func open(_ dir: String, define: Bool = true) throws -> (StorageEngine, AttachedIndexRegistry) {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let registry = AttachedIndexRegistry(logger: logger)
        if define { registry.define(table: tableId, termIndexes: definitions) }
        var config = StorageConfig()
        config.automaticCompaction = false
        let engine = try StorageEngine(directory: dir, config: config, logger: logger, attachedIndexes: registry)
        try engine.addTable(schema)
        _ = try engine.replayCommitLog()
        registry.attach(engine)
        return (engine, registry)
    }

    static func int(_ v: Int) -> [UInt8] { withUnsafeBytes(of: Int32(v).bigEndian) { Array($0) } }
    static func text(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Row `id` of shop `id % 5`: price `id % 50`, name "Item <id % 7>", tag "t<id % 3>", map entry color → red/blue.
    static func put(_ engine: StorageEngine, _ id: Int, price: Int? = nil, at ts: Int64 = 1) throws {
        let cells: [Cell] = [
            .live(column: "price", timestamp: ts, value: int(price ?? id % 50)),
            .live(column: "name", timestamp: ts, value: text("Item \(id % 7)")),
            .live(column: "tags", path: text("t\(id % 3)"), timestamp: ts, value: []),
            .live(column: "m", path: text("color"), timestamp: ts, value: text(id % 2 == 0 ? "red" : "blue")),
        ]
        let row = Row(clustering: [int(id)], liveness: LivenessInfo(timestamp: ts), cells: cells)
        try engine.apply(Mutation(schema: schema, partitionKey: int(id % 5), update: PartitionUpdate(rows: [row])))
    }

    static func query(_ r: AttachedIndexRegistry, _ restrictions: [IndexTermRestriction], limit: Int = 100_000,
                      after: ScanPosition? = nil) throws -> IndexedRowsPage {
        try r.indexedRows(IndexedRowsCommand(keyspace: "ks", table: "items", tableId: tableId, restrictions: restrictions,
                                             after: after, limit: limit, nowSeconds: 1_000))
    }

    /// The ids of every matching row, following the pages.
    static func ids(_ r: AttachedIndexRegistry, _ restrictions: [IndexTermRestriction], pageSize: Int = 100_000) throws -> [Int] {
        var out: [Int] = []
        var after: ScanPosition?
        repeat {
            let page = try query(r, restrictions, limit: pageSize, after: after)
            out += page.keys.map { k in k.clustering.isEmpty ? -1 : Int(Int32(bigEndian: k.clustering[0].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })) }
            after = page.next
        } while after != nil
        return out
    }

    static func eq(_ index: String, _ v: [UInt8]) -> IndexTermRestriction { IndexTermRestriction(index: index, predicate: .equals(v)) }

    static func files(_ engine: StorageEngine) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: try engine.tableDirectory(tableId: tableId)).filter { $0.contains("TermIndex") }.sorted()
    }

    @Test func indexesFollowWritesFlushesAndCompaction() throws {
        let dir = TemporaryDirectory("terms")
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        for id in 0 ..< 200 { try Self.put(engine, id) }
        #expect(try Set(Self.ids(registry, [Self.eq("price_idx", Self.int(7))])) == [7, 57, 107, 157])
        try engine.flush(tableId: Self.tableId)
        for id in 200 ..< 400 { try Self.put(engine, id) }
        try engine.flush(tableId: Self.tableId)
        // A file per index and SSTable (the static column's segments are empty, but present).
        #expect(try Self.files(engine).count == 2 * Self.definitions.count)
        #expect(try Set(Self.ids(registry, [Self.eq("price_idx", Self.int(7))])) == [7, 57, 107, 157, 207, 257, 307, 357])
        // Row 57 gets another price in a newer memtable, row 107 is deleted: both indexes still
        // hold the old terms, and the replica's check of its current data drops them.
        try Self.put(engine, 57, price: 99, at: 2)
        let deletion = Row(clustering: [Self.int(107)], deletion: DeletionTime(markedForDeleteAt: 3, localDeletionTime: 1))
        try engine.apply(Mutation(schema: Self.schema, partitionKey: Self.int(107 % 5), update: PartitionUpdate(rows: [deletion])))
        #expect(try Set(Self.ids(registry, [Self.eq("price_idx", Self.int(7))])) == [7, 157, 207, 257, 307, 357])
        #expect(try Self.ids(registry, [Self.eq("price_idx", Self.int(99))]) == [57])
        try engine.flush(tableId: Self.tableId)
        try engine.compact(tableId: Self.tableId)
        #expect(try Set(Self.ids(registry, [Self.eq("price_idx", Self.int(7))])) == [7, 157, 207, 257, 307, 357])
        #expect(try Self.ids(registry, [Self.eq("price_idx", Self.int(99))]) == [57])
    }

    @Test func everyPredicateKindAndConjunctions() throws {
        let dir = TemporaryDirectory("terms")
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        for id in 0 ..< 120 { try Self.put(engine, id) }
        try engine.flush(tableId: Self.tableId)
        for id in 120 ..< 150 { try Self.put(engine, id) }
        func ids(_ r: [IndexTermRestriction]) throws -> Set<Int> { Set(try Self.ids(registry, r)) }
        let all = 0 ..< 150
        let range = IndexTermRestriction(index: "price_idx", predicate: .range(lower: Self.int(10), lowerInclusive: false, upper: Self.int(12), upperInclusive: true))
        #expect(try ids([range]) == Set(all.filter { $0 % 50 == 11 || $0 % 50 == 12 }))
        let open = IndexTermRestriction(index: "price_idx", predicate: .range(lower: nil, lowerInclusive: false, upper: Self.int(2), upperInclusive: false))
        #expect(try ids([open]) == Set(all.filter { $0 % 50 < 2 }))
        // Case-insensitive, ASCII-folded, normalised text.
        #expect(try ids([Self.eq("name_idx", Self.text("ÎTEM 3"))]) == Set(all.filter { $0 % 7 == 3 }))
        #expect(try ids([IndexTermRestriction(index: "tags_idx", predicate: .contains(Self.text("t2")))]) == Set(all.filter { $0 % 3 == 2 }))
        #expect(try ids([IndexTermRestriction(index: "mkeys_idx", predicate: .containsKey(Self.text("color")))]) == Set(all))
        #expect(try ids([IndexTermRestriction(index: "mkeys_idx", predicate: .containsKey(Self.text("size")))]) == [])
        let red = IndexTermRestriction(index: "mentries_idx", predicate: .entry(key: Self.text("color"), value: Self.text("red")))
        #expect(try ids([red]) == Set(all.filter { $0 % 2 == 0 }))
        #expect(try ids([red, range, IndexTermRestriction(index: "tags_idx", predicate: .contains(Self.text("t0")))])
            == Set(all.filter { $0 % 2 == 0 && ($0 % 50 == 11 || $0 % 50 == 12) && $0 % 3 == 0 }))
        // A static column: the whole partition is the answer.
        let stat = Row(clustering: [], cells: [.live(column: "s", timestamp: 5, value: Self.int(1))])
        try engine.apply(Mutation(schema: Self.schema, partitionKey: Self.int(3), update: PartitionUpdate(staticRow: stat)))
        let page = try Self.query(registry, [Self.eq("s_idx", Self.int(1))])
        #expect(page.keys == [RowKey(partitionKey: Self.int(3), clustering: [])] && page.next == nil)
        // Static and row restrictions together: rows of that partition only.
        #expect(try ids([Self.eq("s_idx", Self.int(1)), red]) == Set(all.filter { $0 % 5 == 3 && $0 % 2 == 0 }))
        #expect(throws: TermIndexError.unknownIndex("nope")) { try Self.query(registry, [Self.eq("nope", [])]) }
    }

    @Test func pagesAreInRingOrderWithoutGapsOrRepeats() throws {
        let dir = TemporaryDirectory("terms")
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        for id in 0 ..< 300 { try Self.put(engine, id) }
        try engine.flush(tableId: Self.tableId)
        for id in 300 ..< 500 { try Self.put(engine, id) }
        let restriction = [IndexTermRestriction(index: "tags_idx", predicate: .contains(Self.text("t1")))]
        let whole = try Self.ids(registry, restriction)
        #expect(Set(whole) == Set((0 ..< 500).filter { $0 % 3 == 1 }) && whole.count == Set(whole).count)
        for size in [1, 7, 64] { #expect(try Self.ids(registry, restriction, pageSize: size) == whole) }
        // Ring order: partitions by token, rows by id within each.
        let tokens = whole.map { Murmur3.token(Self.int($0 % 5)) }
        #expect(tokens == tokens.sorted())
    }

    @Test func restartLoadsSegmentsAndDamagedFilesAreRebuilt() throws {
        let dir = TemporaryDirectory("terms")
        do {
            let (engine, _) = try Self.open(dir.path)
            for id in 0 ..< 300 { try Self.put(engine, id) }
            engine.close(flush: true)
        }
        var victim = ""
        do {
            let (engine, registry) = try Self.open(dir.path)
            #expect(registry.terms.counters.segmentsLoaded == Self.definitions.count && registry.terms.counters.segmentsBuilt == 0)
            #expect(try Set(Self.ids(registry, [Self.eq("price_idx", Self.int(9))])) == [9, 59, 109, 159, 209, 259])
            victim = try Self.files(engine).first { $0.contains("price_idx") }!
            let path = try engine.tableDirectory(tableId: Self.tableId) + "/" + victim
            engine.close(flush: false)
            var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
            bytes[bytes.count / 2] ^= 0x5A
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
        }
        do {
            let (engine, registry) = try Self.open(dir.path)
            #expect(registry.terms.counters.segmentsQuarantined == 1 && registry.terms.counters.segmentsBuilt == 1)
            #expect(try Set(Self.ids(registry, [Self.eq("price_idx", Self.int(9))])) == [9, 59, 109, 159, 209, 259])
            let tableDir = try engine.tableDirectory(tableId: Self.tableId)
            #expect(FileManager.default.fileExists(atPath: tableDir + "/quarantine/" + victim))
            // A truncated file is damaged too.
            let path = tableDir + "/" + victim
            let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
            FileManager.default.createFile(atPath: path, contents: Data(bytes.prefix(bytes.count - 9)))
            engine.close(flush: false)
        }
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        #expect(registry.terms.counters.segmentsQuarantined == 1 && registry.terms.counters.segmentsBuilt == 1)
        #expect(try Set(Self.ids(registry, [Self.eq("price_idx", Self.int(9))])) == [9, 59, 109, 159, 209, 259])
    }

    @Test func commitLogReplayRebuildsTheMemtableIndex() throws {
        let dir = TemporaryDirectory("terms")
        do {
            let (engine, _) = try Self.open(dir.path)
            for id in 0 ..< 100 { try Self.put(engine, id) }
            engine.close(flush: false)
        }
        let (engine, registry) = try Self.open(dir.path)
        defer { engine.close(flush: false) }
        #expect(try Set(Self.ids(registry, [Self.eq("name_idx", Self.text("item 0"))])) == Set((0 ..< 100).filter { $0 % 7 == 0 }))
    }

    @Test func anIndexCreatedOnATableWithDataIsBuiltInTheBackground() throws {
        let dir = TemporaryDirectory("terms")
        let (engine, registry) = try Self.open(dir.path, define: false)
        defer { engine.close(flush: false) }
        for id in 0 ..< 300 { try Self.put(engine, id) }
        try engine.flush(tableId: Self.tableId)
        for id in 300 ..< 400 { try Self.put(engine, id) }
        registry.define(table: Self.tableId, termIndexes: Self.definitions)
        for id in 400 ..< 450 { try Self.put(engine, id) }
        var waited = 0
        while registry.status(table: Self.tableId, index: "price_idx") == .building, waited < 600 {
            do {
                _ = try Self.query(registry, [Self.eq("price_idx", Self.int(3))])
            } catch let e as TermIndexError {
                #expect(e == .building("price_idx"))
                #expect(e.description == "The secondary index 'price_idx' is not yet available as it is still being built")
            }
            usleep(20_000)
            waited += 1
        }
        #expect(registry.status(table: Self.tableId, index: "price_idx") == .ready)
        #expect(try Set(Self.ids(registry, [Self.eq("price_idx", Self.int(3))])) == Set((0 ..< 450).filter { $0 % 50 == 3 }))
    }
}
