import BasaltCluster
import BasaltCore
@testable import BasaltProtocol
import BasaltStorage
import Testing
@testable import BasaltCQL

/// Storage-attached indexes through the executor: DDL, system_schema and DESCRIBE, index
/// queries (paged, with deleted rows, ANN with restrictions), vector write checks, filtering,
/// similarity functions, and schema logs written by the format-1 codec.
struct IndexExecutionTests {
    func node() async throws -> SingleNodeExecutor {
        let n = try SingleNodeExecutor()
        for s in ExecutorTests.setup { try await n.run(s) }
        try await n.run("CREATE TABLE docs (id int PRIMARY KEY, body text, n int, meta map<text, text>, e vector<float, 2>)")
        return n
    }

    @Test func indexesAppearInSystemSchemaAndDescribe() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE CUSTOM INDEX ON docs (ENTRIES(meta)) USING 'StorageAttachedIndex'")
        try await n.run("CREATE INDEX body_idx ON docs (body) WITH OPTIONS = {'case_sensitive': false}")
        try await n.run("CREATE CUSTOM INDEX IF NOT EXISTS e_idx ON docs (e) USING 'sai' WITH OPTIONS = {'similarity_function': 'DOT_PRODUCT'}")
        let rows = try await n.rows("SELECT index_name, kind, options FROM system_schema.indexes WHERE keyspace_name = 'ks' AND table_name = 'docs'")
        #expect(rows.map { $0[0] } == [.text("body_idx"), .text("docs_meta_idx"), .text("e_idx")])
        #expect(rows.allSatisfy { $0[1] == .text("CUSTOM") })
        #expect(rows[1][2] == .map([CQLMapEntry(key: .text("class_name"), value: .text("StorageAttachedIndex")),
                                    CQLMapEntry(key: .text("target"), value: .text("entries(meta)"))]))
        let described = try await n.rows("DESCRIBE INDEX e_idx")
        #expect(described.first?[3] == .text("CREATE CUSTOM INDEX e_idx ON ks.docs (e) USING 'sai' WITH OPTIONS = {'similarity_function': 'DOT_PRODUCT'};"))
        let table = try await n.rows("DESCRIBE TABLE docs")
        #expect(table.map { $0[2] } == [.text("docs"), .text("body_idx"), .text("docs_meta_idx"), .text("e_idx")])
        await #expect(throws: CQLError.invalid("Index 'ks.nope' doesn't exist")) { try await n.run("DROP INDEX nope") }
        try await n.run("DROP INDEX ks.body_idx")
        #expect(try await n.rows("SELECT index_name FROM system_schema.indexes WHERE keyspace_name = 'ks'").count == 2)
    }

    @Test func indexQueriesRunAndPage() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE INDEX ON docs (n)")
        try await n.run("CREATE INDEX ON docs (body) WITH OPTIONS = {'case_sensitive': false}")
        try await n.run("CREATE INDEX ON docs (ENTRIES(meta))")
        try await n.run("CREATE INDEX ON docs (e)")
        try n.waitForIndexes()
        for i in 0 ..< 40 {
            try await n.run("INSERT INTO docs (id, n, body, meta, e) VALUES (?, ?, ?, ?, ?)", [
                .bytes(try CQLType.int.encode(.int(Int32(i)))), .bytes(try CQLType.int.encode(.int(Int32(i % 10)))),
                .bytes(Array("Doc \(i % 4)".utf8)),
                .bytes(try CQLType.map(.text, .text).encode(.map([CQLMapEntry(key: .text("lang"), value: .text(i % 2 == 0 ? "en" : "fr"))]))),
                .bytes(try CQLType.vector(.float, 2).encode(.vector([Float(i), 1]))),
            ])
        }
        func ids(_ cql: String, _ values: [ProtocolValue] = []) async throws -> Set<Int32> {
            Set(try await n.rows(cql, values).compactMap { if case let .int(v)? = $0.first { v } else { nil } })
        }
        #expect(try await ids("SELECT id FROM docs WHERE n = 5") == [5, 15, 25, 35])
        #expect(try await ids("SELECT id FROM docs WHERE n > 7 AND n <= 9") == Set((0 ..< 40).filter { $0 % 10 > 7 }))
        #expect(try await ids("SELECT id FROM docs WHERE body = 'DOC 1' AND meta['lang'] = 'fr'") == Set((0 ..< 40).filter { $0 % 4 == 1 }))
        #expect(try await ids("SELECT id FROM docs WHERE body = 'doc 1' AND meta['lang'] = 'en'") == [])
        #expect(try await n.rows("SELECT count(*) FROM docs WHERE n < 3") == [[.bigint(12)]])
        // Pages of 3 give every row once.
        var seen: [Int32] = []
        var state: [UInt8]?
        repeat {
            guard case let .rows(r) = try await n.run("SELECT id FROM docs WHERE meta['lang'] = 'en'", pageSize: 3, pagingState: state) else { break }
            seen += SingleNodeExecutor.decode(r).compactMap { if case let .int(v)? = $0.first { v } else { nil } }
            state = r.metadata.pagingState
        } while state != nil
        #expect(seen.count == 20 && Set(seen) == Set((0 ..< 40).filter { $0 % 2 == 0 }))
        // Deleted and overwritten rows drop out.
        try await n.run("DELETE FROM docs WHERE id = 5")
        try await n.run("UPDATE docs SET n = 0 WHERE id = 15")
        #expect(try await ids("SELECT id FROM docs WHERE n = 5") == [25, 35])
        // ANN among the rows the restriction matches.
        let ann = try await n.rows("SELECT id FROM docs WHERE meta['lang'] = 'fr' ORDER BY e ANN OF [20.2, 1.0] LIMIT 3")
        #expect(ann == [[.int(21)], [.int(19)], [.int(23)]])
        await #expect(throws: CQLError.invalid("Zero and near-zero vectors cannot be indexed or queried with cosine similarity")) {
            try await n.run("SELECT * FROM docs ORDER BY e ANN OF ? LIMIT 2", [.bytes(try CQLType.vector(.float, 2).encode(.vector([0, 0])))])
        }
        // Vector writes are checked before anything is applied.
        await #expect(throws: CQLError.invalid("non-finite value at vector[1]=Infinity")) {
            try await n.run("INSERT INTO docs (id, e) VALUES (100, [1.0, Infinity])")
        }
        await #expect(throws: CQLError.invalid("Zero and near-zero vectors cannot be indexed or queried with cosine similarity")) {
            try await n.run("INSERT INTO docs (id, e) VALUES (100, [0.0, 0.0])")
        }
        #expect(try await n.rows("SELECT id FROM docs WHERE id = 100").isEmpty)
    }

    @Test func mapEntryFiltersRunWithAllowFiltering() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("INSERT INTO docs (id, meta) VALUES (1, {'color': 'red', 'size': 'L'})")
        try await n.run("INSERT INTO docs (id, meta) VALUES (2, {'color': 'blue'})")
        try await n.run("INSERT INTO docs (id, meta) VALUES (3, {'shade': 'red'})")
        await #expect(throws: CQLError.invalid(Binder.filteringMessage)) { try await n.run("SELECT id FROM docs WHERE meta['color'] = 'red'") }
        #expect(try await n.rows("SELECT id FROM docs WHERE meta['color'] = 'red' ALLOW FILTERING") == [[.int(1)]])
        let both = try await n.rows("SELECT id FROM docs WHERE meta[?] = ? AND meta CONTAINS KEY 'size' ALLOW FILTERING", [.text("color"), .text("red")])
        #expect(both == [[.int(1)]])
    }

    @Test func similarityScoresAndZeroVectors() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("INSERT INTO docs (id, e) VALUES (1, [1.0, 0.0])")
        let scores = try await n.rows("SELECT similarity_cosine(e, [0.0, 1.0]), similarity_dot_product(e, ?), similarity_euclidean(e, [1.0, 2.0]) FROM docs WHERE id = 1",
                                      [.bytes(try CQLType.vector(.float, 2).encode(.vector([1, 0])))])
        #expect(scores == [[.float(0.5), .float(1), .float(0.2)]])
        try await n.run("INSERT INTO docs (id, e) VALUES (2, [0.0, 0.0])")
        await #expect(throws: CQLError.invalid("Function system.similarity_cosine doesn't support all-zero vectors.")) {
            try await n.run("SELECT similarity_cosine(e, [1.0, 1.0]) FROM docs WHERE id = 2")
        }
        #expect(try await n.rows("SELECT similarity_euclidean(e, [0.0, 0.0]) FROM docs WHERE id = 2") == [[.float(1)]])
    }

    @Test func schemaLogsWrittenByTheFormatOneCodecStillLoad() async throws {
        let dir = ScratchDirectory()
        defer { dir.remove() }
        // The log an earlier Basalt wrote: a keyspace, a table and a vector index, in format 1.
        var h = SchemaHarness()
        try h.run("CREATE KEYSPACE old WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        let ks = try #require(h.schema.keyspace("old")).params
        try h.run("CREATE TABLE old.vec (k int PRIMARY KEY, v vector<float, 2>)")
        let table = try #require(h.schema.table("old", "vec"))
        func formatOne(_ change: SchemaChange) -> [UInt8] { [1] + SchemaCodec.encode(change).dropFirst() }
        var index = ByteWriter()
        index.writeBytes([1, 6])
        for s in ["old", "vec", "vidx", "CUSTOM", "v"] { index.writeVarString(s) }
        index.writeVarUInt(3)
        for (k, v) in [("class_name", IndexSchema.saiClassName), ("similarity_function", "EUCLIDEAN"), ("target", "v")] {
            index.writeVarString(k)
            index.writeVarString(v)
        }
        index.writeBool(false)
        let changes = [formatOne(.createKeyspace(ks, ifNotExists: false)), formatOne(.createTable(table, ifNotExists: false)), index.bytes]
        var log = ByteWriter()
        log.writeUInt8(1)
        log.writeVarUInt(UInt64(changes.count))
        for (i, c) in changes.enumerated() {
            log.writeVarInt(Int64(i + 1))
            log.writeUInt64(1)
            log.writeUInt64(1)
            log.writeVarBytes(c)
        }
        var file = ByteWriter()
        file.writeBytes(Array("BSSC".utf8))
        file.writeUInt8(1)
        file.writeUInt32(UInt32(log.bytes.count))
        file.writeBytes(log.bytes)
        file.writeUInt32LE(CRC32C.checksum(log.bytes))
        try AtomicFile.replace(dir.path + "/schema.log", with: file.bytes)

        let holder = try SchemaHolder(directory: dir.path, engine: nil, logger: .quiet)
        let loaded = try #require(holder.schema.index("old", "vidx"))
        #expect(loaded.target == .column && loaded.similarity == .euclidean && loaded.options["target"] == "v")
        // New definitions are written in format 2 and read back after a restart.
        let change = try Binder(schema: holder.schema, keyspace: "old").bind("CREATE TABLE m (k int PRIMARY KEY, tags map<text, int>)")
        guard case let .schemaChange(c1) = change.kind else { return }
        _ = try holder.accept(SchemaLogEntry(timestamp: 10, origin: UUIDValue(msb: 2, lsb: 2), change: c1))
        let idx = try Binder(schema: holder.schema, keyspace: "old").bind("CREATE INDEX ON m (KEYS(tags))")
        guard case let .schemaChange(c2) = idx.kind else { return }
        _ = try holder.accept(SchemaLogEntry(timestamp: 11, origin: UUIDValue(msb: 2, lsb: 2), change: c2))
        let reloaded = try SchemaHolder(directory: dir.path, engine: nil, logger: .quiet)
        #expect(reloaded.schema == holder.schema && reloaded.version == holder.version)
        #expect(reloaded.schema.index("old", "m_tags_idx")?.targetText == "keys(tags)")
    }
}
