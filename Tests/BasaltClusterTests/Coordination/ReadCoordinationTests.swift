import BasaltCore
import BasaltStorage
import Testing
@testable import BasaltCluster

struct ReadCoordinationTests {
    typealias F = CoordinationFixtures
    typealias R = ReadCoordination
    let rf3 = ReplicationParams.simple(replicationFactor: 3)
    let r = [F.replica(1, local: true), F.replica(2), F.replica(3)]

    func machine(_ cl: ConsistencyLevel, _ command: ReadCommand = F.command(), replicas: [Replica]? = nil) throws -> R {
        R(command: command, plan: try ReplicaPlan.forRead(cl, replicas: replicas ?? r, replication: rf3, localDataCenter: "dc1"),
          comparator: F.cmp)
    }

    static func requests(_ ds: [R.Directive]) -> [R.Request] {
        ds.compactMap { if case let .request(q) = $0 { q } else { nil } }
    }

    static func outcome(_ ds: [R.Directive]) -> R.Outcome? {
        ds.lazy.compactMap { if case let .complete(o) = $0 { o } else { nil } }.first
    }

    @Test func oneReadsDataFromTheClosestReplica() throws {
        var m = try machine(.one)
        let q = Self.requests(m.start())
        #expect(q.map(\.replica) == [r[0]] && q[0].kind == .data)
        let data = F.partition([F.row(1, 10, ts: 5)])
        #expect(Self.outcome(m.onData(data, from: r[0].hostId, round: 0)) == .result(data))
        #expect(m.onData(data, from: r[0].hostId, round: 0).isEmpty)
    }

    @Test func matchingDigestsAnswerAtOnce() throws {
        var m = try machine(.quorum)
        let q = Self.requests(m.start())
        #expect(q.map(\.kind) == [.data, .digest] && q.map(\.replica) == [r[0], r[1]])
        let data = F.partition([F.row(1, 10, ts: 5)])
        #expect(m.onDigest(data.digest(F.cmp), from: r[1].hostId, round: 0).isEmpty)
        #expect(Self.outcome(m.onData(data, from: r[0].hostId, round: 0)) == .result(data))
    }

    @Test func aMismatchIsReconciledAndTheStaleReplicaRepairedBeforeAnswering() throws {
        var m = try machine(.quorum, F.command(columns: ColumnSelection(["v"])))
        _ = m.start()
        let fresh = F.partition([F.row(1, 10, ts: 5), F.row(2, 20, ts: 6)])
        let stale = F.partition([F.row(1, 10, ts: 5)])
        _ = m.onData(stale, from: r[0].hostId, round: 0)
        let round1 = Self.requests(m.onDigest(fresh.digest(F.cmp), from: r[1].hostId, round: 0))
        // Full data, all columns, from both replicas that answered.
        #expect(Set(round1.map(\.replica)) == [r[0], r[1]])
        #expect(round1.allSatisfy { $0.kind == .data && $0.round == 1 && $0.command.columns == .all })
        // A late digest of round 0 changes nothing.
        #expect(m.onDigest(stale.digest(F.cmp), from: r[2].hostId, round: 0).isEmpty)
        #expect(m.onData(fresh, from: r[1].hostId, round: 1).isEmpty)
        let repair = m.onData(stale, from: r[0].hostId, round: 1)
        guard case let .repair(target, mutation, round) = repair.first, repair.count == 1 else {
            Issue.record("expected one repair, got \(repair)")
            return
        }
        #expect(target == r[0] && round == 1 && mutation.update.rows.count == 2)
        #expect(!m.isComplete)
        guard case let .result(answer)? = Self.outcome(m.onRepairAck(from: r[0].hostId, round: 1)) else {
            Issue.record("no answer after the repair")
            return
        }
        #expect(F.clusteringValues(answer) == [1, 2])
        #expect(answer.update.rows.allSatisfy { $0.cells.allSatisfy { $0.column == "v" } })
    }

