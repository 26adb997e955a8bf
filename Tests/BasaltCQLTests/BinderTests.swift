import BasaltCore
@testable import BasaltProtocol
import BasaltStorage
import Testing
@testable import BasaltCQL

struct BinderTests {
    static func schema() throws -> Schema {
        var h = try SchemaTests.feast()
        try h.run("CREATE TABLE ks.wide (a int, b text, c int, d int, v text, s int static, l list<int>, st set<text>, m map<text, int>, ts timestamp, u uuid, f float, e vector<float, 3>, PRIMARY KEY ((a, b), c, d)) WITH CLUSTERING ORDER BY (c DESC, d ASC)")
        try h.run("CREATE TABLE ks.kv (k int PRIMARY KEY, v text, e vector<float, 2>)")
        try h.run("CREATE CUSTOM INDEX kv_e ON ks.kv(e) USING 'sai'")
        return h.schema
    }

    static func bind(_ text: String, keyspace: String? = "ks") throws -> BoundStatement {
        try Binder(schema: try schema(), keyspace: keyspace).bind(text)
    }

    static func bindError(_ text: String) -> CQLError? {
        do {
            _ = try bind(text)
            return nil
        } catch let e as CQLError {
            return e
        } catch {
            return .serverError("\(error)")
        }
    }

    static let ctx = ExecutionContext(nowMicros: 1_700_000_000_000_000)

    static func int(_ v: Int32) -> ProtocolValue { .bytes((try? CQLType.int.encode(.int(v))) ?? []) }
    static func text(_ s: String) -> ProtocolValue { .bytes(Array(s.utf8)) }

    @Test func feastInsertIsPreparedWithRoutingIndexes() throws {
        let b = try Self.bind("INSERT INTO \"ks\".\"project_view\" (entity_key, feature_name, value, event_ts, created_ts) VALUES (?, ?, ?, ?, ?)")
        #expect(b.variables.map(\.name) == ["entity_key", "feature_name", "value", "event_ts", "created_ts"])
        #expect(b.variables.map(\.type) == [.text, .text, .blob, .timestamp, .timestamp])
        #expect(b.variables.allSatisfy { $0.keyspace == "ks" && $0.table == "project_view" })
        #expect(b.partitionKeyIndexes == [0])
        guard case let .writes(plans, nil) = b.kind else { Issue.record("not a write"); return }
        let ms = try plans[0].mutations([Self.text("e1"), Self.text("f1"), .bytes([1]), .bytes([0, 0, 0, 0, 0, 0, 0, 5]), .unset], context: Self.ctx)
        #expect(ms.count == 1)
        #expect(ms[0].partitionKey == Array("e1".utf8) && ms[0].clustering == [Array("f1".utf8)])
        guard case let .upsert(true, cells) = ms[0].kind else { Issue.record("not an insert"); return }
        // The unset created_ts leaves the column alone.
        #expect(cells.map(\.column.name) == ["value", "event_ts"])
        let prepared = b.prepared(id: PreparedStatementID.compute(query: "q", keyspace: "ks"))
        #expect(prepared.resultMetadata == .empty && prepared.partitionKeyIndexes == [0])
    }

    @Test func feastSelectHasResultColumnsAndRouting() throws {
        let b = try Self.bind("SELECT feature_name, value, event_ts FROM \"ks\".\"project_view\" WHERE entity_key = ?")
        #expect(b.resultColumns.map(\.name) == ["feature_name", "value", "event_ts"])
        #expect(b.resultColumns.map(\.type) == [.text, .blob, .timestamp])
        #expect(b.variables == [ColumnSpec(keyspace: "ks", table: "project_view", name: "entity_key", type: .text)])
        #expect(b.partitionKeyIndexes == [0])
        guard case let .select(plan) = b.kind else { Issue.record("not a select"); return }
        let q = try plan.query([Self.text("e1")], context: Self.ctx)
        #expect(q.partitionKeys == [Array("e1".utf8)])
        #expect(q.clusteringPrefixes == [[]] && q.slices == [.all] && q.limit == nil)
    }

