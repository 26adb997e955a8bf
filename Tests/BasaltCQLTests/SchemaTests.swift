import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

/// Applies DDL text through the binder, as the executor will.
struct SchemaHarness {
    var schema = Schema.empty
    var keyspace: String?
    var ids = 0

    @discardableResult
    mutating func run(_ text: String) throws -> SchemaChangeDescription? {
        var n = ids
        let binder = Binder(schema: schema, keyspace: keyspace, nowMicros: 1_000_000, newTableID: { [n] in UUIDValue(msb: 0x1000, lsb: UInt64(n)) })
        n += 1
        ids = n
        let bound = try binder.bind(text)
        switch bound.kind {
        case let .schemaChange(change):
            let (next, description) = try schema.applying(change)
            schema = next
            return description
        case let .use(ks):
            keyspace = ks
            return nil
        default:
            Issue.record("not DDL: \(text)")
            return nil
        }
    }

    func error(_ text: String) -> CQLError? {
        var copy = self
        do {
            try copy.run(text)
            return nil
        } catch let e as CQLError {
            return e
        } catch {
            return nil
        }
    }
}

struct SchemaTests {
    static let feastTable = """
    CREATE TABLE IF NOT EXISTS "ks"."project_view" (entity_key text, feature_name text, value blob, event_ts timestamp,
        created_ts timestamp, PRIMARY KEY ((entity_key), feature_name)) WITH CLUSTERING ORDER BY (feature_name ASC)
    """

