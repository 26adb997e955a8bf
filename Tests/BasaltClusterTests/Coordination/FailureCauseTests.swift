import BasaltCore
import BasaltNet
import BasaltStorage
import Glibc
import Testing
@testable import BasaltCluster

/// Clear failure reasons: oversized mutations refused before any replica is contacted, replica
/// refusals counted by cause on both sides.
struct FailureCauseTests {
    typealias F = CoordinationFixtures

    @Test func aCauseTravelsAtTheHeadOfAFailureMessage() {
        let tagged = FailureCause.diskFull.tagging("write failed on /data: No space left on device")
        #expect(FailureCause(taggedMessage: tagged) == .diskFull)
        #expect(FailureCause(taggedMessage: "no cause here") == .unknown)
        #expect(FailureCause(taggedMessage: "Mutation of 3: too large") == .unknown)
        #expect(FailureCause.of(StorageError.io(path: "/d", operation: "write", errno: ENOSPC)) == .diskFull)
        #expect(FailureCause.of(StorageError.invalid("mutation of 9 bytes exceeds the limit of 8 (half a commit-log segment)")) == .mutationTooLarge)
        #expect(FailureCause.of(DecodeError.truncated(needed: 4, available: 0, at: 0)) == .malformedRequest)
    }

    @Test func anOversizedMutationIsInvalidBeforeAnyReplicaIsContacted() async throws {
        var settings = ClusterCoordinator.Settings()
        settings.maxMutationSize = 1000
        let c = try await InProcessCluster(schema: .simple(rf: 3), settings: settings)
        let small = Mutation(schema: F.table, partitionKey: F.int32(1), update: PartitionUpdate(rows: [F.row(1, 1, ts: 10)]))
        let big = Mutation(schema: F.table, partitionKey: F.int32(2), update: PartitionUpdate(rows: (0 ..< 300).map { F.row($0, $0, ts: 10) }))
        let size = big.encoded().count
        let expected = CoordinatorError.invalid("Mutation of \(size) bytes is too large for the maximum size of 1000")
        await #expect(throws: expected) {
            try await c.nodes[0].coordinator.write([big], consistency: .one, writeType: .simple)
        }
        // In a batch, nothing is written either (the small mutation included).
        await #expect(throws: expected) {
            try await c.nodes[0].coordinator.write([small, big], consistency: .one, writeType: .batch)
        }
        for n in c.nodes {
            #expect(n.replicas.counters.mutations == 0)
            for k in [1, 2] {
                let read = ReadCommand(schema: F.table, partitionKey: F.int32(k), nowSeconds: SystemClock().nowSeconds())
                #expect(F.clusteringValues(try n.engine.read(read)).isEmpty)
            }
        }
        #expect(c.nodes[0].coordinator.counters.mutationsTooLarge == 2)
        await c.shutdown()
    }

    @Test func replicaRefusalsAreCountedByCauseOnBothSides() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3))
        // A table no replica has: every replica refuses it (unknown_table).
        let ghost = Mutation(keyspace: F.table.keyspace, table: "ghost", tableId: UUIDValue.random(), partitionKey: F.int32(3),
                             update: PartitionUpdate(rows: [F.row(1, 3, ts: 10)]))
        do {
            try await c.nodes[0].coordinator.write([ghost], consistency: .all, writeType: .simple)
            Issue.record("a write to an unknown table succeeded")
        } catch {
            guard case .writeFailure = error else { Issue.record("expected WriteFailure, got \(error)"); return }
        }
        let coordinatorSide = c.nodes[0].coordinator.failures.snapshot
        #expect(coordinatorSide[.init(kind: .write, side: .coordinator, cause: .unknownTable)] == 1)
        // The write failed as soon as ALL could not be met; the other replicas' refusals follow.
        func replicaSide() -> Int {
            c.nodes.dropFirst().map { $0.replicas.failures.snapshot[.init(kind: .write, side: .replica, cause: .unknownTable)] ?? 0 }.reduce(0, +)
        }
        for _ in 0 ..< 200 where replicaSide() < 2 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(replicaSide() == 2)
        await c.shutdown()
    }
}