    @Test func preparedIdsAreDeterministic() {
        let a = PreparedStatementID.compute(query: "SELECT * FROM t", keyspace: "ks")
        #expect(a == PreparedStatementID.compute(query: "SELECT * FROM t", keyspace: "ks"))
        #expect(a != PreparedStatementID.compute(query: "SELECT * FROM t", keyspace: nil))
        #expect(a == MD5.digest(Array("ksSELECT * FROM t".utf8)) && a.count == 16)
    }

    @Test func compositePartitionKeyRoutingFollowsKeyOrder() throws {
        let b = try Self.bind("UPDATE wide SET v = ? WHERE b = ? AND c = ? AND a = ? AND d = 4")
        #expect(b.partitionKeyIndexes == [3, 1])
        #expect(b.variables.map(\.name) == ["v", "b", "c", "a"])
        guard case let .writes(plans, _) = b.kind else { return }
        let m = try plans[0].mutations([Self.text("x"), Self.text("a"), Self.int(3), Self.int(1)], context: Self.ctx)
        #expect(m[0].partitionKey == [0, 4, 0, 0, 0, 1, 0, 0, 1, 0x61, 0])
        #expect(m[0].token == Token(6516349416904725244))
        #expect(m[0].clustering == [[0, 0, 0, 3], [0, 0, 0, 4]])
        // A partition key given by a literal has no routing indexes.
        #expect(try Self.bind("SELECT * FROM wide WHERE a = 1 AND b = ?").partitionKeyIndexes == [])
    }

