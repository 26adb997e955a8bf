import BasaltCore
import BasaltNet
import BasaltStorage
import Testing
@testable import BasaltCluster

/// Hinted handoff with the real hint store, three in-process nodes.
@Suite(.serialized)
struct HintedHandoffTests {
    typealias F = CoordinationFixtures

    func settings(window: Int64 = 3_600_000_000) -> HintedHandoff.Settings {
        var s = HintedHandoff.Settings()
        s.tick = .milliseconds(10)
        s.maxHintWindowMicros = window
        return s
    }

    func write(_ c: InProcessCluster, _ k: Int, via i: Int = 0, _ cl: ConsistencyLevel = .one) async throws {
        try await c.nodes[i].coordinator.write([Mutation(schema: F.table, partitionKey: F.int32(k), update: PartitionUpdate(rows: [F.row(1, k, ts: 10)]))],
                                               consistency: cl, writeType: .simple)
    }

    func present(_ n: InProcessCluster.Node, _ k: Int) throws -> Bool {
        !(try n.engine.read(ReadCommand(schema: F.table, partitionKey: F.int32(k), nowSeconds: SystemClock().nowSeconds())).update.rows.isEmpty)
    }

    func waitUntil(_ what: String, _ condition: () throws -> Bool) async throws {
        for _ in 0 ..< 500 {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test func missedWritesAreDeliveredWhenTheReplicaIsBack() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3), hintedHandoff: settings())
        c.setAlive(2, false)
        for k in 0 ..< 200 { try await write(c, k, via: k % 2) }
        let h0 = try #require(c.nodes[0].handoff), h1 = try #require(c.nodes[1].handoff)
        #expect(h0.counters.written + h1.counters.written == 200)
        #expect(try (0 ..< 200).allSatisfy { try !present(c.nodes[2], $0) })
        // While it is down nothing is delivered.
        try await Task.sleep(for: .milliseconds(100))
        #expect(h0.counters.replayed == 0)
        c.setAlive(2, true)
        try await waitUntil("hints delivered") { h0.counters.replayed + h1.counters.replayed == 200 }
        #expect(try (0 ..< 200).allSatisfy { try present(c.nodes[2], $0) })
        #expect(c.nodes[2].replicas.counters.hints == 200)
        #expect(h0.store.counters.pendingHints == 0 && h1.store.counters.pendingHints == 0)
        await c.shutdown()
    }

    @Test func noHintsPastTheWindowAndNoneForRemovedNodes() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3), hintedHandoff: settings(window: 0))
        c.setAlive(2, false)
        try await Task.sleep(for: .milliseconds(5))
        try await write(c, 1)
        let h0 = try #require(c.nodes[0].handoff)
        #expect(h0.counters.written == 0 && h0.counters.refusedWindow == 1)
        await c.shutdown()

        let d = try await InProcessCluster(schema: .simple(rf: 3), hintedHandoff: settings())
        d.setAlive(2, false)
        for k in 0 ..< 10 { try await write(d, k) }
        let g0 = try #require(d.nodes[0].handoff)
        #expect(g0.store.pendingBytes(for: d.nodes[2].identity.hostId) > 0)
        g0.forget(d.nodes[2].identity.hostId)
        #expect(g0.store.pendingBytes(for: d.nodes[2].identity.hostId) == 0 && g0.counters.forgottenTargets == 1)
        d.setAlive(2, true)
        try await Task.sleep(for: .milliseconds(100))
        #expect(try (0 ..< 10).allSatisfy { try !present(d.nodes[2], $0) })
        await d.shutdown()
    }

    @Test func hintsOlderThanGcGraceAreDropped() async throws {
        var params = TableParams()
        params.gcGraceSeconds = 0
        let table = TableSchema(keyspace: "ks", name: "t", id: F.table.id, columns: F.table.columns, params: params)
        let schema = TestSchema(keyspaces: ["ks": KeyspaceSchema(name: "ks", replication: .simple(replicationFactor: 3))], tables: [table])
        let c = try await InProcessCluster(schema: schema, hintedHandoff: settings())
        c.setAlive(2, false)
        try await write(c, 5)
        try await Task.sleep(for: .milliseconds(20))
        c.setAlive(2, true)
        let h0 = try #require(c.nodes[0].handoff)
        try await waitUntil("the expired hint dropped") { h0.counters.expired == 1 }
        #expect(try h0.counters.replayed == 0 && !present(c.nodes[2], 5))
        #expect(h0.store.counters.pendingHints == 0)
        await c.shutdown()
    }

    @Test func anyIsSatisfiedByAHint() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 1), hintedHandoff: settings())
        // Find a key whose only replica is node 2 and take node 2 down.
        let k = try #require((0 ..< 1000).first { c.replicaIndices(of: F.int32($0), .simple(replicationFactor: 1)) == [2] })
        c.setAlive(2, false)
        try await write(c, k, via: 0, .any)
        await #expect(throws: CoordinatorError.unavailable(consistency: .one, required: 1, alive: 0)) {
            try await self.write(c, k, via: 0, .one)
        }
        c.setAlive(2, true)
        try await waitUntil("the hint delivered") { try present(c.nodes[2], k) }
        await c.shutdown()
    }
}