    @Test func aFailedReplicaIsReplacedAndSpeculationAsksOneMore() throws {
        var m = try machine(.quorum)
        _ = m.start()
        let replacement = Self.requests(m.onFailure(from: r[1].hostId, round: 0, .unreachable))
        #expect(replacement.map(\.replica) == [r[2]] && replacement[0].kind == .data)
        let data = F.partition([F.row(1, 10, ts: 5)])
        #expect(m.onData(data, from: r[2].hostId, round: 0).isEmpty)
        #expect(Self.outcome(m.onData(data, from: r[0].hostId, round: 0)) == .result(data))

        var s = try machine(.quorum)
        _ = s.start()
        #expect(Self.requests(s.onSpeculationTimer()).map(\.replica) == [r[2]])
        #expect(s.onSpeculationTimer().isEmpty)
        _ = s.onData(data, from: r[2].hostId, round: 0)
        #expect(Self.outcome(s.onData(data, from: r[0].hostId, round: 0)) == .result(data))
    }

    @Test func failuresAndTimeoutsReportWhatArrived() throws {
        var m = try machine(.all)
        _ = m.start()
        _ = m.onDigest(ResultDigest((1, 2)), from: r[1].hostId, round: 0)
        #expect(Self.outcome(m.onFailure(from: r[2].hostId, round: 0, .rejected))
                == .failure(.readFailure(consistency: .all, received: 1, blockFor: 3, failures: 1, dataPresent: false,
                                         failedAt: [FailedReplica(r[2].identity.address)])))
        var t = try machine(.quorum)
        _ = t.start()
        _ = t.onData(F.partition([]), from: r[0].hostId, round: 0)
        #expect(Self.outcome(t.onTimeout()) == .failure(.readTimeout(consistency: .quorum, received: 1, blockFor: 2, dataPresent: true)))
        #expect(t.onTimeout().isEmpty)
    }

    /// Replica 1 returns rows 1–2 (its limit); replica 2 deleted them and returns rows 3–4. The
    /// merge must not answer rows 3–4 before asking replica 1 what lies beyond row 2.
    @Test func shortReadsAreProtected() throws {
        var m = try machine(.quorum, F.command(limit: 2))
        _ = m.start()
        let a = F.partition([F.row(1, 1, ts: 5), F.row(2, 2, ts: 5)])
        let b = F.partition([F.deletedRow(1, ts: 9), F.deletedRow(2, ts: 9), F.row(3, 3, ts: 5), F.row(4, 4, ts: 5)])
        _ = m.onData(a, from: r[0].hostId, round: 0)
        let round1 = Self.requests(m.onDigest(b.digest(F.cmp), from: r[1].hostId, round: 0))
        #expect(round1.allSatisfy { $0.command.limit == 2 })
        _ = m.onData(a, from: r[0].hostId, round: 1)
        let round2 = Self.requests(m.onData(b, from: r[1].hostId, round: 1))
        // Cut at row 2 (replica 1 may hold more): no live row survives, so the limit doubles.
        #expect(round2.count == 2 && round2.allSatisfy { $0.command.limit == 4 && $0.round == 2 })
        let aFull = F.partition([F.row(1, 1, ts: 5), F.row(2, 2, ts: 5), F.row(3, 3, ts: 5), F.row(5, 5, ts: 5)])
        _ = m.onData(aFull, from: r[0].hostId, round: 2)
        let resolved = m.onData(b, from: r[1].hostId, round: 2)
        let repairs = resolved.filter { if case .repair = $0 { true } else { false } }
        #expect(repairs.count == 2)
        _ = m.onRepairAck(from: r[0].hostId, round: 2)
        guard case let .result(answer)? = Self.outcome(m.onRepairAck(from: r[1].hostId, round: 2)) else {
            Issue.record("no answer")
            return
        }
        let live = answer.live(now: 2000, F.cmp).rows.map { r in
            var reader = ByteReader(r.clustering[0]); return Int((try? reader.readInt32()) ?? -1)
        }
        #expect(live == [3, 4])
    }

    @Test func reversedShortReadsCutFromTheOtherEnd() throws {
        var m = try machine(.quorum, F.command(limit: 1, reversed: true))
        _ = m.start()
        let a = F.partition([F.row(5, 5, ts: 5)])
        let b = F.partition([F.deletedRow(5, ts: 9), F.row(4, 4, ts: 5)])
        _ = m.onData(a, from: r[0].hostId, round: 0)
        _ = m.onDigest(b.digest(F.cmp), from: r[1].hostId, round: 0)
        _ = m.onData(a, from: r[0].hostId, round: 1)
        let again = Self.requests(m.onData(b, from: r[1].hostId, round: 1))
        #expect(again.count == 2 && again.allSatisfy { $0.command.limit == 2 })
    }
}
