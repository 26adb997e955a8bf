import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

/// CREATE / DROP INDEX: the storage-attached index definitions Cassandra 5 accepts, what
/// system_schema and DESCRIBE show of them, the schema codec, and Cassandra's errors.
struct IndexSchemaTests {
    static let table = """
    CREATE TABLE ks.s (k int, pk2 text, c int, v text, n int, u uuid, ts timestamp, b boolean, e vector<float, 3>,
        e1 vector<float, 1>, l list<text>, st set<int>, m map<text, text>, fl frozen<list<int>>, fm frozen<map<text, int>>,
        tp tuple<int, text>, bl blob, s int static, "MyCol" int, PRIMARY KEY ((k, pk2), c))
    """

    static func harness() throws -> SchemaHarness {
        var h = try SchemaTests.feast()
        try h.run(table)
        try h.run("CREATE TABLE ks.kv1 (k int PRIMARY KEY, v text)")
        return h
    }

    @Test func everyTargetKindIsStoredAsCassandraStoresIt() throws {
        var h = try Self.harness()
        try h.run("CREATE CUSTOM INDEX e_idx ON ks.s (e) USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'dot_product', 'source_model': 'openai-v3-small'}")
        try h.run("CREATE INDEX ON ks.s (v) USING 'sai' WITH OPTIONS = {'case_sensitive': false, 'normalize': 'true', 'ascii': 'TRUE'}")
        try h.run("CREATE INDEX ON ks.s (n)")
        try h.run("CREATE CUSTOM INDEX ON ks.s (KEYS(m)) USING 'SAI'")
        try h.run("CREATE CUSTOM INDEX ON ks.s (VALUES(m)) USING 'sai'")
        try h.run("CREATE CUSTOM INDEX ON ks.s (ENTRIES(m)) USING 'org.apache.cassandra.index.sai.StorageAttachedIndex'")
        try h.run("CREATE INDEX ON ks.s (l)")
        try h.run("CREATE INDEX ON ks.s (full(fl))")
        for c in ["c", "k", "s", "tp", "u", "ts", "b", "\"MyCol\""] { try h.run("CREATE INDEX ON ks.s (\(c))") }
        try h.run("CREATE INDEX ON ks.s (e1) WITH OPTIONS = {'similarity_function': 'EUCLIDEAN'}")

        let e = try #require(h.schema.index("ks", "e_idx"))
        #expect(e.options == ["class_name": "StorageAttachedIndex", "target": "e", "similarity_function": "dot_product", "source_model": "openai-v3-small"])
        #expect(e.similarity == .dotProduct && e.settings.sourceModel == .openAIV3Small)
        let v = try #require(h.schema.index("ks", "s_v_idx"))
        #expect(v.options == ["class_name": "sai", "target": "v", "case_sensitive": "false", "normalize": "true", "ascii": "TRUE"])
        #expect(!v.settings.caseSensitive && v.settings.normalize && v.settings.ascii && v.settings.isAnalyzed)
        #expect(h.schema.index("ks", "s_n_idx")?.options == ["class_name": "sai", "target": "n"])
        #expect(h.schema.index("ks", "s_m_idx")?.options == ["class_name": "SAI", "target": "keys(m)"])
        #expect(h.schema.index("ks", "s_m_idx_1")?.target == .values && h.schema.index("ks", "s_m_idx_1")?.targetText == "values(m)")
        #expect(h.schema.index("ks", "s_m_idx_2")?.options == ["class_name": IndexSchema.saiClassName, "target": "entries(m)"])
        #expect(h.schema.index("ks", "s_l_idx")?.targetText == "values(l)")
        #expect(h.schema.index("ks", "s_fl_idx")?.targetText == "full(fl)")
        #expect(h.schema.index("ks", "s_MyCol_idx")?.targetText == "\"MyCol\"")
        #expect(h.schema.index("ks", "s_e1_idx")?.similarity == .euclidean)

        let rows = try #require(SchemaRows.rows(of: "indexes", in: h.schema)).filter { SchemaTests.text($0, "table_name") == "s" }
        #expect(rows.allSatisfy { SchemaTests.text($0, "kind") == "CUSTOM" })
        #expect(rows.compactMap { SchemaTests.text($0, "index_name") } == rows.compactMap { SchemaTests.text($0, "index_name") }.sorted())
        let keys = try #require(rows.first { SchemaTests.text($0, "index_name") == "s_m_idx" })
        #expect(try CQLType.map(.text, .text).decode(try #require(keys["options"]))
            == .map([CQLMapEntry(key: .text("class_name"), value: .text("SAI")), CQLMapEntry(key: .text("target"), value: .text("keys(m)"))]))

