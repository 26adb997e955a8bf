import BasaltCore
import BasaltNet
import BasaltStorage
import Testing
@testable import BasaltCluster

/// The coordinator shell over real messaging and storage engines, three nodes in one process.
@Suite(.serialized)
struct ClusterCoordinatorTests {
    typealias F = CoordinationFixtures

    func mutation(_ k: Int, rows: [Row]) -> Mutation {
        Mutation(schema: F.table, partitionKey: F.int32(k), update: PartitionUpdate(rows: rows))
    }

    func read(_ k: Int) -> ReadCommand {
        ReadCommand(schema: F.table, partitionKey: F.int32(k), nowSeconds: SystemClock().nowSeconds())
    }

    func localRows(_ n: InProcessCluster.Node, _ k: Int) throws -> [Int] {
        F.clusteringValues(try n.engine.read(read(k)))
    }

    @Test func quorumWritesReachEveryReplicaAndReadsAgree() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3))
        for k in 0 ..< 20 {
            try await c.nodes[k % 3].coordinator.write([mutation(k, rows: [F.row(1, k, ts: 10)])], consistency: .quorum, writeType: .simple)
        }
        // The third replica's acknowledgement may still be on its way: ALL reads wait for it.
        for k in 0 ..< 20 {
            let p = try await c.nodes[(k + 1) % 3].coordinator.read(read(k), consistency: .all)
            #expect(F.clusteringValues(p) == [1])
        }
        for n in c.nodes { for k in 0 ..< 20 { #expect(try localRows(n, k) == [1]) } }
        #expect(c.nodes.map(\.coordinator.counters.digestMismatches).reduce(0, +) == 0)
        await c.shutdown()
    }

    @Test func aDownReplicaIsHintedAndAllBecomesUnavailable() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3))
        c.setAlive(2, false)
        try await c.nodes[0].coordinator.write([mutation(7, rows: [F.row(1, 7, ts: 10)])], consistency: .quorum, writeType: .simple)
        #expect(c.nodes[0].hints.hints.map(\.0) == [c.nodes[2].identity.hostId])
        await #expect(throws: CoordinatorError.unavailable(consistency: .all, required: 3, alive: 2)) {
            try await c.nodes[0].coordinator.write([self.mutation(8, rows: [F.row(1, 8, ts: 10)])], consistency: .all, writeType: .simple)
        }
        await #expect(throws: CoordinatorError.unavailable(consistency: .all, required: 3, alive: 2)) {
            _ = try await c.nodes[1].coordinator.read(self.read(7), consistency: .all)
        }
        #expect(try await F.clusteringValues(c.nodes[1].coordinator.read(read(7), consistency: .quorum)) == [1])
        #expect(try localRows(c.nodes[2], 7).isEmpty)
        await c.shutdown()
    }

    @Test func anUnreachableReplicaThatLooksAliveIsReplacedForReads() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3))
        try await c.nodes[0].coordinator.write([mutation(3, rows: [F.row(1, 3, ts: 10)])], consistency: .all, writeType: .simple)
        await c.nodes[1].messaging.shutdown()  // still "alive" in everyone's view
        for _ in 0 ..< 5 {
            #expect(try await F.clusteringValues(c.nodes[0].coordinator.read(read(3), consistency: .quorum)) == [1])
            try await c.nodes[2].coordinator.write([mutation(4, rows: [F.row(1, 4, ts: 10)])], consistency: .quorum, writeType: .simple)
        }
        // The write to the unreachable replica was hinted when its connection failed.
        #expect(c.nodes[2].hints.hints.allSatisfy { $0.0 == c.nodes[1].identity.hostId } && !c.nodes[2].hints.hints.isEmpty)
        await c.shutdown()
    }

    @Test func aStaleReplicaIsRepairedByAQuorumRead() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3))
        // Nodes 0 and 1 have the newer value and a second row; node 2 only the old value.
        try await c.nodes[2].engine.apply(mutation(5, rows: [F.row(1, 100, ts: 10)]))
        for i in [0, 1] { try await c.nodes[i].engine.apply(mutation(5, rows: [F.row(1, 200, ts: 20), F.row(2, 2, ts: 20)])) }
        // Node 2 coordinates: it reads locally (closest) and a digest from node 0 or 1 disagrees.
        let p = try await c.nodes[2].coordinator.read(read(5), consistency: .quorum)
        #expect(F.clusteringValues(p) == [1, 2])
        #expect(p.update.rows[0].cells[0].value == F.int32(200))
        #expect(try localRows(c.nodes[2], 5) == [1, 2])
        #expect(try c.nodes[2].engine.read(read(5)).update.rows[0].cells[0].value == F.int32(200))
        #expect(c.nodes[2].coordinator.counters.digestMismatches == 1 && c.nodes[2].coordinator.counters.readRepairsSent >= 1)
        await c.shutdown()
    }

    @Test func scansCoverTheRingInTokenOrderAndRepairMissingPartitions() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3))
        for k in 0 ..< 60 {
            try await c.nodes[0].coordinator.write([mutation(k, rows: [F.row(1, k, ts: 10), F.row(2, k, ts: 10)])], consistency: .all, writeType: .simple)
        }
        // Node 1 misses partition 1000.
        for i in [0, 2] { try await c.nodes[i].engine.apply(mutation(1000, rows: [F.row(1, 1, ts: 10)])) }
        for (cl, pageSize) in [(ConsistencyLevel.one, 7), (.quorum, 5), (.all, 13)] {
            var keys: [[UInt8]] = []
            var rows = 0
            var after: ScanPosition?
            var pages = 0
            repeat {
                let cmd = TokenScanCommand(schema: F.table, range: TokenRange(start: .min, end: .max), after: after, pageSize: pageSize,
                                           nowSeconds: SystemClock().nowSeconds())
                let page = try await c.nodes[pages % 3].coordinator.scan(cmd, consistency: cl)
                for p in page.partitions where keys.last != p.partitionKey { keys.append(p.partitionKey) }
                rows += page.partitions.reduce(0) { $0 + $1.update.rows.count }
                after = page.next
                pages += 1
            } while after != nil && pages < 500
            let tokens = keys.map { Murmur3.token($0) }
            #expect(tokens == tokens.sorted())
            #expect(Set(keys).count == keys.count)
            if cl == .all {
                #expect(keys.count == 61 && rows == 121)
            } else {
                #expect(keys.count >= 60)
            }
        }
        // The ALL scan repaired node 1.
        #expect(try localRows(c.nodes[1], 1000) == [1])
        await c.shutdown()
    }

    @Test func scansWithOneReplicaPerRangeVisitEveryNode() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 1))
        for k in 0 ..< 150 {
            try await c.nodes[k % 3].coordinator.write([mutation(k, rows: [F.row(1, k, ts: 10)])], consistency: .one, writeType: .simple)
        }
        // Every node holds only its own ranges.
        let held = try c.nodes.map { n in try (0 ..< 150).filter { try !localRows(n, $0).isEmpty }.count }
        #expect(held.reduce(0, +) == 150 && held.allSatisfy { $0 > 0 && $0 < 150 })
        for coordinator in 0 ..< 3 {
            var keys: [[UInt8]] = []
            var after: ScanPosition?
            var pages = 0
            repeat {
                let cmd = TokenScanCommand(schema: F.table, range: TokenRange(start: .min, end: .max), after: after, pageSize: 11,
                                           nowSeconds: SystemClock().nowSeconds())
                let page = try await c.nodes[coordinator].coordinator.scan(cmd, consistency: .one)
                keys += page.partitions.map(\.partitionKey)
                after = page.next
                pages += 1
            } while after != nil && pages < 200
            #expect(keys.count == 150 && Set(keys).count == 150)
            #expect(keys.map { Murmur3.token($0) } == keys.map { Murmur3.token($0) }.sorted())
        }
        // A token range inside the ring: exactly the keys whose token lies in it.
        let range = TokenRange(start: Token(-3_000_000_000_000_000_000), end: Token(4_000_000_000_000_000_000))
        let page = try await c.nodes[1].coordinator.scan(TokenScanCommand(schema: F.table, range: range, pageSize: 1000,
                                                                           nowSeconds: SystemClock().nowSeconds()), consistency: .one)
        let expected = (0 ..< 150).map { F.int32($0) }.filter { range.contains(Murmur3.token($0)) }
        #expect(Set(page.partitions.map(\.partitionKey)) == Set(expected) && page.next == nil)
        await c.shutdown()
    }

    @Test func loggedBatchesGoThroughTheBatchLogAndAreReplayedIfLeftBehind() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3))
        let ms = [mutation(1, rows: [F.row(1, 1, ts: 10)]), mutation(2, rows: [F.row(1, 2, ts: 10)])]
        try await c.nodes[0].coordinator.write(ms, consistency: .quorum, writeType: .batch)
        #expect(c.nodes.map(\.batchlog.counters.stored).reduce(0, +) == 2)
        // Removal is asynchronous; once done, nothing is due for replay.
        var left = 1
        for _ in 0 ..< 100 where left > 0 {
            left = c.nodes.map { $0.batchlog.dueEntries(olderThan: .max).count }.reduce(0, +)
            if left > 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(left == 0)
        // A batch whose coordinator died after storing it: replayed by the batch-log node.
        let orphan = BatchlogEntry(id: UUIDValue(msb: 77, lsb: 77), createdAtMicros: SystemClock().now().micros - 60_000_000,
                                   mutations: [mutation(9, rows: [F.row(1, 9, ts: 10)])])
        try await c.nodes[1].engine.apply(BatchlogTable.store(orphan))
        #expect(await c.nodes[1].batchlog.replayDue(coordinator: c.nodes[1].coordinator) == 1)
        #expect(try await F.clusteringValues(c.nodes[2].coordinator.read(read(9), consistency: .all)) == [1])
        #expect(c.nodes[1].batchlog.dueEntries(olderThan: .max).isEmpty)
        await c.shutdown()
    }

    @Test func garbageOnTheReplicaVerbsIsRefusedAndServiceGoesOn() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3))
        var rng = SplitMix64(seed: 11)
        let verbs = [ReplicaVerbs.mutation, ReplicaVerbs.read, ReplicaVerbs.scan, ReplicaVerbs.readRepair, ReplicaVerbs.hint,
                     ReplicaVerbs.batchlogStore, ReplicaVerbs.batchlogRemove]
        let valid = mutation(1, rows: [F.row(1, 1, ts: 10)]).encoded()
        var refused = 0
        for i in 0 ..< 300 {
            var payload: [UInt8]
            if i % 2 == 0 {
                payload = (0 ..< Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                payload = valid
                for _ in 0 ..< 1 + Int(rng.next() % 4) { payload[Int(rng.next() % UInt64(payload.count))] ^= UInt8(1 + rng.next() % 255) }
            }
            do {
                _ = try await c.nodes[0].messaging.request(to: c.nodes[1].messaging.address, verb: verbs[i % verbs.count], payload: payload,
                                                           timeout: .seconds(5))
            } catch {
                guard case .remoteFailure = error else { throw error }
                refused += 1
            }
        }
        #expect(refused > 200)
        #expect(c.nodes[1].replicas.counters.failures == refused - c.nodes[1].batchlog.counters.malformed)
        // The node still serves real requests.
        try await c.nodes[0].coordinator.write([mutation(2, rows: [F.row(1, 2, ts: 10)])], consistency: .all, writeType: .simple)
        #expect(try await F.clusteringValues(c.nodes[1].coordinator.read(read(2), consistency: .all)) == [1])
        await c.shutdown()
    }

    @Test func writeTimeoutsReportWhatWasAcknowledged() async throws {
        var settings = ClusterCoordinator.Settings()
        settings.writeTimeout = .milliseconds(300)
        let c = try await InProcessCluster(schema: .simple(rf: 3), settings: settings)
        // Node 2's table does not exist there: it rejects the write.
        try c.nodes[2].engine.dropTable(id: F.table.id)
        // ALL fails as soon as the rejection arrives (the local and node 1's acknowledgements may or
        // may not be in by then).
        do {
            try await c.nodes[0].coordinator.write([mutation(1, rows: [F.row(1, 1, ts: 10)])], consistency: .all, writeType: .simple)
            Issue.record("ALL succeeded with a rejecting replica")
        } catch {
            guard case let .writeFailure(cl, received, blockFor, failures, writeType, _, _) = error else { throw error }
            #expect(cl == .all && received <= 2 && blockFor == 3 && failures == 1 && writeType == .simple)
        }
        // Node 1 becomes unreachable. QUORUM: with the rejection, only the local replica is left.
        await c.nodes[1].messaging.shutdown()
        do {
            try await c.nodes[0].coordinator.write([mutation(2, rows: [F.row(1, 1, ts: 10)])], consistency: .quorum, writeType: .simple)
            Issue.record("QUORUM succeeded with one replica")
        } catch {
            guard case let .writeFailure(_, received, blockFor, failures, _, _, _) = error else { throw error }
            #expect(received <= 1 && blockFor == 2 && failures == 1)
        }
        // The unreachable replica got a hint.
        #expect(c.nodes[0].hints.hints.filter { $0.0 == c.nodes[1].identity.hostId }.count >= 1)
        await c.shutdown()
    }
}