    @Test func literalsBecomeTypedBytes() throws {
        let b = try Self.bind("""
            INSERT INTO wide (a, b, c, d, v, l, st, m, ts, u, f, e) VALUES (-1, 'x', 2, 3, 'it''s', [3, 1, 3], {'b', 'a', 'b'}, {'z': 1, 'a': 2},
            '2024-01-02 03:04:05.006+0000', 550e8400-e29b-41d4-a716-446655440000, NaN, [0.5, -1, 2]) USING TTL 60 AND TIMESTAMP 123
            """)
        guard case let .writes(plans, _) = b.kind else { return }
        let m = try plans[0].mutations([], context: Self.ctx)[0]
        #expect(m.ttl == 60 && m.timestamp == 123)
        guard case let .upsert(_, cells) = m.kind else { return }
        var byName = [String: [UInt8]]()
        for c in cells { if case let .set(v?) = c.operation { byName[c.column.name] = v } }
        #expect(byName["v"] == Array("it's".utf8))
        #expect(try CQLType.list(.int).decode(try #require(byName["l"])) == .list([.int(3), .int(1), .int(3)]))
        #expect(try CQLType.set(.text).decode(try #require(byName["st"])) == .set([.text("a"), .text("b")]))
        #expect(try CQLType.map(.text, .int).decode(try #require(byName["m"])) == .map([CQLMapEntry(key: .text("a"), value: .int(2)), CQLMapEntry(key: .text("z"), value: .int(1))]))
        #expect(try CQLType.timestamp.decode(try #require(byName["ts"])) == .timestamp(1_704_164_645_006))
        #expect(byName["u"] == UUIDValue("550e8400-e29b-41d4-a716-446655440000")?.bytes)
        guard case let .float(f)? = try? CQLType.float.decode(try #require(byName["f"])) else { Issue.record("float"); return }
        #expect(f.isNaN)
        #expect(try CQLType.vector(.float, 3).decode(try #require(byName["e"])) == .vector([0.5, -1, 2]))
    }

    @Test(arguments: [
        ("2024-01-02", Int64(1_704_153_600_000)), ("2024-01-02T03:04:05Z", 1_704_164_645_000), ("2024-01-02 03:04+0100", 1_704_161_040_000),
        ("1969-12-31 23:59:59.999", -1), ("1700000000000", 1_700_000_000_000),
    ])
    func timestampStrings(text: String, millis: Int64) throws {
        let b = try Self.bind("INSERT INTO wide (a, b, c, d, ts) VALUES (1, 'x', 1, 1, '\(text)')")
        guard case let .writes(plans, _) = b.kind, case let .upsert(_, cells) = try plans[0].mutations([], context: Self.ctx)[0].kind,
              case let .set(v?) = cells[0].operation else { Issue.record("no cell"); return }
        #expect(try CQLType.timestamp.decode(v) == .timestamp(millis))
    }

    @Test func collectionOperationsAndMarkersInsideLiterals() throws {
        let b = try Self.bind("UPDATE wide USING TTL ? SET l = l + [?], st = st - {'x'}, m['k'] = ?, l = [1] + l, e = [?, 2, 3] WHERE a = 1 AND b = 'x' AND c = 1 AND d = 2")
        #expect(b.variables.map(\.name) == ["[ttl]", "value(l)", "value(m)", "value(e)"])
        #expect(b.variables.map(\.type) == [.int, .int, .int, .float])
        guard case let .writes(plans, _) = b.kind else { return }
        let floatOne: [UInt8] = [0x3f, 0x80, 0, 0]
        let m = try plans[0].mutations([Self.int(10), Self.int(7), .null, .bytes(floatOne)], context: Self.ctx)[0]
        #expect(m.ttl == 10)
        guard case let .upsert(false, cells) = m.kind else { return }
        #expect(cells.count == 5)
        #expect(cells[0].operation == .add([0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 7]))
        #expect(cells[1].operation == .remove([0, 0, 0, 1, 0, 0, 0, 1, 0x78]))
        #expect(cells[2].operation == .setElement(key: [0x6b], value: nil))
        #expect(cells[3].operation == .prepend([0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1]))
        #expect(cells[4].operation == .set(floatOne + [0x40, 0, 0, 0, 0x40, 0x40, 0, 0]))
    }

    @Test func staticOnlyUpdatesNeedOnlyThePartitionKey() throws {
        guard case let .writes(plans, _) = try Self.bind("UPDATE wide SET s = 5 WHERE a = 1 AND b = 'x'").kind else { Issue.record("not a write"); return }
        let m = try plans[0].mutations([], context: Self.ctx)
        #expect(m.count == 1 && m[0].clustering.isEmpty)
        #expect(Self.bindError("UPDATE wide SET s = 5, v = 'x' WHERE a = 1 AND b = 'x'") == .invalid("Missing mandatory PRIMARY KEY part c"))
    }

    @Test func deletesOfCellsRowsRangesAndPartitions() throws {
        func kinds(_ text: String, _ values: [ProtocolValue] = []) throws -> [RowMutation.Kind] {
            guard case let .writes(plans, _) = try Self.bind(text).kind else { return [] }
            return try plans[0].mutations(values, context: Self.ctx).map(\.kind)
        }
        #expect(try kinds("DELETE FROM kv WHERE k IN (1, 2)") == [.deletePartition, .deletePartition])
        #expect(try kinds("DELETE FROM wide WHERE a = 1 AND b = 'x' AND c = 2") == [.deleteRows])
        let ranges = try kinds("DELETE FROM wide WHERE a = 1 AND b = 'x' AND c > 2 AND c <= 5")
        // c is DESC: in clustering order the range runs from 5 (inclusive) down to 2 (exclusive).
        #expect(ranges == [.deleteRange(ClusteringSlice(start: ClusteringBound([[0, 0, 0, 5]], inclusive: true), end: ClusteringBound([[0, 0, 0, 2]], inclusive: false)))])
        let cells = try kinds("DELETE v, m['k'] FROM wide USING TIMESTAMP 5 WHERE a = 1 AND b = 'x' AND c = 2 AND d = 3")
        guard case let .deleteCells(cs) = cells.first else { Issue.record("not cells"); return }
        #expect(cs.map(\.operation) == [.delete, .deleteElement(key: [0x6b])])
    }

    @Test func selectRestrictionsOrderingAndLimits() throws {
        let b = try Self.bind("SELECT v, writetime(v), ttl(v), token(a, b) FROM wide WHERE a = ? AND b IN ? AND c = 1 AND d >= ? ORDER BY c ASC, d DESC LIMIT ?")
        #expect(b.variables.map(\.name) == ["a", "in(b)", "d", "[limit]"])
        #expect(b.variables[1].type == .list(.text))
        #expect(b.resultColumns.map(\.name) == ["v", "writetime(v)", "ttl(v)", "system.token(a, b)"])
        #expect(b.resultColumns.map(\.type) == [.text, .bigint, .int, .bigint])
        guard case let .select(plan) = b.kind else { return }
        let inList = try CQLType.list(.text).encode(.list([.text("x"), .text("y")]))
        let q = try plan.query([Self.int(1), .bytes(inList), Self.int(4), Self.int(10)], context: Self.ctx)
        #expect(q.partitionKeys?.count == 2 && q.reversed && q.limit == 10)
        #expect(q.clusteringPrefixes == [[[0, 0, 0, 1]]])
        #expect(q.slices == [ClusteringSlice(start: ClusteringBound([[0, 0, 0, 1], [0, 0, 0, 4]], inclusive: true), end: ClusteringBound([[0, 0, 0, 1]], inclusive: true))])
        #expect(throws: CQLError.invalid("LIMIT must be strictly positive")) { try plan.query([Self.int(1), .bytes(inList), Self.int(4), Self.int(0)], context: Self.ctx) }
    }

    @Test func tokenRangeScansAndCount() throws {
        let b = try Self.bind("SELECT count(*) FROM kv WHERE token(k) > ? AND token(k) <= ?")
        #expect(b.variables.map(\.name) == ["partition key token", "partition key token"])
        #expect(b.resultColumns == [ColumnSpec(keyspace: "ks", table: "kv", name: "count", type: .bigint)])
        guard case let .select(plan) = b.kind else { return }
        let lo = try CQLType.bigint.encode(.bigint(-5)), hi = try CQLType.bigint.encode(.bigint(5))
        let q = try plan.query([.bytes(lo), .bytes(hi)], context: Self.ctx)
        #expect(q.partitionKeys == nil && q.isCount)
        #expect(q.tokenRange == TokenRestriction(lower: (Token(-5), false), upper: (Token(5), true)))
    }

    @Test func annQueriesNeedAnIndexAndALimit() throws {
        let b = try Self.bind("SELECT k, similarity_cosine(e, [1.0, 0.0]) AS score FROM kv ORDER BY e ANN OF ? LIMIT 3")
        #expect(b.variables == [ColumnSpec(keyspace: "ks", table: "kv", name: "e", type: .vector(.float, 2))])
        #expect(b.resultColumns.map(\.name) == ["k", "score"] && b.resultColumns[1].type == .float)
        guard case let .select(plan) = b.kind else { return }
        let q = try plan.query([.bytes(try CQLType.vector(.float, 2).encode(.vector([0.5, 0.5])))], context: Self.ctx)
        #expect(q.ann?.vector == [0.5, 0.5] && q.ann?.k == 3 && q.ann?.index.name == "kv_e")
        guard case let .similarity(.cosine, _, v) = q.selection[1].source else { Issue.record("no similarity"); return }
        #expect(v == [1, 0])
        #expect(Self.bindError("SELECT * FROM kv ORDER BY e ANN OF [1, 2]")
            == .invalid("Use of ANN OF in an ORDER BY clause requires a LIMIT that is not greater than 1000. LIMIT was NO LIMIT"))
        #expect(Self.bindError("SELECT * FROM kv ORDER BY e ANN OF [1, 2] LIMIT 1001")
            == .invalid("Use of ANN OF in an ORDER BY clause requires a LIMIT that is not greater than 1000. LIMIT was 1001"))
        #expect(Self.bindError("SELECT * FROM wide ORDER BY e ANN OF [1, 2, 3] LIMIT 5")
            == .invalid("ANN ordering by vector requires the column to be indexed"))
        #expect(Self.bindError("SELECT * FROM kv ORDER BY e ANN OF [1, 2, 3] LIMIT 5")
            == .invalid("Invalid vector literal for e of type vector<float, 2>; expected 2 elements, but given 3"))
    }

    @Test func batchesBindEveryStatementWithOneMarkerSequence() throws {
        let b = try Self.bind("BEGIN BATCH USING TIMESTAMP 99 INSERT INTO kv (k, v) VALUES (?, ?); DELETE FROM kv WHERE k = ? APPLY BATCH")
        #expect(b.variables.map(\.name) == ["k", "v", "k"])
        #expect(b.partitionKeyIndexes == [0])
        guard case let .writes(plans, .logged) = b.kind else { Issue.record("not a logged batch"); return }
        #expect(plans.count == 2)
        #expect(try plans[1].mutations([Self.int(1), Self.text("x"), Self.int(2)], context: Self.ctx)[0].timestamp == 99)
        #expect(Self.bindError("BEGIN BATCH USING TIMESTAMP 1 INSERT INTO kv (k) VALUES (1) USING TIMESTAMP 2 APPLY BATCH")
            == .invalid("Timestamp must be set either on BATCH or individual statements"))
    }

    @Test func functionsAreEvaluatedAtExecution() throws {
        guard case let .writes(plans, _) = try Self.bind("INSERT INTO wide (a, b, c, d, ts, u) VALUES (1, 'x', 1, 1, toTimestamp(now()), uuid())").kind,
              case let .upsert(_, cells) = try plans[0].mutations([], context: Self.ctx)[0].kind else { Issue.record("no cells"); return }
        guard case let .set(ts?) = cells[0].operation, case let .set(u?) = cells[1].operation else { return }
        #expect(try CQLType.timestamp.decode(ts) == .timestamp(1_700_000_000_000))
        #expect(UUIDValue(bytes: u)?.version == 4)
    }

    @Test(arguments: [
        ("INSERT INTO kv (v) VALUES ('x')", CQLError.invalid("Some partition key parts are missing: k")),
        ("INSERT INTO wide (a, b, c, v) VALUES (1, 'x', 1, 'v')", .invalid("Some clustering keys are missing: d")),
        ("INSERT INTO kv (k, v) VALUES (1)", .invalid("Unmatched column names/values")),
        ("INSERT INTO kv (k, k) VALUES (1, 1)", .invalid("The column names contains duplicates")),
        ("INSERT INTO kv (k, nope) VALUES (1, 1)", .invalid("Undefined column name nope in table ks.kv")),
        ("INSERT INTO kv (k, v) VALUES ('a', 'b')", .invalid("Invalid STRING constant (a) for \"k\" of type int")),
        ("INSERT INTO kv (k, v) VALUES (1, 2)", .invalid("Invalid INTEGER constant (2) for \"v\" of type text")),
        ("INSERT INTO kv (k, v) VALUES (99999999999, 'x')", .invalid("Unable to make int from '99999999999'")),
        ("INSERT INTO kv (k, v) VALUES (null, 'x')", .invalid("Invalid null value in condition for column k")),
        ("INSERT INTO kv (k, v) VALUES (1, 'x') IF NOT EXISTS", .invalid("Conditional updates (IF NOT EXISTS) are not supported by Basalt: lightweight transactions are not implemented")),
        ("INSERT INTO kv (k, v) VALUES (1, 'x') USING TTL 630720001", .invalid("ttl is too large. requested (630720001) maximum (630720000)")),
        ("INSERT INTO nope (k) VALUES (1)", .invalid("unconfigured table nope")),
        ("INSERT INTO system.local (key) VALUES ('x')", .unauthorized("system keyspace is not user-modifiable.")),
        ("UPDATE kv SET k = 1 WHERE k = 1", .invalid("PRIMARY KEY part k found in SET part")),
        ("UPDATE wide SET v = 'x' WHERE a = 1 AND b = 'x' AND c = 1", .invalid("Missing mandatory PRIMARY KEY part d")),
        ("UPDATE wide SET v = 'x' WHERE a = 1 AND c = 1 AND d = 1", .invalid("Some partition key parts are missing: b")),
        ("UPDATE kv SET v = 'x' WHERE k = 1 AND v = 'y'", .invalid("Non PRIMARY KEY columns found in where clause: v")),
        ("UPDATE kv SET v = v + 'x' WHERE k = 1", .invalid("Invalid operation (v = v + ...) for non counter column v")),
        ("DELETE k FROM kv WHERE k = 1", .invalid("Invalid identifier k for deletion (should not be a PRIMARY KEY part)")),
        ("SELECT * FROM kv WHERE v = 'x'", .invalid(Binder.filteringMessage)),
        ("SELECT * FROM wide WHERE a = 1", .invalid(Binder.filteringMessage)),
        ("SELECT * FROM wide WHERE a = 1 AND b = 'x' AND d = 1", .invalid("PRIMARY KEY column \"d\" cannot be restricted as preceding column \"c\" is not restricted")),
        ("SELECT * FROM wide WHERE a = 1 AND b = 'x' AND c > 1 AND d = 1", .invalid("Clustering column \"d\" cannot be restricted (preceding column \"c\" is restricted by a non-EQ relation)")),
        ("SELECT * FROM kv WHERE k > 1", .invalid("Only EQ and IN relation are supported on the partition key (unless you use the token() function)")),
        ("SELECT * FROM wide WHERE token(b, a) > 1", .invalid("The token function arguments must be in the partition key order: a, b")),
        ("SELECT nope FROM kv", .invalid("Undefined column name nope in table ks.kv")),
        ("SELECT * FROM kv ORDER BY v", .invalid("ORDER BY is only supported when the partition key is restricted by an EQ or an IN.")),
        ("SELECT * FROM wide WHERE a = 1 AND b = 'x' ORDER BY c ASC, d ASC", .invalid("Unsupported order by relation")),
        ("SELECT DISTINCT v FROM kv", .invalid("SELECT DISTINCT queries must only request partition key columns and/or static columns (not v)")),
        ("SELECT writetime(k) FROM kv", .invalid("Cannot use selection function writeTime on PRIMARY KEY part k")),
        ("SELECT * FROM kv LIMIT 0", .invalid("LIMIT must be strictly positive")),
        ("SELECT * FROM t", .invalid("unconfigured table t")),
        ("SELECT * FORM kv", .syntaxError("line 1:9 mismatched input 'FORM' expecting FROM (SELECT * [FORM] kv...)")),
    ])
    func invalidStatementsGetCassandrasMessages(text: String, expected: CQLError) {
        #expect(Self.bindError(text) == expected)
    }

    @Test func allowFilteringTurnsRestrictionsIntoFilters() throws {
        guard case let .select(plan) = try Self.bind("SELECT * FROM wide WHERE a = 1 AND v = 'x' AND st CONTAINS 'q' ALLOW FILTERING").kind else { return }
        let q = try plan.query([], context: Self.ctx)
        #expect(q.partitionKeys == nil)
        #expect(Set(q.filters.map { "\($0.column.name) \($0.op.rawValue)" }) == ["a =", "v =", "st CONTAINS"])
    }

    @Test func selectStarUsesCassandrasColumnOrder() throws {
        #expect(try Self.bind("SELECT * FROM wide").resultColumns.map(\.name) == ["a", "b", "c", "d", "e", "f", "l", "m", "s", "st", "ts", "u", "v"])
        #expect(try Self.bind("SELECT * FROM system.local", keyspace: nil).resultColumns.first?.name == "key")
    }

    @Test func boundValuesAreValidatedAgainstTheirType() throws {
        guard case let .writes(plans, _) = try Self.bind("INSERT INTO kv (k, v) VALUES (?, ?)").kind else { return }
        #expect(throws: CQLError.self) { try plans[0].mutations([.bytes([1, 2]), Self.text("x")], context: Self.ctx) }
        #expect(throws: CQLError.invalid("Invalid null value in condition for column k")) { try plans[0].mutations([.null, Self.text("x")], context: Self.ctx) }
        #expect(throws: CQLError.invalid("Key may not be empty")) { try Binder(schema: try Self.schema(), keyspace: "ks").bind("INSERT INTO project_view (entity_key, feature_name) VALUES ('', 'f')").kindWrites()?.mutations([], context: Self.ctx) }
    }

    @Test func useAndDescribe() throws {
        guard case .use("ks") = try Self.bind("USE ks").kind else { Issue.record("not use"); return }
        let d = try Self.bind("DESCRIBE TABLE project_view")
        #expect(d.resultColumns.map(\.name) == ["keyspace_name", "type", "name", "create_statement"])
        #expect(try Self.bind("DESCRIBE KEYSPACES").resultColumns.map(\.name) == ["keyspace_name", "type", "name"])
    }
}

extension BoundStatement {
    func kindWrites() -> WritePlan? {
        if case let .writes(plans, _) = kind { return plans.first }
        return nil
    }
}