    static func feast() throws -> SchemaHarness {
        var h = SchemaHarness()
        try h.run("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        try h.run(feastTable)
        return h
    }

    @Test func createKeyspaceTableAndIndexAnnounceChanges() throws {
        var h = SchemaHarness()
        #expect(try h.run("CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3} AND durable_writes = false")
            == SchemaChangeDescription(change: .created, target: .keyspace, keyspace: "ks"))
        #expect(h.schema.keyspace("ks")?.params == KeyspaceSchema(name: "ks", replication: .networkTopology(["datacenter1": 3]), durableWrites: false))
        try h.run("USE ks")
        #expect(try h.run("CREATE TABLE docs (id int PRIMARY KEY, body text, emb vector<float, 3>)")
            == SchemaChangeDescription(change: .created, target: .table, keyspace: "ks", name: "docs"))
        #expect(try h.run("CREATE CUSTOM INDEX emb_idx ON docs(emb) USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'dot_product'}")
            == SchemaChangeDescription(change: .updated, target: .table, keyspace: "ks", name: "docs"))
        let idx = try #require(h.schema.index("ks", "emb_idx"))
        // Stored as written, as Cassandra stores them.
        #expect(idx.options == ["class_name": "StorageAttachedIndex", "target": "emb", "similarity_function": "dot_product"])
        #expect(idx.similarity == .dotProduct)
        #expect(try h.run("CREATE CUSTOM INDEX IF NOT EXISTS emb_idx ON docs(emb) USING 'sai'") == nil)
        #expect(try h.run("CREATE TABLE IF NOT EXISTS docs (id int PRIMARY KEY)") == nil)
        try h.run("ALTER TABLE docs ADD extra map<text, int>")
        #expect(h.schema.table("ks", "docs")?.column(named: "extra")?.type == .map(.text, .int))
        try h.run("ALTER TABLE docs DROP body")
        #expect(h.schema.table("ks", "docs")?.droppedColumns == ["body": 1_000_000])
        try h.run("ALTER TABLE docs WITH gc_grace_seconds = 5 AND default_time_to_live = 60")
        #expect(h.schema.table("ks", "docs")?.params.gcGraceSeconds == 5)
        try h.run("DROP INDEX emb_idx")
        #expect(h.schema.index("ks", "emb_idx") == nil)
        try h.run("DROP TABLE docs")
        #expect(try h.run("DROP TABLE IF EXISTS docs") == nil)
        try h.run("DROP KEYSPACE ks")
        #expect(h.schema.userKeyspaces.isEmpty)
    }

    @Test(arguments: [
        ("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", CQLError.alreadyExists("Cannot add existing keyspace \"ks\"", keyspace: "ks", table: "")),
        (feastTable.replacingAll("IF NOT EXISTS ", with: ""), .alreadyExists("Cannot add already existing table \"project_view\" to keyspace \"ks\"", keyspace: "ks", table: "project_view")),
        ("CREATE TABLE nope.t (k int PRIMARY KEY)", .invalid("Keyspace 'nope' doesn't exist")),
        ("CREATE TABLE t (k int PRIMARY KEY)", .invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")),
        ("CREATE TABLE ks.t (k int, v int)", .invalid("No PRIMARY KEY specifed for table 't' (exactly one required)")),
        ("CREATE TABLE ks.t (k int PRIMARY KEY, v int, PRIMARY KEY (k))", .invalid("Multiple PRIMARY KEY specifications (only one is allowed)")),
        ("CREATE TABLE ks.t (k int, PRIMARY KEY (x))", .invalid("Unknown definition x referenced in PRIMARY KEY")),
        ("CREATE TABLE ks.t (k int PRIMARY KEY, k text)", .invalid("Multiple definition of identifier k")),
        ("CREATE TABLE ks.t (k list<int> PRIMARY KEY)", .invalid("Invalid non-frozen collection type list<int> for PRIMARY KEY component k")),
        ("CREATE TABLE ks.t (k int PRIMARY KEY, s int static)", .invalid("Static columns are only useful (and thus allowed) if the table has at least one clustering column")),
        ("CREATE TABLE ks.t (k int, c int, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (k DESC)", .invalid("Only clustering key columns can be defined in CLUSTERING ORDER directive: k is not a clustering column")),
        ("CREATE TABLE ks.t (k int PRIMARY KEY) WITH foo = 1", .syntaxError("Unknown property 'foo'")),
        ("CREATE TABLE ks.t (k int PRIMARY KEY) WITH compaction = {'class': 'DateTieredCompactionStrategy'}", .configError("Unable to find compaction strategy class 'DateTieredCompactionStrategy' (Basalt supports SizeTieredCompactionStrategy, TimeWindowCompactionStrategy and LeveledCompactionStrategy)")),
        ("CREATE TABLE ks.t (k int PRIMARY KEY) WITH compaction = {'class': 'LeveledCompactionStrategy', 'fanout_size': '1'}", .configError("fanout_size must be at least 2, got 1")),
        ("CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy'}", .configError("SimpleStrategy requires a replication_factor strategy option.")),
        ("CREATE KEYSPACE k2 WITH replication = {'class': 'Bogus', 'replication_factor': 1}", .configError("Unable to find replication strategy class 'Bogus'")),
        ("CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': -1}", .configError("Replication factor must be non-negative; found -1")),
        ("CREATE KEYSPACE k2 WITH durable_writes = true", .configError("Missing mandatory option 'replication'")),
        ("CREATE KEYSPACE system WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", .unauthorized("system keyspace is not user-modifiable.")),
        ("DROP KEYSPACE nope", .invalid("Keyspace 'nope' doesn't exist")),
        ("DROP TABLE ks.nope", .invalid("Table 'ks.nope' doesn't exist")),
        ("ALTER TABLE ks.project_view ADD value int", .invalid("Column with name 'value' already exists")),
        ("ALTER TABLE ks.project_view DROP feature_name", .invalid("Cannot drop PRIMARY KEY column feature_name")),
        ("ALTER TABLE ks.project_view DROP nope", .invalid("Column nope was not found in table ks.project_view")),
        ("CREATE CUSTOM INDEX ON ks.project_view(value) USING 'sai'", .invalid("Unsupported type: blob")),
        ("CREATE INDEX ON ks.project_view(value)", .invalid("Unsupported type: blob")),
        ("DROP INDEX ks.nope", .invalid("Index 'ks.nope' doesn't exist")),
        ("USE nope", .invalid("Keyspace 'nope' does not exist")),
    ])
    func ddlErrorsAreCassandras(text: String, expected: CQLError) throws {
        let h = try Self.feast()
        #expect(h.error(text) == expected)
    }

    @Test func versionIsADigestOfContentNotHistory() throws {
        var a = SchemaHarness()
        try a.run("CREATE KEYSPACE a WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        try a.run("CREATE KEYSPACE b WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        var b = SchemaHarness()
        try b.run("CREATE KEYSPACE b WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        try b.run("CREATE KEYSPACE a WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        #expect(a.schema.version == b.schema.version)
        #expect(a.schema.version.version == 3)
        try b.run("DROP KEYSPACE a")
        #expect(a.schema.version != b.schema.version)
        #expect(Schema.empty.version == Schema().version)
    }

    @Test func schemaAndChangesRoundTripThroughTheCodec() throws {
        var h = try Self.feast()
        try h.run("CREATE TABLE ks.v (k int, c text, s int static, e vector<float, 4>, m map<text, frozen<list<int>>>, PRIMARY KEY ((k), c)) WITH CLUSTERING ORDER BY (c DESC) AND compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_size': 2, 'compaction_window_unit': 'HOURS'} AND compression = {'enabled': 'false'}")
        try h.run("CREATE CUSTOM INDEX ON ks.v(e) USING 'sai'")
        try h.run("ALTER TABLE ks.v DROP m")
        try h.run("CREATE TABLE ks.lcs (k int PRIMARY KEY, v text) WITH compaction = {'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': 64}")
        let lcs = try #require(h.schema.table("ks", "lcs"))
        #expect(lcs.params.compaction == .leveled(sstableSizeMiB: 64, fanout: 10))
        #expect(SchemaDescriber.createTable(lcs).contains(
            "    AND compaction = {'class': 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy', 'fanout_size': '10', 'sstable_size_in_mb': '64'}\n"))
        try h.run("ALTER TABLE ks.lcs WITH compaction = {'class': 'SizeTieredCompactionStrategy'}")
        #expect(try #require(h.schema.table("ks", "lcs")).params.compaction == .sizeTiered())
        try h.run("ALTER TABLE ks.lcs WITH compaction = {'class': 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy', 'fanout_size': 4}")
        let bytes = SchemaCodec.encode(h.schema)
        #expect(try SchemaCodec.decodeSchema(bytes) == h.schema)
        let changes: [SchemaChange] = [
            .createKeyspace(KeyspaceSchema(name: "x", replication: .networkTopology(["dc1": 2, "dc2": 1])), ifNotExists: true),
            .alterKeyspace(KeyspaceSchema(name: "x", replication: .simple(replicationFactor: 2), durableWrites: false)),
            .dropKeyspace("x", ifExists: false),
            .createTable(try #require(h.schema.table("ks", "v")), ifNotExists: false),
            .alterTable(keyspace: "ks", table: "v", .addColumns([ColumnDefinition(name: "z", type: .set(.uuid), kind: .static)], ifNotExists: true), ifExists: false),
            .alterTable(keyspace: "ks", table: "v", .dropColumns(["z"], at: -5, ifExists: true), ifExists: true),
            .alterTable(keyspace: "ks", table: "v", .params(TableParams()), ifExists: false),
            .dropTable(keyspace: "ks", table: "v", ifExists: true),
            .createIndex(try #require(h.schema.index("ks", "v_e_idx")), ifNotExists: false),
            .dropIndex(keyspace: "ks", index: "v_e_idx", ifExists: false),
        ]
        for c in changes { #expect(try SchemaCodec.decodeChange(SchemaCodec.encode(c)) == c) }
        for cut in 0 ..< bytes.count { #expect(throws: DecodeError.self) { try SchemaCodec.decodeSchema(Array(bytes.prefix(cut))) } }
    }

    static func text(_ row: SchemaRow, _ column: String) -> String? { row[column].map { String(decoding: $0, as: UTF8.self) } }

    @Test func systemSchemaRowsHaveWhatTheDriverReads() throws {
        var h = try Self.feast()
        try h.run("CREATE TABLE ks.vec (id int PRIMARY KEY, v vector<float, 5>)")
        try h.run("CREATE CUSTOM INDEX vidx ON ks.vec(v) USING 'StorageAttachedIndex'")
        let keyspaces = try #require(SchemaRows.rows(of: "keyspaces", in: h.schema))
        #expect(keyspaces.compactMap { Self.text($0, "keyspace_name") } == ["system", "system_schema", "ks"])
        let ks = keyspaces[2]
        #expect(try CQLType.map(.text, .text).decode(try #require(ks["replication"]))
            == .map([CQLMapEntry(key: .text("class"), value: .text("org.apache.cassandra.locator.SimpleStrategy")),
                     CQLMapEntry(key: .text("replication_factor"), value: .text("1"))]))
        let tables = try #require(SchemaRows.rows(of: "tables", in: h.schema))
        let pv = try #require(tables.first { Self.text($0, "table_name") == "project_view" })
        #expect(try CQLType.set(.text).decode(try #require(pv["flags"])) == .set([.text("compound")]))
        #expect(tables.contains { Self.text($0, "keyspace_name") == "system" && Self.text($0, "table_name") == "peers_v2" })
        #expect(tables.contains { Self.text($0, "keyspace_name") == "system_schema" && Self.text($0, "table_name") == "columns" })
        let columns = try #require(SchemaRows.rows(of: "columns", in: h.schema)).filter { Self.text($0, "keyspace_name") == "ks" }
        let byName = Dictionary(uniqueKeysWithValues: columns.map { (Self.text($0, "table_name")! + "." + Self.text($0, "column_name")!, $0) })
        let fn = try #require(byName["project_view.feature_name"])
        #expect(Self.text(fn, "kind") == "clustering" && Self.text(fn, "clustering_order") == "asc" && fn["position"] == [0, 0, 0, 0])
        let value = try #require(byName["project_view.value"])
        #expect(Self.text(value, "kind") == "regular" && Self.text(value, "clustering_order") == "none" && value["position"] == [0xff, 0xff, 0xff, 0xff])
        #expect(Self.text(try #require(byName["vec.v"]), "type") == "vector<float, 5>")
        let indexes = try #require(SchemaRows.rows(of: "indexes", in: h.schema))
        #expect(indexes.count == 1 && Self.text(indexes[0], "kind") == "CUSTOM")
        #expect(try CQLType.map(.text, .text).decode(try #require(indexes[0]["options"]))
            == .map([CQLMapEntry(key: .text("class_name"), value: .text("StorageAttachedIndex")), CQLMapEntry(key: .text("target"), value: .text("v"))]))
        for t in ["types", "functions", "aggregates", "triggers", "views", "dropped_columns"] { #expect(SchemaRows.rows(of: t, in: h.schema) != nil) }
        #expect(SchemaRows.rows(of: "nope", in: h.schema) == nil)
        // Every rendered column exists in the system_schema table's definition with a value of its type.
        for name in ["keyspaces", "tables", "columns", "indexes"] {
            let def = try #require(h.schema.table("system_schema", name))
            for row in try #require(SchemaRows.rows(of: name, in: h.schema)) {
                for (col, bytes) in row {
                    let c = try #require(def.column(named: col), "\(name).\(col)")
                    #expect(throws: Never.self) { try c.type.validate(bytes) }
                }
            }
        }
    }

    @Test func describeMatchesCassandrasFormat() throws {
        var h = try Self.feast()
        try h.run("CREATE TABLE ks.vec (id int PRIMARY KEY, v vector<float, 5>)")
        try h.run("CREATE CUSTOM INDEX vidx ON ks.vec(v) USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'COSINE'}")
        let ks = try #require(h.schema.keyspace("ks"))
        #expect(SchemaDescriber.createKeyspace(ks.params)
            == "CREATE KEYSPACE ks WITH replication = {'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '1'}  AND durable_writes = true;")
        let pv = SchemaDescriber.createTable(try #require(h.schema.table("ks", "project_view")))
        #expect(pv.hasPrefix("""
            CREATE TABLE ks.project_view (
                entity_key text,
                feature_name text,
                created_ts timestamp,
                event_ts timestamp,
                value blob,
                PRIMARY KEY (entity_key, feature_name)
            ) WITH CLUSTERING ORDER BY (feature_name ASC)
                AND additional_write_policy = '99p'
                AND bloom_filter_fp_chance = 0.01
            """))
        #expect(pv.contains("    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'max_threshold': '32', 'min_threshold': '4'}\n"))
        #expect(pv.hasSuffix("    AND speculative_retry = '99p';"))
        #expect(SchemaDescriber.createTable(try #require(h.schema.table("ks", "vec"))).hasPrefix("CREATE TABLE ks.vec (\n    id int PRIMARY KEY,\n    v vector<float, 5>\n) WITH additional_write_policy"))
        #expect(SchemaDescriber.createIndex(try #require(h.schema.index("ks", "vidx")))
            == "CREATE CUSTOM INDEX vidx ON ks.vec (v) USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'COSINE'};")
        let cluster = ClusterDescription(clusterName: "basalt")
        let d = try SchemaDescriber.describe(.keyspace("ks", onlyKeyspace: false), schema: h.schema, currentKeyspace: nil, cluster: cluster)
        #expect(d.rows.map { $0[1] + ":" + $0[2] } == ["keyspace:ks", "table:project_view", "table:vec", "index:vidx"])
        #expect(try SchemaDescriber.describe(.keyspaces, schema: h.schema, currentKeyspace: nil, cluster: cluster).rows.map { $0[0] } == ["system", "system_schema", "ks"])
        #expect(try SchemaDescriber.describe(.name(QualifiedName(name: "vec")), schema: h.schema, currentKeyspace: "ks", cluster: cluster).rows.count == 2)
        #expect(throws: CQLError.invalid("'nope' not found in keyspace 'ks'")) {
            try SchemaDescriber.describe(.table(QualifiedName(keyspace: "ks", name: "nope")), schema: h.schema, currentKeyspace: nil, cluster: cluster)
        }
        #expect(SchemaDescriber.identifier("MyTable") == "\"MyTable\"" && SchemaDescriber.identifier("select") == "\"select\"")
    }

    @Test func describedStatementsParseBackToTheSameSchema() throws {
        var h = try Self.feast()
        try h.run("CREATE TABLE ks.t2 (a int, b text, c timestamp, s set<int> static, \"Quoted\" int, PRIMARY KEY ((a, b), c)) WITH CLUSTERING ORDER BY (c DESC) AND comment = 'it''s'")
        var replay = SchemaHarness()
        for row in try SchemaDescriber.describe(.schema(full: false), schema: h.schema, currentKeyspace: nil, cluster: ClusterDescription(clusterName: "c")).rows {
            try replay.run(row[3])
        }
        for name in ["project_view", "t2"] {
            var a = try #require(h.schema.table("ks", name)), b = try #require(replay.schema.table("ks", name))
            a.id = b.id
            #expect(a == b)
        }
    }
}
