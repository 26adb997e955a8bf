import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

struct LexerTests {
    @Test func tokensOfEveryKind() throws {
        let toks = try CQLLexer.tokenize("SELECT \"My\"\"Col\", 'it''s', $$a'b$$, -12, 1.5e-3, 0xCAFE, 550e8400-e29b-41d4-a716-446655440000, ? :name -- c\n /* x */ // y\n;")
        let kinds = toks.map(\.kind)
        #expect(kinds == [
            .word("select"), .quotedName("My\"Col"), .symbol(","), .string("it's"), .symbol(","), .string("a'b"), .symbol(","),
            .integer("-12"), .symbol(","), .float("1.5e-3"), .symbol(","), .hex([0xca, 0xfe]), .symbol(","),
            .uuid("550e8400-e29b-41d4-a716-446655440000"), .symbol(","), .symbol("?"), .symbol(":"), .word("name"), .symbol(";"), .endOfInput,
        ])
    }

    @Test func locationsCountLinesAndCharacters() throws {
        let toks = try CQLLexer.tokenize("SELECT\n  'żółw', x")
        #expect(toks[1].location == SourceLocation(line: 2, column: 2, offset: 9))
        #expect(toks[3].location.line == 2 && toks[3].location.column == 10)
    }

    @Test(arguments: [
        ("SELECT 'abc", "line 1:11 mismatched character '<EOF>' expecting '''"),
        ("SELECT \"abc", "line 1:11 mismatched character '<EOF>' expecting '\"'"),
        ("SELECT /* abc", "line 1:7 unterminated comment"),
        ("SELECT # FROM t", "line 1:7 no viable alternative at character '#'"),
        ("SELECT 12abc FROM t", "line 1:7 no viable alternative at input '12abc'"),
    ])
    func lexicalErrorsHavePositions(text: String, prefix: String) {
        do {
            _ = try CQLLexer.tokenize(text)
            Issue.record("no error for \(text)")
        } catch {
            #expect(error.message.hasPrefix(prefix), "\(error.message)")
        }
    }
}

struct ParserTests {
    static func parse(_ s: String) throws -> Statement { try CQLParser.parse(s).statement }

    @Test func useWithQuotedAndFoldedNames() throws {
        #expect(try Self.parse("USE Ks;") == .use("ks"))
        #expect(try Self.parse("use \"MyKs\"") == .use("MyKs"))
    }

    @Test func createKeyspace() throws {
        guard case let .createKeyspace(k) = try Self.parse("CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3} AND durable_writes = false")
        else { Issue.record("wrong statement"); return }
        #expect(k.name == "ks" && k.ifNotExists)
        #expect(k.properties[0].value.mapValue == ["class": "SimpleStrategy", "replication_factor": "3"])
        #expect(k.properties[1] == Property(name: "durable_writes", value: .constant("false")))
    }

    @Test func createTableFeast() throws {
        let text = """
        CREATE TABLE IF NOT EXISTS "ks"."project_view" (entity_key text, feature_name text, value blob, event_ts timestamp,
            created_ts timestamp, PRIMARY KEY ((entity_key), feature_name)) WITH CLUSTERING ORDER BY (feature_name ASC);
        """
        guard case let .createTable(t) = try Self.parse(text) else { Issue.record("wrong statement"); return }
        #expect(t.name == QualifiedName(keyspace: "ks", name: "project_view"))
        #expect(t.partitionKey == ["entity_key"] && t.clustering == ["feature_name"])
        #expect(t.columns.map(\.type) == [.text, .text, .blob, .timestamp, .timestamp])
        #expect(t.clusteringOrder == [ClusteringOrder(column: "feature_name", descending: false)])
    }

    @Test func createTableTypesAndOptions() throws {
        let text = """
        CREATE TABLE t (a int, b frozen<list<int>>, c map<text, frozen<set<uuid>>>, d tuple<int, text>, v vector<float, 3>,
          s text static, PRIMARY KEY ((a, b), d)) WITH CLUSTERING ORDER BY (d DESC)
          AND compaction = {'class': 'SizeTieredCompactionStrategy', 'max_threshold': 16} AND gc_grace_seconds = 10 AND comment = 'hi'
        """
        guard case let .createTable(t) = try Self.parse(text) else { Issue.record("wrong statement"); return }
        #expect(t.columns.map(\.type) == [.int, .frozen(.list(.int)), .map(.text, .frozen(.set(.uuid))), .frozen(.tuple([.int, .text])), .vector(.float, 3), .text])
        #expect(t.columns[5].isStatic)
        #expect(t.partitionKey == ["a", "b"] && t.clustering == ["d"])
        #expect(t.properties.map(\.name) == ["compaction", "gc_grace_seconds", "comment"])
        guard case let .createTable(inline) = try Self.parse("CREATE TABLE kv (k int PRIMARY KEY, v text)") else { return }
        #expect(inline.columns[0].isPrimaryKey)
    }

