import BasaltCore
import BasaltNet
import BasaltStorage
import Testing
@testable import BasaltCluster

/// `ORDER BY … ANN OF` coordination over three in-process nodes whose "index" ranks rows by their
/// partition key (``KeyOrderSearch``): which replicas are asked for which ranges, and which rows
/// come back settled by the replicas' own versions.
@Suite(.serialized)
struct NearestRowsCoordinationTests {
    typealias F = CoordinationFixtures
    static let whole = TokenRange(start: .min, end: .max)

    func mutation(_ k: Int, rows: [Row]) -> Mutation {
        Mutation(schema: F.table, partitionKey: F.int32(k), update: PartitionUpdate(rows: rows))
    }

    func command(k: Int, rowsWanted: Int) -> NearestRowsCommand {
        NearestRowsCommand(keyspace: "ks", table: "t", tableId: F.table.id, index: "v", vector: [0], k: k,
                           rowsWanted: rowsWanted, nowSeconds: SystemClock().nowSeconds())
    }

    /// The `v` value of the one row of a settled candidate.
    func value(_ row: NearestRow) -> Int? {
        guard let cell = row.row?.update.rows.first?.cells.first(where: { $0.column == "v" }) else { return nil }
        var r = ByteReader(cell.value)
        return (try? r.readInt32()).map(Int.init)
    }

    func keys(_ rows: [NearestRow]) -> [Int] {
        rows.map { r in
            var reader = ByteReader(r.partitionKey)
            return Int((try? reader.readInt32()) ?? -1)
        }
    }

