import BasaltCluster
import BasaltCore
@testable import BasaltProtocol
import BasaltStorage
import Testing
@testable import BasaltCQL

struct ExecutorTests {
    static let setup = [
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        "USE ks",
    ]

    func node() async throws -> SingleNodeExecutor {
        let n = try SingleNodeExecutor()
        for s in Self.setup { try await n.run(s) }
        return n
    }

    @Test func insertSelectUpdateDelete() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE TABLE t (k int, c int, v text, s int static, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)")
        for c in 0 ..< 5 { try await n.run("INSERT INTO t (k, c, v) VALUES (1, ?, ?)", [.int(Int32(c)), .text("v\(c)")]) }
        try await n.run("UPDATE t SET s = 9 WHERE k = 1")
        var rows = try await n.rows("SELECT c, v, s FROM t WHERE k = 1")
        #expect(rows.map { $0[0] } == [4, 3, 2, 1, 0].map { .int($0) })
        #expect(rows.allSatisfy { $0[2] == .int(9) })
        rows = try await n.rows("SELECT c FROM t WHERE k = 1 AND c > 1 AND c <= 3 ORDER BY c ASC")
        #expect(rows.map { $0[0] } == [.int(2), .int(3)])
        try await n.run("DELETE FROM t WHERE k = 1 AND c = 3")
        try await n.run("DELETE v FROM t WHERE k = 1 AND c = 2")
        rows = try await n.rows("SELECT c, v FROM t WHERE k = 1 LIMIT 3")
        #expect(rows.map { $0[0] } == [.int(4), .int(2), .int(1)])
        #expect(rows[1][1] == nil)
        try await n.run("DELETE FROM t WHERE k = 1 AND c < 2")
        #expect(try await n.rows("SELECT count(*) FROM t WHERE k = 1") == [[.bigint(2)]])
        try await n.run("DELETE FROM t WHERE k = 1")
        #expect(try await n.rows("SELECT * FROM t WHERE k = 1").isEmpty)
    }

    @Test func collectionsTTLAndWritetime() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE TABLE c (k int PRIMARY KEY, l list<int>, s set<text>, m map<text, int>, f frozen<list<int>>, v text)")
        try await n.run("INSERT INTO c (k, l, s, m, f) VALUES (1, [1, 2], {'a', 'b'}, {'x': 1}, [7])")
        try await n.run("UPDATE c SET l = l + [3], s = s - {'a'}, m['y'] = 2 WHERE k = 1")
        try await n.run("UPDATE c SET l = [0] + l WHERE k = 1")
        try await n.run("UPDATE c SET l[1] = 10 WHERE k = 1")
        try await n.run("DELETE l[3] FROM c WHERE k = 1")
        var rows = try await n.rows("SELECT l, s, m, f FROM c WHERE k = 1")
        #expect(rows == [[.list([.int(0), .int(10), .int(2)]), .set([.text("b")]),
                          .map([CQLMapEntry(key: .text("x"), value: .int(1)), CQLMapEntry(key: .text("y"), value: .int(2))]), .list([.int(7)])]])
        try await n.run("UPDATE c SET l = l - [10] WHERE k = 1")
        try await n.run("UPDATE c SET s = {'z'} WHERE k = 1")
        rows = try await n.rows("SELECT l, s FROM c WHERE k = 1")
        #expect(rows == [[.list([.int(0), .int(2)]), .set([.text("z")])]])
        await #expect(throws: CQLError.invalid("List index 5 out of bound, list has size 2")) { try await n.run("UPDATE c SET l[5] = 1 WHERE k = 1") }

        try await n.run("INSERT INTO c (k, v) VALUES (2, 'x') USING TTL 10 AND TIMESTAMP 1234")
        rows = try await n.rows("SELECT ttl(v), writetime(v) FROM c WHERE k = 2")
        #expect(rows == [[.int(10), .bigint(1234)]])
        n.clock.advance(seconds: 11)
        #expect(try await n.rows("SELECT * FROM c WHERE k = 2").isEmpty)
    }

    @Test func pagingThroughPartitionsAndScans() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE TABLE p (k int, c int, v int, PRIMARY KEY (k, c))")
        for k in 0 ..< 7 { for c in 0 ..< 13 { try await n.run("INSERT INTO p (k, c, v) VALUES (?, ?, 1)", [.int(Int32(k)), .int(Int32(c))]) } }
        for (query, expected) in [("SELECT k, c FROM p", 91), ("SELECT k, c FROM p WHERE k IN (1, 2, 3)", 39),
                                  ("SELECT k, c FROM p WHERE k = 4 ORDER BY c DESC", 13), ("SELECT k, c FROM p LIMIT 50", 50),
                                  ("SELECT k, c FROM p PER PARTITION LIMIT 2", 14)] {
            var seen = [[CQLValue?]]()
            var state: [UInt8]?
            var pages = 0
            repeat {
                guard case let .rows(r) = try await n.run(query, pageSize: 5, pagingState: state) else { Issue.record("no rows"); return }
                #expect(r.rows.count <= 5)
                seen += SingleNodeExecutor.decode(r)
                state = r.metadata.pagingState
                pages += 1
            } while state != nil && pages < 100
            #expect(seen.count == expected, "\(query)")
            #expect(Set(seen.map { "\($0)" }).count == expected, "duplicates in \(query)")
        }
        let unpaged = try await n.rows("SELECT k, c FROM p")
        #expect(unpaged.count == 91)
    }

    @Test func pagingStateGarbageIsRejected() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE TABLE g (k int PRIMARY KEY, v int)")
        var rng = SplitMix64(seed: 3)
        for _ in 0 ..< 300 {
            let garbage = (0 ..< Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            await #expect(throws: CQLError.self) { try await n.run("SELECT * FROM g", pageSize: 10, pagingState: garbage) }
        }
        let valid = PagingState(kind: .scan, token: Token(5), partitionKey: [1], clustering: [[2]], rowsInPartition: 3, remaining: 9)
        #expect(try PagingState.decode(valid.encoded()) == valid)
        var bytes = valid.encoded()
        for i in 0 ..< bytes.count {
            bytes[i] ^= 0x10
            #expect(throws: CQLError.self) { try PagingState.decode(bytes) }
            bytes[i] ^= 0x10
        }
    }

    @Test func errorsAndConsistency() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE KEYSPACE rf3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
        try await n.run("CREATE TABLE rf3.t (k int PRIMARY KEY, v int)")
        try await n.run("INSERT INTO rf3.t (k, v) VALUES (1, 1)", consistency: .one)
        await #expect(throws: CQLError.unavailable("Cannot achieve consistency level QUORUM: 2 replicas required, 1 alive", consistency: .quorum, required: 2, alive: 1)) {
            try await n.run("INSERT INTO rf3.t (k, v) VALUES (1, 1)", consistency: .quorum)
        }
        await #expect(throws: CQLError.self) { try await n.rows("SELECT * FROM rf3.t WHERE k = 1", consistency: .all) }
        do {
            try await n.run("SELEC * FROM t")
            Issue.record("no syntax error")
        } catch let e as CQLError {
            #expect(e.code == 0x2000)
        }
        do {
            try await n.run("SELECT * FROM nosuch")
            Issue.record("no invalid error")
        } catch let e as CQLError {
            #expect(e == .invalid("unconfigured table nosuch"))
        }
        await #expect(throws: CQLError.self) { try await n.run("CREATE KEYSPACE rf3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}") }
    }

    @Test func systemTablesAndPrepared() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE TABLE t (a int, b text, c int, v blob, PRIMARY KEY ((a, b), c))")
        let local = try await n.rows("SELECT key, cluster_name, release_version, partitioner, tokens, schema_version FROM system.local WHERE key = 'local'")
        #expect(local.count == 1)
        #expect(local.first?[1] == .text("Test Cluster") && local.first?[2] == .text("5.0.0"))
        #expect(local.first?[4] == .set([.text("0")]))
        #expect(local.first?[5] == .uuid(n.holder.version))
        #expect(try await n.rows("SELECT * FROM system.peers_v2").isEmpty)
        let columns = try await n.rows("SELECT column_name, kind, position FROM system_schema.columns WHERE keyspace_name = 'ks' AND table_name = 't'")
        #expect(columns.count == 4)
        let tables = try await n.rows("SELECT table_name FROM system_schema.tables")
        #expect(tables.contains { $0[0] == .text("local") } && tables.contains { $0[0] == .text("t") })

        guard case let .prepared(p) = await n.processor.process(.prepare("INSERT INTO t (a, b, c, v) VALUES (?, ?, ?, ?)"), session: n.session).resultBody else {
            Issue.record("not prepared"); return
        }
        #expect(p.partitionKeyIndexes == [0, 1])
        #expect(p.id == PreparedStatementID.compute(query: "INSERT INTO t (a, b, c, v) VALUES (?, ?, ?, ?)", keyspace: "ks"))
        let exec = await n.processor.process(.execute(id: p.id, QueryParameters(values: [.int(1), .text("x"), .int(2), .bytes([1, 2])])), session: n.session)
        #expect(exec == .result(.void))
        #expect(try await n.rows("SELECT token(a, b), v FROM t WHERE a = 1 AND b = 'x'") ==
            [[.bigint(Murmur3.token(TableSchema.partitionKeyBytes([[0, 0, 0, 1], Array("x".utf8)])).value), .blob([1, 2])]])
        let unknown = await n.processor.process(.execute(id: [9, 9], QueryParameters()), session: n.session)
        guard case let .error(e) = unknown else { Issue.record("no error"); return }
        #expect(e.code == 0x2500)
    }

    @Test func batchesShareTimestamps() async throws {
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE TABLE b (k int, c int, v int, PRIMARY KEY (k, c))")
        try await n.run("BEGIN BATCH INSERT INTO b (k, c, v) VALUES (1, 1, 1); INSERT INTO b (k, c, v) VALUES (1, 2, 2); UPDATE b SET v = 3 WHERE k = 2 AND c = 1; APPLY BATCH")
        let batch = BatchRequest(type: .unlogged, children: [
            BatchChild(statement: .query("INSERT INTO b (k, c, v) VALUES (?, ?, ?)"), values: [.int(3), .int(1), .int(4)]),
            BatchChild(statement: .query("DELETE FROM b WHERE k = 1 AND c = 1"), values: []),
        ], consistency: .one, defaultTimestamp: 5_000_000_000_000_000)
        #expect(await n.processor.process(.batch(batch), session: n.session) == .result(.void))
        let rows = try await n.rows("SELECT k, c, v, writetime(v) FROM b")
        #expect(rows.count == 3)
        #expect(rows.contains { $0[0] == .int(3) && $0[3] == .bigint(5_000_000_000_000_000) })
        #expect(!rows.contains { $0[0] == .int(1) && $0[1] == .int(1) })
    }

    @Test func preparedStatementsFollowSchemaChanges() async throws {
        // Prepared INSERT and SELECT are bound once per schema: executions after a table is
        // dropped and created again, or gains a column, act on the table as it is now.
        let n = try await node()
        defer { n.close() }
        try await n.run("CREATE TABLE p (k int PRIMARY KEY, v text)")
        func prepare(_ q: String) async -> [UInt8]? {
            guard case let .prepared(p) = await n.processor.process(.prepare(q), session: n.session).resultBody else { return nil }
            return p.id
        }
        let insert = try #require(await prepare("INSERT INTO p (k, v) VALUES (?, ?)"))
        let select = try #require(await prepare("SELECT * FROM p WHERE k = ?"))
        func run(_ id: [UInt8], _ values: [ProtocolValue]) async -> Response {
            await n.processor.process(.execute(id: id, QueryParameters(values: values)), session: n.session)
        }
        for k in 1 ... 3 { #expect(await run(insert, [.int(Int32(k)), .text("a\(k)")]) == .result(.void)) }
        guard case let .rows(before) = await run(select, [.int(2)]).resultBody else { Issue.record("no rows"); return }
        #expect(before.rows.count == 1)

        try await n.run("DROP TABLE p")
        try await n.run("CREATE TABLE p (k int PRIMARY KEY, v text)")
        #expect(await run(insert, [.int(7), .text("new")]) == .result(.void))
        #expect(try await n.rows("SELECT k, v FROM p") == [[.int(7), .text("new")]])
        guard case let .rows(gone) = await run(select, [.int(2)]).resultBody else { Issue.record("no rows"); return }
        #expect(gone.rows.isEmpty)

        try await n.run("ALTER TABLE p ADD w int")
        guard case let .rows(wider) = await run(select, [.int(7)]).resultBody else { Issue.record("no rows"); return }
        #expect(wider.metadata.columns.map(\.name) == ["k", "v", "w"])
        #expect(wider.rows.first?.count == 3)

        try await n.run("DROP TABLE p")
        guard case let .error(e) = await run(insert, [.int(8), .text("x")]) else { Issue.record("no error"); return }
        #expect(e == .invalid("unconfigured table p"), "\(e)")
    }

    @Test func schemaPersistsAcrossRestart() async throws {
        let dir = ScratchDirectory()
        defer { dir.remove() }
        let e1 = try StorageEngine(directory: dir.path + "/data", logger: .quiet)
        let h1 = try SchemaHolder(directory: dir.path, engine: e1, logger: .quiet)
        let change = try Binder(schema: h1.schema, keyspace: nil).bind("CREATE KEYSPACE p WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        guard case let .schemaChange(c) = change.kind else { return }
        _ = try h1.accept(SchemaLogEntry(timestamp: 1, origin: UUIDValue(msb: 1, lsb: 1), change: c))
        e1.close()
        let e2 = try StorageEngine(directory: dir.path + "/data", logger: .quiet)
        defer { e2.close() }
        let h2 = try SchemaHolder(directory: dir.path, engine: e2, logger: .quiet)
        #expect(h2.version == h1.version && h2.schema.keyspace("p") != nil)
    }
}

extension Response {
    var resultBody: ResultBody? {
        if case let .result(r) = self { return r }
        return nil
    }
}