    @Test func alterDropTruncate() throws {
        #expect(try Self.parse("ALTER TABLE t ADD x int") == .alterTable(AlterTableStatement(table: QualifiedName(name: "t"), ifExists: false,
                                                                                           action: .add([ColumnDeclaration(name: "x", type: .int, isStatic: false, isPrimaryKey: false)], ifNotExists: false))))
        #expect(try Self.parse("ALTER TABLE ks.t DROP (x, y)") == .alterTable(AlterTableStatement(table: QualifiedName(keyspace: "ks", name: "t"), ifExists: false, action: .drop(["x", "y"], ifExists: false))))
        #expect(try Self.parse("DROP TABLE IF EXISTS ks.t") == .dropTable(QualifiedName(keyspace: "ks", name: "t"), ifExists: true))
        #expect(try Self.parse("DROP KEYSPACE ks") == .dropKeyspace("ks", ifExists: false))
        #expect(try Self.parse("TRUNCATE TABLE t") == .truncate(QualifiedName(name: "t")))
        #expect(try Self.parse("DROP INDEX IF EXISTS ks.idx") == .dropIndex(QualifiedName(keyspace: "ks", name: "idx"), ifExists: true))
    }

    @Test func createIndexForms() throws {
        guard case let .createIndex(i) = try Self.parse("CREATE CUSTOM INDEX IF NOT EXISTS idx ON t(v) USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'DOT_PRODUCT'}")
        else { Issue.record("wrong statement"); return }
        #expect(i.name == "idx" && i.isCustom && i.ifNotExists && i.column == "v" && i.using == "StorageAttachedIndex")
        #expect(i.options.map(\.0) == ["similarity_function"])
        guard case let .createIndex(j) = try Self.parse("CREATE INDEX ON ks.t (v) USING 'sai'") else { return }
        #expect(j.name == nil && !j.isCustom && j.using == "sai")
    }

    @Test func insertWithMarkersAndUsing() throws {
        let p = try CQLParser.parse("INSERT INTO ks.t (k, v, m) VALUES (?, :val, {'a': 1}) USING TTL 10 AND TIMESTAMP ?")
        guard case let .insert(i) = p.statement else { Issue.record("wrong statement"); return }
        #expect(i.values == [.marker(BindMarker(index: 0)), .marker(BindMarker(index: 1, name: "val")),
                             .map([MapLiteralEntry(key: .literal(.string("a")), value: .literal(.integer("1")))])])
        #expect(i.using == UsingClause(ttl: .literal(.integer("10")), timestamp: .marker(BindMarker(index: 2))))
        #expect(p.markers.map(\.index) == [0, 1, 2])
        guard case let .insert(lwt) = try Self.parse("INSERT INTO t (k) VALUES (1) IF NOT EXISTS") else { return }
        #expect(lwt.ifNotExists)
    }

    @Test func literalForms() throws {
        guard case let .insert(i) = try Self.parse("INSERT INTO t (a,b,c,d,e,f,g,h,i,j,k) VALUES (NaN, -Infinity, 0x, true, null, [1.5, -2], {1, 2}, (1, 'x'), {}, now(), 123e4)")
        else { Issue.record("wrong statement"); return }
        #expect(i.values == [.literal(.nan), .literal(.infinity(negative: true)), .literal(.hex([])), .literal(.boolean(true)), .literal(.null),
                             .list([.literal(.float("1.5")), .literal(.integer("-2"))]), .set([.literal(.integer("1")), .literal(.integer("2"))]),
                             .tuple([.literal(.integer("1")), .literal(.string("x"))]), .set([]), .function("now", []), .literal(.float("123e4"))])
    }

    @Test func updateAssignments() throws {
        guard case let .update(u) = try Self.parse("UPDATE t USING TTL 5 SET a = a + [1], b = b - {'x'}, m['k'] = 'v', l = [0] + l, c = 3, s += {'y'} WHERE k = ? AND c IN (1, 2)")
        else { Issue.record("wrong statement"); return }
        #expect(u.assignments == [
            .append("a", .list([.literal(.integer("1"))])), .remove("b", .set([.literal(.string("x"))])),
            .setElement("m", key: .literal(.string("k")), value: .literal(.string("v"))), .prepend("l", .list([.literal(.integer("0"))])),
            .set("c", .literal(.integer("3"))), .append("s", .set([.literal(.string("y"))])),
        ])
        #expect(u.whereClause.count == 2 && u.whereClause[1].op == .in && u.whereClause[1].inValues?.count == 2)
    }

    @Test func deleteForms() throws {
        guard case let .delete(d) = try Self.parse("DELETE a, m['k'] FROM t USING TIMESTAMP 5 WHERE k = 1 AND c >= 2") else { Issue.record("wrong"); return }
        #expect(d.targets == [.column("a"), .element("m", .literal(.string("k")))])
        #expect(d.using.timestamp == .literal(.integer("5")))
        #expect(d.whereClause[1].op == .gte)
        #expect(throws: CQLSyntaxError.self) { try Self.parse("DELETE FROM t USING TTL 5 WHERE k = 1") }
    }

    @Test func batches() throws {
        guard case let .batch(b) = try Self.parse("BEGIN UNLOGGED BATCH USING TIMESTAMP 1 INSERT INTO t (k) VALUES (?); UPDATE t SET v = ? WHERE k = ?; DELETE FROM t WHERE k = ? APPLY BATCH;")
        else { Issue.record("wrong"); return }
        #expect(b.kind == .unlogged && b.statements.count == 3)
        #expect(try CQLParser.parse("BEGIN BATCH INSERT INTO t (k) VALUES (?) INSERT INTO t (k) VALUES (?) APPLY BATCH").markers.count == 2)
    }

    @Test func selectForms() throws {
        guard case let .select(s) = try Self.parse("""
            SELECT DISTINCT k AS key, token(k), count(*), writetime(v), similarity_cosine(v, [0.1, 0.2]) FROM ks.t
            WHERE token(k) > ? AND token(k) <= ? AND c IN ? AND (c1, c2) > (1, 2) AND l CONTAINS 3 AND m CONTAINS KEY 'a'
            ORDER BY c DESC PER PARTITION LIMIT 2 LIMIT ? ALLOW FILTERING
            """) else { Issue.record("wrong"); return }
        #expect(s.distinct && s.allowFiltering)
        #expect(s.selection.map(\.selector) == [.column("k"), .function("token", [.column("k")]), .countRows, .function("writetime", [.column("v")]),
                                                .function("similarity_cosine", [.column("v"), .term(.list([.literal(.float("0.1")), .literal(.float("0.2"))]))])])
        #expect(s.selection[0].alias == "key")
        #expect(s.whereClause.map(\.target) == [.token(["k"]), .token(["k"]), .column("c"), .columns(["c1", "c2"]), .column("l"), .column("m")])
        #expect(s.whereClause.map(\.op) == [.gt, .lte, .in, .gt, .contains, .containsKey])
        #expect(s.ordering == .columns([ClusteringOrder(column: "c", descending: true)]))
        #expect(s.perPartitionLimit == .literal(.integer("2")))
        #expect(s.limit == .marker(BindMarker(index: 3)))
    }

    @Test func modifierWordsCanBeColumnNames() throws {
        guard case let .select(s) = try Self.parse("SELECT distinct, json FROM t") else { return }
        #expect(!s.distinct && !s.json && s.selection.map(\.selector) == [.column("distinct"), .column("json")])
    }

    @Test func annOrdering() throws {
        let p = try CQLParser.parse("SELECT * FROM t ORDER BY v ANN OF ? LIMIT ?")
        guard case let .select(s) = p.statement else { return }
        #expect(s.ordering == .ann(column: "v", vector: .marker(BindMarker(index: 0))))
        #expect(s.selection.isEmpty && p.markers.count == 2)
        #expect(try CQLParser.parse("SELECT count(1) FROM t").statement == .select(SelectStatement(
            distinct: false, json: false, selection: [SelectClause(selector: .countRows, alias: nil)], table: QualifiedName(name: "t"),
            whereClause: [], ordering: nil, perPartitionLimit: nil, limit: nil, allowFiltering: false)))
    }

    @Test(arguments: [
        ("DESCRIBE KEYSPACES", DescribeStatement.keyspaces), ("DESC KEYSPACE ks", .keyspace("ks", onlyKeyspace: false)),
        ("describe keyspace", .keyspace(nil, onlyKeyspace: false)), ("DESCRIBE TABLES", .tables),
        ("DESCRIBE TABLE ks.t", .table(QualifiedName(keyspace: "ks", name: "t"))), ("DESCRIBE INDEX i", .index(QualifiedName(name: "i"))),
        ("DESCRIBE SCHEMA", .schema(full: false)), ("DESCRIBE FULL SCHEMA", .schema(full: true)), ("DESCRIBE CLUSTER", .cluster),
        ("DESC ks.t", .name(QualifiedName(keyspace: "ks", name: "t"))), ("DESCRIBE ONLY KEYSPACE ks", .keyspace("ks", onlyKeyspace: true)),
    ])
    func describeForms(text: String, expected: DescribeStatement) throws {
        #expect(try Self.parse(text) == .describe(expected))
    }

    /// Errors: (statement, line:column, found, message prefix).
    @Test(arguments: [
        ("SELECT * FORM t", "1:9", "FORM", "line 1:9 mismatched input 'FORM' expecting FROM (SELECT * [FORM] t...)"),
        ("SELEC * FROM t", "1:0", "SELEC", "line 1:0 no viable alternative at input 'SELEC'"),
        ("SELECT * FROM", "1:13", "<EOF>", "line 1:13 mismatched input '<EOF>' expecting table name"),
        ("INSERT INTO t (k v) VALUES (1)", "1:17", "v", "line 1:17 mismatched input 'v' expecting ')'"),
        ("CREATE TABLE t (\n  k int PRIMARY KEY,\n  v lst<int>\n)", "3:4", "lst", "Unknown type lst"),
        ("SELECT * FROM t WHERE k = 1 1", "1:28", "1", "line 1:28 mismatched input '1' expecting <EOF>"),
        ("SELECT * FROM t WHERE select = 1", "1:22", "select", "line 1:22 mismatched input 'select' expecting column name"),
        ("UPDATE t SET v = WHERE k = 1", "1:17", "WHERE", "line 1:17 no viable alternative at input 'WHERE'"),
    ])
    func syntaxErrorsSayWhereAndWhat(text: String, at: String, found: String, message: String) {
        do {
            _ = try CQLParser.parse(text)
            Issue.record("no error for \(text)")
        } catch {
            #expect(error.location.description == at)
            #expect(error.found == found)
            #expect(error.message.hasPrefix(message), "\(error.message)")
        }
    }

    @Test(arguments: ["CREATE ROLE r WITH OPTIONS = {'a': 'b'}", "GRANT EXECUTE ON ALL FUNCTIONS TO r", "CREATE TABLE t (k counter PRIMARY KEY)", "CREATE TYPE x (a int)",
                      "CREATE TABLE t (k int PRIMARY KEY) WITH COMPACT STORAGE"])
    func unsupportedStatementsAreInvalidNotSyntax(text: String) {
        do {
            _ = try CQLParser.parse(text)
            Issue.record("no error for \(text)")
        } catch {
            #expect(error.isUnsupported)
            guard case .invalid = error.cqlError else { Issue.record("not invalid: \(error)"); return }
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let text = "INSERT INTO t (k) VALUES (" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + ")"
        #expect(throws: CQLSyntaxError.self) { try CQLParser.parse(text) }
    }
}

