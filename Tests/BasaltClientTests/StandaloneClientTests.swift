import BasaltCore
import BasaltCQL
import BasaltProtocol
import Foundation
import Testing
@testable import BasaltClient

/// The client against a real `basalt cql-standalone` process (one per test, on 127.0.6.10+).
@Suite(.timeLimit(.minutes(3)))
struct StandaloneClientTests {
    @Test func connectsAndReadsTheTopology() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(0))
        defer { node.stop() }
        let session = try await node.session()
        let topology = session.topology
        #expect(topology.nodes.count == 1)
        #expect(topology.nodes.first?.address.description == "\(node.host):9042")
        #expect(topology.nodes.first?.tokens == [Token(0)])
        #expect(topology.nodes.first?.dataCenter == "datacenter1")
        #expect(session.localDataCenter == "datacenter1")
        #expect(topology.partitioner == ClusterTopology.murmur3Partitioner)
        #expect(topology.keyspaces["system"] == .local)
        #expect(session.nodeStates.first?.isUp == true)

        let created = try await session.query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        #expect(created.kind == .schemaChange(SchemaChangeDescription(change: .created, target: .keyspace, keyspace: "ks")))
        // The DDL path refreshed the topology: the new keyspace is routable at once.
        #expect(session.topology.keyspaces["ks"] == .simple(replicationFactor: 1))
        #expect(try await session.query("CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").kind == .void)
        let local = try await session.query("SELECT cluster_name, tokens FROM system.local")
        #expect(local.rows.count == 1)
        #expect(local.rows.first?["tokens"] == .set([.text("0")]))
        await session.close()
    }

    @Test func preparedRoundTripsOfSeveralTypes() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(1))
        defer { node.stop() }
        let session = try await node.session { $0.keyspace = nil }
        _ = try await session.query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        _ = try await session.query("""
            CREATE TABLE ks.t (k text PRIMARY KEY, i int, b bigint, x blob, l list<int>, m map<text, int>, v vector<float, 3>)
            """)
        let insert = try await session.prepare("INSERT INTO ks.t (k, i, b, x, l, m, v) VALUES (?, ?, ?, ?, ?, ?, ?)")
        #expect(insert.partitionKeyIndexes == [0])
        #expect(insert.keyspace == "ks")
        #expect(insert.variables.map(\.type) == [.text, .int, .bigint, .blob, .list(.int), .map(.text, .int), .vector(.float, 3)])
        let select = try await session.prepare("SELECT k, i, b, x, l, m, v FROM ks.t WHERE k = ?")
        let rows: [[CQLValue?]] = [
            [.text("a"), .int(-7), .bigint(Int64.max), .blob([0, 1, 0xff]), .list([.int(3), .int(1), .int(3)]),
             .map([CQLMapEntry(key: .text("x"), value: .int(1)), CQLMapEntry(key: .text("y"), value: .int(-2))]), .vector([0.5, -1, 3.25])],
            [.text("é ✓"), .int(0), .bigint(Int64.min), .blob([]), .list([]), .map([]), .vector([0, 0, 0])],
            [.text("nulls"), nil, nil, nil, nil, nil, nil],
        ]
        for values in rows {
            let written = try await session.execute(insert, values, consistency: .one)
            #expect(written.kind == .void)
        }
        for values in rows {
            let page = try await session.execute(select, [values[0]])
            #expect(page.rows.count == 1)
            guard let row = page.rows.first else { continue }
            // Empty collections read back as null, as in Cassandra.
            let expected = values.map { v -> CQLValue? in
                switch v {
                case .list([])?, .map([])?: nil
                default: v
                }
            }
            #expect(row.values == expected, "\(row)")
            #expect(row["i"] == expected[1])
        }
        // A value of the wrong type is refused before anything is sent.
        await #expect(throws: ClientError.self) { try await session.execute(insert, [.int(1), nil, nil, nil, nil, nil, nil]) }
        await #expect(throws: ClientError.self) { try await session.execute(insert, [.text("too few")]) }
        await session.close()
    }

    @Test func pagesThroughTwoAndAHalfThousandRows() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(2))
        defer { node.stop() }
        let session = try await node.session { $0.keyspace = nil }
        _ = try await session.query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        _ = try await session.query("CREATE TABLE ks.p (k int, c int, v text, PRIMARY KEY (k, c))")
        let insert = try await session.prepare("INSERT INTO ks.p (k, c, v) VALUES (?, ?, ?)")
        // 2,500 rows: 5 partitions of 500, written 100 at a time concurrently.
        for batch in 0 ..< 25 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for j in 0 ..< 100 {
                    let n = batch * 100 + j
                    group.addTask { _ = try await session.execute(insert, [.int(Int32(n % 5)), .int(Int32(n)), .text("v\(n)")]) }
                }
                try await group.waitForAll()
            }
        }
        let all = try await session.prepare("SELECT k, c, v FROM ks.p")
        var it = try session.rows(all, options: StatementOptions(pageSize: 100)).makeAsyncIterator()
        var seen = Set<Int32>()
        while let row = try await it.next() {
            guard case let .int(c)? = row["c"] else { Issue.record("no c in \(row)"); break }
            #expect(seen.insert(c).inserted, "row \(c) twice")
        }
        #expect(seen.count == 2500)
        #expect(it.pagesFetched == 25 || it.pagesFetched == 26)

        // One partition, by hand, with the paging state.
        let one = try await session.prepare("SELECT c FROM ks.p WHERE k = ?")
        var state: [UInt8]?
        var count = 0
        var pages = 0
        repeat {
            let page = try await session.execute(one, [.int(3)], options: StatementOptions(pageSize: 70, pagingState: state))
            count += page.rows.count
            pages += 1
            state = page.pagingState
        } while state != nil && pages < 100
        #expect(count == 500)
        #expect(pages == 8)
        #expect(try await session.rows("SELECT k FROM ks.p WHERE k = 1", options: StatementOptions(pageSize: 33)).collect().count == 500)
        await session.close()
    }

    @Test func serverErrorsArriveTyped() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(3))
        defer { node.stop() }
        let session = try await node.session()
        func code(_ body: () async throws -> Void) async -> CQLError? {
            do {
                try await body()
                return nil
            } catch {
                return (error as? ClientError)?.cqlError
            }
        }
        let syntax = await code { _ = try await session.query("SELEC * FROM system.local") }
        #expect(syntax?.code == 0x2000, "\(String(describing: syntax))")
        let invalid = await code { _ = try await session.query("SELECT * FROM system.nope") }
        #expect(invalid?.code == 0x2200, "\(String(describing: invalid))")
        let prepareInvalid = await code { _ = try await session.prepare("INSERT INTO system.nope (a) VALUES (?)") }
        #expect(prepareInvalid?.code == 0x2200)

        _ = try await session.query("CREATE KEYSPACE rf3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
        let exists = await code { _ = try await session.query("CREATE KEYSPACE rf3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}") }
        #expect(exists == .alreadyExists("Cannot add existing keyspace \"rf3\"", keyspace: "rf3", table: ""))
        _ = try await session.query("CREATE TABLE rf3.t (k int PRIMARY KEY, v int)")
        let insert = try await session.prepare("INSERT INTO rf3.t (k, v) VALUES (?, ?)")
        let unavailable = await code { _ = try await session.execute(insert, [.int(1), .int(1)], consistency: .quorum) }
        guard case let .unavailable(_, consistency, required, alive)? = unavailable else {
            Issue.record("expected Unavailable, got \(String(describing: unavailable))")
            await session.close()
            return
        }
        #expect(consistency == .quorum && required == 2 && alive == 1)
        _ = try await session.execute(insert, [.int(1), .int(1)], consistency: .one)
        await session.close()
    }

    /// The client's token for a key equals the server's `token(k)`: int, text and composite keys.
    @Test func clientTokensEqualTheServersTokenFunction() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(4))
        defer { node.stop() }
        let session = try await node.session()
        _ = try await session.query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        _ = try await session.query("CREATE TABLE ks.i (k int PRIMARY KEY)")
        _ = try await session.query("CREATE TABLE ks.s (k text PRIMARY KEY)")
        _ = try await session.query("CREATE TABLE ks.c (a int, b text, c int, PRIMARY KEY ((a, b), c))")
        let cases: [(table: String, insert: String, select: String, values: (Int) -> [CQLValue?])] = [
            ("i", "INSERT INTO ks.i (k) VALUES (?)", "SELECT token(k) FROM ks.i WHERE k = ?", { [.int(Int32($0 * 7919 - 400_000))] }),
            ("s", "INSERT INTO ks.s (k) VALUES (?)", "SELECT token(k) FROM ks.s WHERE k = ?", { [.text("key-\($0)-\(String(repeating: "é", count: $0 % 20))")] }),
            ("c", "INSERT INTO ks.c (b, a, c) VALUES (?, ?, 0)", "SELECT token(a, b) FROM ks.c WHERE b = ? AND a = ?", { [.text("b\($0)"), .int(Int32($0))] }),
        ]
        for c in cases {
            let insert = try await session.prepare(c.insert)
            let select = try await session.prepare(c.select)
            #expect(select.partitionKeyIndexes == insert.partitionKeyIndexes)
            for n in 0 ..< 100 {
                let values = c.values(n)
                _ = try await session.execute(insert, values)
                let encoded = try insert.encode(values)
                let clientToken = RoutingKey.token(values: encoded, partitionKeyIndexes: insert.partitionKeyIndexes)
                let row = try await session.execute(select, values).rows.first
                #expect(row?[0] == clientToken.map { .bigint($0.value) }, "\(c.table) \(values)")
                #expect(session.replicas(of: insert, encoded: encoded).map(\.address) == session.topology.nodes.map(\.address))
            }
        }
        await session.close()
    }

    @Test func passwordAuthentication() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(5), extraArguments: ["--superuser", "admin", "--superuser-password", "s3cret"])
        defer { node.stop() }
        let good = try await node.session { $0.credentials = .init(username: "admin", password: "s3cret") }
        #expect(try await good.query("SELECT key FROM system.local").rows.count == 1)
        await good.close()
        var bad = SessionConfiguration(contactPoints: [node.host])
        bad.credentials = .init(username: "admin", password: "wrong")
        do {
            _ = try await Session.connect(bad)
            Issue.record("connected with a wrong password")
        } catch {
            #expect(error.cqlError?.code == 0x0100, "\(error)")
        }
        do {
            _ = try await Session.connect(SessionConfiguration(contactPoints: [node.host]))
            Issue.record("connected without credentials")
        } catch {
            guard case let .noHostAvailable(failures) = error else { Issue.record("\(error)"); return }
            #expect(failures.first?.reason.contains("requires authentication") == true, "\(failures)")
        }
    }
}
