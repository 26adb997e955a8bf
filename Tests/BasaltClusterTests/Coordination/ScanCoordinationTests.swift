import BasaltCore
import BasaltStorage
import Testing
@testable import BasaltCluster

struct ScanCoordinationTests {
    typealias F = CoordinationFixtures
    typealias S = ScanCoordination
    let r = [F.replica(1, local: true), F.replica(2), F.replica(3)]

    func machine(_ cl: ConsistencyLevel, pageSize: Int = 10) throws -> S {
        let command = TokenScanCommand(schema: F.table, range: TokenRange(start: .min, end: .max), pageSize: pageSize, nowSeconds: 2000)
        return S(command: command, plan: try ReplicaPlan.forRead(cl, replicas: r, replication: .simple(replicationFactor: 3), localDataCenter: "dc1"),
                 comparator: F.cmp)
    }

    func part(_ k: Int, _ rows: [Row]) -> PartitionResult { F.partition(rows, key: F.int32(k)) }

    /// Partitions of keys in token order.
    var keysByToken: [Int] { (1 ... 6).sorted { Murmur3.token(F.int32($0)) < Murmur3.token(F.int32($1)) } }

    @Test func thePageEndsWhereTheFirstReplicaStoppedAndStaleReplicasAreRepaired() throws {
        var m = try machine(.quorum)
        let q = m.start().compactMap { if case let .request(x) = $0 { x } else { nil } }
        #expect(q.map(\.replica) == [r[0], r[1]])
        let k = keysByToken
        let p = k.map { part($0, [F.row(1, $0, ts: 5)]) }
        let tokenOf = { (i: Int) in Murmur3.token(F.int32(k[i])) }
        // Replica 1 stopped after the third partition; replica 2 went further but lacks the second.
        let page1 = ScanResult(partitions: [p[0], p[1], p[2]], next: ScanPosition(token: tokenOf(2), partitionKey: F.int32(k[2])))
        let page2 = ScanResult(partitions: [p[0], p[2], p[3], p[4]], next: nil)
        #expect(m.onPage(page1, from: r[0].hostId, round: 0).isEmpty)
        let out = m.onPage(page2, from: r[1].hostId, round: 0)
        guard case let .repair(target, mutation, _) = out.first, out.count == 1 else {
            Issue.record("expected one repair, got \(out)")
            return
        }
        #expect(target == r[1] && mutation.partitionKey == F.int32(k[1]))
        guard case let .complete(.page(page))? = m.onRepairAck(from: r[1].hostId, round: 0).first else {
            Issue.record("no page")
            return
        }
        #expect(page.partitions.map(\.partitionKey) == [p[0], p[1], p[2]].map(\.partitionKey))
        #expect(page.next == page1.next)
    }

    @Test func aPartitionCutShortIsCutOnEveryReplica() throws {
        var m = try machine(.quorum, pageSize: 2)
        _ = m.start()
        let key = F.int32(1), token = Murmur3.token(key)
        let a = ScanResult(partitions: [part(1, [F.row(1, 1, ts: 5), F.row(2, 2, ts: 5)])],
                           next: ScanPosition(token: token, partitionKey: key, clustering: [F.int32(2)]))
        let b = ScanResult(partitions: [part(1, [F.row(1, 1, ts: 5), F.row(2, 2, ts: 5), F.row(3, 3, ts: 5)])], next: nil)
        _ = m.onPage(a, from: r[0].hostId, round: 0)
        guard case let .complete(.page(page))? = m.onPage(b, from: r[1].hostId, round: 0).first else {
            Issue.record("expected the page without repairs")
            return
        }
        #expect(F.clusteringValues(page.partitions[0]) == [1, 2])
        #expect(page.next == a.next)
    }

    @Test func failuresAreReplacedThenReported() throws {
        var m = try machine(.quorum)
        _ = m.start()
        let next = m.onFailure(from: r[1].hostId, round: 0, .unreachable)
        #expect(next.count == 1)
        #expect(m.onPage(ScanResult(partitions: [], next: nil), from: r[0].hostId, round: 0).isEmpty)
        #expect(m.onFailure(from: r[2].hostId, round: 0, .rejected)
                == [.complete(.failure(.readFailure(consistency: .quorum, received: 1, blockFor: 2, failures: 1, dataPresent: true,
                                                     failedAt: [FailedReplica(r[2].identity.address)])))])
    }

    @Test func positionsOrderByTokenKeyThenClustering() {
        let a = ScanPosition(token: Token(1), partitionKey: [1], clustering: [F.int32(5)])
        let whole = ScanPosition(token: Token(1), partitionKey: [1])
        #expect(S.compare(a, whole, F.cmp) < 0)
        #expect(S.compare(whole, ScanPosition(token: Token(1), partitionKey: [2], clustering: [F.int32(0)]), F.cmp) < 0)
        #expect(S.compare(ScanPosition(token: Token(2), partitionKey: [0]), whole, F.cmp) > 0)
        #expect(S.compare(a, a, F.cmp) == 0)
    }
}