/// The WHERE and ORDER BY forms storage-attached index queries add.
struct IndexSyntaxTests {
    @Test func mapEntriesAnalyzerMatchAndAnnDirection() throws {
        guard case let .select(s) = try CQLParser.parse("SELECT * FROM t WHERE m['k'] = ? AND v : 'w' ORDER BY e ANN OF ? ASC LIMIT 3").statement else {
            Issue.record("not a select")
            return
        }
        #expect(s.whereClause[0].target == .element("m", key: .literal(.string("k"))))
        #expect(s.whereClause[0].value == .marker(BindMarker(index: 0)))
        #expect(s.whereClause[1].op == .analyzerMatches)
        #expect(s.ordering == .ann(column: "e", vector: .marker(BindMarker(index: 1))))
        for (text, message) in [("SELECT * FROM t ORDER BY e ANN OF ? DESC LIMIT 1", "Descending ANN ordering is not supported"),
                                ("SELECT * FROM t ORDER BY e ANN OF ?, c DESC LIMIT 1", "ANN ordering does not support any other ordering")] {
            #expect(throws: CQLError.invalid(message)) { try Binder(schema: .empty, keyspace: nil).bind(text) }
        }
        guard case let .createIndex(i) = try CQLParser.parse("CREATE INDEX IF NOT EXISTS ON ks.t (ENTRIES(m)) WITH OPTIONS = {'case_sensitive': false}").statement
        else { Issue.record("not create index"); return }
        #expect(i.name == nil && i.target == "entries" && i.column == "m" && i.using == nil && i.options.map(\.1) == ["false"])
    }
}