        #expect(SchemaDescriber.createIndex(try #require(h.schema.index("ks", "s_m_idx"))) == "CREATE CUSTOM INDEX s_m_idx ON ks.s (keys(m)) USING 'SAI';")
        #expect(SchemaDescriber.createIndex(v)
            == "CREATE CUSTOM INDEX s_v_idx ON ks.s (v) USING 'sai' WITH OPTIONS = {'ascii': 'TRUE', 'case_sensitive': 'false', 'normalize': 'true'};")
        #expect(SchemaDescriber.createIndex(try #require(h.schema.index("ks", "s_MyCol_idx")))
            == "CREATE CUSTOM INDEX \"s_MyCol_idx\" ON ks.s (\"MyCol\") USING 'sai';")
    }

    @Test func describedIndexesReplayToTheSameSchema() throws {
        var h = try Self.harness()
        try h.run("CREATE CUSTOM INDEX ON ks.s (ENTRIES(m)) USING 'StorageAttachedIndex'")
        try h.run("CREATE INDEX vidx ON ks.s (e) WITH OPTIONS = {'similarity_function': 'euclidean', 'optimize_for': 'recall'}")
        try h.run("CREATE INDEX ON ks.s (full(fm))")
        try h.run("CREATE INDEX ON ks.s (\"MyCol\")")
        let rows = try SchemaDescriber.describe(.table(QualifiedName(keyspace: "ks", name: "s")), schema: h.schema, currentKeyspace: nil,
                                                cluster: ClusterDescription(clusterName: "c")).rows
        #expect(rows.map { $0[1] } == ["table", "index", "index", "index", "index"])
        var replay = SchemaHarness()
        try replay.run("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        for row in rows { try replay.run(row[3]) }
        #expect(replay.schema.keyspace("ks")?.indexes == h.schema.keyspace("ks")?.indexes)
    }

    @Test func theCodecRoundTripsIndexesAndReadsFormatOne() throws {
        var h = try Self.harness()
        try h.run("CREATE CUSTOM INDEX ON ks.s (KEYS(m)) USING 'sai' ")
        try h.run("CREATE INDEX ON ks.s (e) WITH OPTIONS = {'source_model': 'BERT'}")
        try h.run("CREATE INDEX ON ks.s (full(fl))")
        #expect(try SchemaCodec.decodeSchema(SchemaCodec.encode(h.schema)) == h.schema)
        for index in try #require(h.schema.keyspace("ks")).indexes.values {
            let change = SchemaChange.createIndex(index, ifNotExists: true)
            #expect(try SchemaCodec.decodeChange(SchemaCodec.encode(change)) == change)
        }
        // A change written by the format-1 codec: the index as kind, column and system_schema options.
        var w = ByteWriter()
        w.writeUInt8(1)
        w.writeUInt8(6)
        for s in ["ks", "vec", "vidx", "CUSTOM", "v"] { w.writeVarString(s) }
        w.writeVarUInt(3)
        for (k, v) in [("class_name", IndexSchema.saiClassName), ("similarity_function", "DOT_PRODUCT"), ("target", "v")] {
            w.writeVarString(k)
            w.writeVarString(v)
        }
        w.writeBool(false)
        let old = try SchemaCodec.decodeChange(w.bytes)
        let expected = IndexSchema(keyspace: "ks", table: "vec", name: "vidx", column: "v", target: .column, className: IndexSchema.saiClassName,
                                   userOptions: ["similarity_function": "DOT_PRODUCT"])
        #expect(old == .createIndex(expected, ifNotExists: false))
        #expect(expected.options == ["class_name": IndexSchema.saiClassName, "target": "v", "similarity_function": "DOT_PRODUCT"])
        // A whole schema without indexes reads the same in both formats; format 3 is unknown.
        var bytes = SchemaCodec.encode(try SchemaTests.feast().schema)
        bytes[0] = 1
        #expect(try SchemaCodec.decodeSchema(bytes) == (try SchemaTests.feast().schema))
        bytes[0] = 3
        #expect(throws: DecodeError.self) { try SchemaCodec.decodeSchema(bytes) }
    }

    @Test(arguments: [
        ("CREATE INDEX ON ks.s (bl)", CQLError.invalid("Unsupported type: blob")),
        ("CREATE INDEX ON ks.s (values(fl))", .invalid("Cannot create values() index on frozen column fl. Frozen collections are immutable and must be fully indexed by using the 'full(fl)' modifier")),
        ("CREATE INDEX ON ks.s (fl)", .invalid("Cannot create values() index on frozen column fl. Frozen collections are immutable and must be fully indexed by using the 'full(fl)' modifier")),
        ("CREATE INDEX ON ks.s (keys(fm))", .invalid("Cannot create keys() index on frozen column fm. Frozen collections are immutable and must be fully indexed by using the 'full(fm)' modifier")),
        ("CREATE INDEX ON ks.s (full(l))", .invalid("full() indexes can only be created on frozen collections")),
        ("CREATE INDEX ON ks.s (full(v))", .invalid("full() indexes can only be created on frozen collections")),
        ("CREATE INDEX ON ks.s (keys(v))", .invalid("Cannot create keys() index on v. Non-collection columns only support simple indexes")),
        ("CREATE INDEX ON ks.s (keys(l))", .invalid("Cannot create index on keys of column l with non-map type")),
        ("CREATE INDEX ON ks.s (entries(st))", .invalid("Cannot create index on entries of column st with non-map type")),
        ("CREATE INDEX ON ks.kv1 (k)", .invalid("Cannot create secondary index on the only partition key column k")),
        ("CREATE INDEX ON ks.s (nope)", .invalid("Undefined column name nope in table ks.s")),
        ("CREATE INDEX ON ks.nope (v)", .invalid("Table 'nope' doesn't exist")),
        ("CREATE INDEX ON nope.s (v)", .invalid("Keyspace 'nope' doesn't exist")),
        ("CREATE INDEX ON ks.s (v) WITH OPTIONS = {'foo': 'bar', 'Similarity_Function': 'cosine'}",
         .configError("Properties specified [Similarity_Function, foo] are not understood by StorageAttachedIndex")),
        ("CREATE INDEX ON ks.s (v) WITH OPTIONS = {'index_analyzer': 'standard'}", .configError("Properties specified [index_analyzer] are not understood by StorageAttachedIndex")),
        ("CREATE INDEX ON ks.s (n) WITH OPTIONS = {'case_sensitive': 'false'}", .invalid("CQL type int cannot be analyzed.")),
        ("CREATE INDEX ON ks.s (c) WITH OPTIONS = {'case_sensitive': 'false'}", .invalid("Analysis options are not supported on primary key columns, but found {'case_sensitive': 'false'}")),
        ("CREATE INDEX ON ks.s (v) WITH OPTIONS = {'normalize': 'yes'}", .invalid("Illegal value for boolean option 'normalize': yes")),
        ("CREATE INDEX ON ks.s (v) WITH OPTIONS = {'ascii': ''}", .invalid("Empty value for boolean option 'ascii'")),
        ("CREATE INDEX ON ks.s (v) WITH OPTIONS = {'similarity_function': 'cosine'}", .invalid("CQL type text cannot have vector options")),
        ("CREATE INDEX ON ks.s (e) WITH OPTIONS = {'similarity_function': 'manhattan'}",
         .invalid("Similarity function MANHATTAN was not recognized for index s_e_idx. Valid values are: EUCLIDEAN, DOT_PRODUCT, COSINE")),
        ("CREATE INDEX ON ks.s (e) WITH OPTIONS = {'source_model': 'gpt'}",
         .invalid("source_model 'GPT' was not recognized for index s_e_idx. Valid values are: ADA002, OPENAI_V3_SMALL, OPENAI_V3_LARGE, BERT, GECKO, NV_QA_4, OTHER")),
        ("CREATE INDEX ON ks.s (e) WITH OPTIONS = {'optimize_for': 'speed'}", .invalid("optimize_for 'SPEED' was not recognized for index s_e_idx. Valid values are: LATENCY, RECALL")),
        ("CREATE INDEX ON ks.s (e) WITH OPTIONS = {'maximum_node_connections': '0'}", .invalid("Maximum number of connections for index s_e_idx cannot be <= 0 or > 512, was 0")),
        ("CREATE INDEX ON ks.s (e) WITH OPTIONS = {'construction_beam_width': 'wide'}", .invalid("Construction beam width wide is not a valid integer for index s_e_idx")),
        ("CREATE INDEX ON ks.s (e1)", .invalid("Cosine similarity is not supported for single-dimension vectors")),
        ("CREATE INDEX ON ks.s (v) WITH OPTIONS = {'target': 'x'}", .invalid("Cannot specify target as a CUSTOM option")),
        ("CREATE CUSTOM INDEX ON ks.s (v) USING 'org.apache.cassandra.index.sasi.SASIIndex'",
         .invalid("Basalt builds only storage-attached indexes: SASI indexes are not supported (use USING 'sai')")),
        ("CREATE INDEX ON ks.s (v) USING 'legacy_local_table'",
         .invalid("Basalt builds only storage-attached indexes: legacy_local_table secondary indexes are not supported (use USING 'sai')")),
        ("CREATE CUSTOM INDEX ON ks.s (v) USING 'com.example.Foo'", .configError("Unable to find custom indexer class 'com.example.Foo'")),
        ("CREATE CUSTOM INDEX ON ks.s (v) USING 'ORG.APACHE.CASSANDRA.INDEX.SAI.STORAGEATTACHEDINDEX'",
         .configError("Unable to find custom indexer class 'ORG.APACHE.CASSANDRA.INDEX.SAI.STORAGEATTACHEDINDEX'")),
        ("CREATE INDEX ON system.local (cluster_name)", .unauthorized("system keyspace is not user-modifiable.")),
    ])
    func invalidIndexesGetCassandrasErrors(text: String, expected: CQLError) throws {
        #expect(try Self.harness().error(text) == expected)
    }

    @Test func analysisAppliesToTextElementsOfCollections() throws {
        var h = try Self.harness()
        try h.run("CREATE INDEX ON ks.s (values(m)) WITH OPTIONS = {'case_sensitive': 'false'}")
        try h.run("CREATE INDEX ON ks.s (keys(m)) WITH OPTIONS = {'normalize': 'true'}")
        #expect(h.error("CREATE INDEX ON ks.s (st) WITH OPTIONS = {'ascii': 'true'}") == .invalid("CQL type int cannot be analyzed."))
        #expect(h.error("CREATE INDEX ON ks.s (entries(m)) WITH OPTIONS = {'ascii': 'true'}") == .invalid("CQL type map<text, text> cannot be analyzed."))
    }

    @Test func duplicatesAndIfNotExists() throws {
        var h = try Self.harness()
        try h.run("CREATE INDEX vi ON ks.s (v)")
        #expect(h.error("CREATE INDEX vi ON ks.s (n)") == .invalid("Index 'vi' already exists"))
        #expect(try h.run("CREATE INDEX IF NOT EXISTS vi ON ks.s (nope)") == nil)
        #expect(h.error("CREATE INDEX v2 ON ks.s (v)") == .invalid("Index v2 is a duplicate of existing index vi"))
        #expect(try h.run("CREATE INDEX IF NOT EXISTS v2 ON ks.s (v)") == nil)
        #expect(h.error("CREATE INDEX ON ks.s (v)") == .invalid("Index s_v_idx is a duplicate of existing index vi"))
        #expect(h.error("CREATE CUSTOM INDEX v3 ON ks.s (v) USING 'StorageAttachedIndex'")
            == .invalid("Cannot create more than one storage-attached index on the same column: v"))
        try h.run("CREATE CUSTOM INDEX ON ks.s (KEYS(m)) USING 'sai'")
        try h.run("CREATE CUSTOM INDEX ON ks.s (VALUES(m)) USING 'sai'")
        #expect(h.error("CREATE CUSTOM INDEX other ON ks.s (KEYS(m)) USING 'StorageAttachedIndex'")
            == .invalid("Cannot create more than one storage-attached index on the same column: m"))
        #expect(h.error("ALTER TABLE ks.s DROP v") == .invalid("Cannot drop column v because it has dependent secondary indexes (vi)"))
        #expect(try h.run("DROP INDEX ks.vi") == SchemaChangeDescription(change: .updated, target: .table, keyspace: "ks", name: "s"))
        #expect(try h.run("DROP INDEX IF EXISTS ks.vi") == nil)
        #expect(h.error("DROP INDEX ks.vi") == .invalid("Index 'ks.vi' doesn't exist"))
        try h.run("DROP TABLE ks.s")
        #expect(h.schema.keyspace("ks")?.indexes.isEmpty == true)
    }

    @Test func concurrentCreationsConvergeOnTheFirstInLogOrder() throws {
        // Two nodes create an index on the same target under different names: replaying both in
        // the log's order keeps the first and skips the second (Schema.applying re-checks).
        var h = try Self.harness()
        let a = try Binder(schema: h.schema, keyspace: "ks").bind("CREATE INDEX a ON s (v)")
        let b = try Binder(schema: h.schema, keyspace: "ks").bind("CREATE CUSTOM INDEX b ON s (v) USING 'StorageAttachedIndex'")
        guard case let .schemaChange(ca) = a.kind, case let .schemaChange(cb) = b.kind else { Issue.record("not DDL"); return }
        h.schema = try h.schema.applying(ca).0
        #expect(throws: CQLError.invalid("Cannot create more than one storage-attached index on the same column: v")) { try h.schema.applying(cb) }
    }
}