    @Test func perReplicaRoutingGathersThePiecesOnAsFewReplicasAsTheLevelAllows() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3), vectorSearch: true)
        let coordinator = c.nodes[0].coordinator!
        let pieces = c.ring.pieces(of: Self.whole).count
        for level in [ConsistencyLevel.one, .quorum, .all] {
            let plan = try coordinator.assign([Self.whole], consistency: level, replication: .simple(replicationFactor: 3))
            #expect(plan.count == (level == .one ? 1 : level == .quorum ? 2 : 3))
            #expect(plan.allSatisfy { $0.ranges.count == pieces })
            #expect(plan[0].replica.isLocal)
            let perRange = try coordinator.assign([Self.whole], consistency: level, replication: .simple(replicationFactor: 3), routing: .perRange)
            #expect(perRange.count == pieces * plan.count)
            #expect(perRange.allSatisfy { $0.ranges.count == 1 })
        }
        await c.shutdown()
    }

    @Test func rowsEveryAskedReplicaReturnedComeBackReconciledTheOthersUnsettled() async throws {
        let c = try await InProcessCluster(schema: .simple(rf: 3), vectorSearch: true)
        for k in 0 ..< 10 {
            try await c.nodes[0].coordinator.write([mutation(k, rows: [F.row(1, k, ts: 10)])], consistency: .all, writeType: .simple)
        }
        // Node 2 alone saw key 3's row deleted; node 1 alone saw key 5 overwritten.
        try await c.nodes[2].engine.apply(mutation(3, rows: [F.deletedRow(1, ts: 20)]))
        try await c.nodes[1].engine.apply(mutation(5, rows: [F.row(1, 500, ts: 20)]))

        let all = try await c.nodes[0].coordinator.nearestRows(command(k: 10, rowsWanted: 10), consistency: .all)
        #expect(keys(all) == Array(0 ..< 10))
        for row in all {
            switch keys([row])[0] {
            case 3: #expect(row.row == nil)  // node 2 did not return it: it must be read at ALL
            case 5: #expect(value(row) == 500)  // the newest of the three versions
            case let k: #expect(value(row) == k)
            }
        }

        // At ONE the coordinator is the one replica asked, and its own version settles every row.
        let one = try await c.nodes[0].coordinator.nearestRows(command(k: 10, rowsWanted: 10), consistency: .one)
        #expect(keys(one) == Array(0 ..< 10))
        #expect(one.map(value) == (0 ..< 10).map { Optional($0) })

        // Without content wanted, nothing is settled. (Node 2's four nearest are 0, 1, 2, 4: the
        // answers' union has key 4 as well when node 2 is one of the two asked.)
        let bare = try await c.nodes[1].coordinator.nearestRows(command(k: 4, rowsWanted: 0), consistency: .quorum)
        #expect(keys(bare) == [0, 1, 2, 3] || keys(bare) == [0, 1, 2, 3, 4])
        #expect(bare.allSatisfy { $0.row == nil })
        await c.shutdown()
    }

    @Test func replicasAskedForPartOfWhatTheyHoldAnswerOnlyForThatPart() async throws {
        // RF 2 on 3 nodes: the coordinator holds two thirds of the ring, another replica answers
        // for the rest through a token filter, and every row comes back once, settled.
        let c = try await InProcessCluster(schema: .simple(rf: 2), vectorSearch: true)
        for k in 0 ..< 30 {
            try await c.nodes[1].coordinator.write([mutation(k, rows: [F.row(1, k, ts: 10)])], consistency: .all, writeType: .simple)
        }
        for level in [ConsistencyLevel.one, .quorum] {
            let rows = try await c.nodes[0].coordinator.nearestRows(command(k: 30, rowsWanted: 30), consistency: level)
            #expect(keys(rows) == Array(0 ..< 30))
            #expect(rows.map(value) == (0 ..< 30).map { Optional($0) })
            #expect(rows.allSatisfy { $0.row?.token == Murmur3.token($0.partitionKey) })
        }
        await c.shutdown()
    }

    @Test func contentCodecRoundTripsAndRefusesDamage() throws {
        let content = PartitionResult(partitionKey: F.int32(7), update: PartitionUpdate(rows: [F.row(1, 7, ts: 3)]))
        let rows = [NearestRow(partitionKey: F.int32(7), clustering: [F.int32(1)], distance: 0.5, row: content),
                    NearestRow(partitionKey: F.int32(8), clustering: [F.int32(1)], distance: 0.75)]
        let bytes = NearestRow.encode(rows)
        #expect(try NearestRow.decode(bytes) == rows)
        for n in 0 ..< bytes.count {
            #expect(throws: DecodeError.self) { _ = try NearestRow.decode(Array(bytes.prefix(n))) }
        }
        // Content that belongs to another partition than the row it answers for.
        var wrong = rows
        wrong[0].partitionKey = F.int32(9)
        #expect(throws: DecodeError.self) { _ = try NearestRow.decode(NearestRow.encode(wrong)) }

        let wanted = command(k: 10, rowsWanted: 4)
        #expect(try NearestRowsCommand.decode(wanted.encoded()) == wanted)
        var tooMany = wanted
        tooMany.rowsWanted = 11
        #expect(throws: DecodeError.self) { _ = try NearestRowsCommand.decode(tooMany.encoded()) }
    }
}

/// A stand-in for a vector index: this node's live rows of the fixtures' table within the
/// command's ranges, nearest first by partition key (key k at distance k).
final class KeyOrderSearch: LocalVectorSearch {
    let engine: StorageEngine
    let table: TableSchema

    init(engine: StorageEngine, table: TableSchema) {
        self.engine = engine
        self.table = table
    }

    func nearestRows(_ command: NearestRowsCommand) throws -> [NearestRow] {
        let now = SystemClock().nowSeconds()
        let scan = try engine.scan(TokenScanCommand(schema: table, range: TokenRange(start: .min, end: .max), pageSize: 10_000, nowSeconds: now))
        var found: [NearestRow] = []
        for p in scan.partitions where command.covers(p.token) {
            var reader = ByteReader(p.partitionKey)
            let key = try reader.readInt32()
            for row in p.live(now: now, CoordinationFixtures.cmp).rows {
                found.append(NearestRow(partitionKey: p.partitionKey, clustering: row.clustering, distance: Float(key)))
            }
        }
        return Array(found.sorted { $0.distance < $1.distance }.prefix(command.k))
    }
}
