import BasaltCore
@testable import BasaltProtocol
import Synchronization
import Testing
@testable import BasaltCQL

/// While the node may not pick write timestamps (its clock is too far from the cluster's), writes
/// that would take one from it are refused with Invalid and the reason; writes that carry a client
/// timestamp, and reads, go on.
struct ServerTimestampRefusalTests {
    final class Refusal: Sendable {
        let reason = Mutex<String?>(nil)
        func set(_ r: String?) { reason.withLock { $0 = r } }
        func get() -> String? { reason.withLock { $0 } }
    }

    func node(_ refusal: Refusal) async throws -> SingleNodeExecutor {
        var settings = QueryProcessor.Settings()
        settings.serverTimestampRefusal = { refusal.get() }
        let n = try SingleNodeExecutor(settings: settings)
        for s in ExecutorTests.setup { try await n.run(s) }
        try await n.run("CREATE TABLE kv (k int PRIMARY KEY, v text)")
        return n
    }

    func process(_ n: SingleNodeExecutor, _ request: Request) async -> CQLError? {
        if case let .error(e) = await n.processor.process(request, session: n.session) { return e }
        return nil
    }

    @Test func onlyWritesNeedingAServerTimestampAreRefused() async throws {
        let refusal = Refusal()
        let n = try await node(refusal)
        defer { n.close() }
        let why = "This node's clock is 600000 ms ahead of the cluster's"
        refusal.set(why)
        await #expect(throws: CQLError.invalid(why)) { try await n.run("INSERT INTO kv (k, v) VALUES (1, 'a')") }
        await #expect(throws: CQLError.invalid(why)) { try await n.run("DELETE FROM kv WHERE k = 1") }
        await #expect(throws: CQLError.invalid(why)) { try await n.run("UPDATE kv SET v = 'b' WHERE k = 1") }
        // A statement timestamp or the protocol's default timestamp is the client's.
        try await n.run("INSERT INTO kv (k, v) VALUES (2, 'b') USING TIMESTAMP 1000")
        let withDefault = QueryParameters(consistency: .one, values: [], defaultTimestamp: 2000)
        #expect(await process(n, .query("INSERT INTO kv (k, v) VALUES (3, 'c')", withDefault)) == nil)
        // Batches: refused unless every statement has a timestamp or the batch carries one.
        let children = [BatchChild(statement: .query("INSERT INTO ks.kv (k, v) VALUES (4, 'd')")),
                        BatchChild(statement: .query("INSERT INTO ks.kv (k, v) VALUES (5, 'e') USING TIMESTAMP 5"))]
        #expect(await process(n, .batch(BatchRequest(type: .logged, children: children, consistency: .one))) == .invalid(why))
        #expect(await process(n, .batch(BatchRequest(type: .logged, children: children, consistency: .one, defaultTimestamp: 3000))) == nil)
        // Reads go on.
        #expect(try await n.rows("SELECT v FROM kv WHERE k IN (2, 3, 4, 5)").count == 4)
        // Back in range: server timestamps again.
        refusal.set(nil)
        try await n.run("INSERT INTO kv (k, v) VALUES (1, 'a')")
        #expect(try await n.rows("SELECT v FROM kv WHERE k = 1") == [[.text("a")]])
    }
}
