import BasaltCore
import Testing
@testable import BasaltCluster

struct WriteCoordinationTests {
    typealias F = CoordinationFixtures
    typealias W = WriteCoordination
    let simple3 = ReplicationParams.simple(replicationFactor: 3)

    func machine(_ cl: ConsistencyLevel, _ replicas: [Replica], replication: ReplicationParams? = nil, dc: String = "dc1") throws -> W {
        W(plan: try ReplicaPlan.forWrite(cl, replicas: replicas, replication: replication ?? simple3, localDataCenter: dc), writeType: .simple)
    }

    @Test func quorumAnswersAfterTwoAcksAndIgnoresDuplicatesAndLateOnes() throws {
        let r = [F.replica(1), F.replica(2), F.replica(3)]
        var w = try machine(.quorum, r)
        #expect(w.start() == r.map { .send($0) })
        #expect(w.onAck(from: r[0].hostId).isEmpty)
        #expect(w.onAck(from: r[0].hostId).isEmpty)  // duplicate
        #expect(w.onAck(from: r[1].hostId) == [.complete(nil)])
        #expect(!w.isFinished)
        #expect(w.onAck(from: r[2].hostId).isEmpty)  // late
        #expect(w.isFinished)
        #expect(w.onTimeout().isEmpty)
        #expect(w.onAck(from: UUIDValue(msb: 99, lsb: 99)).isEmpty)  // never asked
    }

    @Test func theTimeoutFailsAnUndecidedWriteAndHintsTheSilentReplicas() throws {
        let r = [F.replica(1), F.replica(2), F.replica(3)]
        var w = try machine(.quorum, r)
        _ = w.start()
        _ = w.onAck(from: r[1].hostId)
        #expect(w.onTimeout() == [.complete(.writeTimeout(consistency: .quorum, received: 1, blockFor: 2, writeType: .simple)),
                                  .hint(r[0]), .hint(r[2])])
        #expect(w.isFinished)
        #expect(w.onAck(from: r[0].hostId).isEmpty)
    }

    @Test func aSucceededWriteStillHintsReplicasThatNeverAnswered() throws {
        let r = [F.replica(1), F.replica(2), F.replica(3)]
        var w = try machine(.one, r)
        _ = w.start()
        #expect(w.onAck(from: r[2].hostId) == [.complete(nil)])
        #expect(w.onTimeout() == [.hint(r[0]), .hint(r[1])])
    }

    @Test func downReplicasAreHintedAtOnce() throws {
        let r = [F.replica(1), F.replica(2, alive: false), F.replica(3)]
        var w = try machine(.quorum, r)
        #expect(w.start() == [.send(r[0]), .hint(r[1]), .send(r[2])])
        _ = w.onHintStored(for: r[1].hostId)  // a hint does not count for QUORUM
        #expect(w.onAck(from: r[0].hostId).isEmpty)
        #expect(w.onAck(from: r[2].hostId) == [.complete(nil)])
    }

    @Test func rejectionsThatMakeTheLevelImpossibleFailAtOnce() throws {
        let r = [F.replica(1), F.replica(2), F.replica(3)]
        var w = try machine(.all, r)
        _ = w.start()
        _ = w.onAck(from: r[0].hostId)
        #expect(w.onFailure(from: r[1].hostId, .rejected)
                == [.complete(.writeFailure(consistency: .all, received: 1, blockFor: 3, failures: 1, writeType: .simple,
                                            failedAt: [FailedReplica(r[1].identity.address)]))])
        // An unreachable replica is hinted, and the write fails as a timeout when it cannot succeed.
        var q = try machine(.quorum, r)
        _ = q.start()
        #expect(q.onFailure(from: r[0].hostId, .unreachable) == [.hint(r[0])])
        #expect(q.onFailure(from: r[1].hostId, .unreachable)
                == [.hint(r[1]), .complete(.writeTimeout(consistency: .quorum, received: 0, blockFor: 2, writeType: .simple))])
        #expect(q.onAck(from: r[2].hostId).isEmpty)
    }

    @Test func anySucceedsOnAStoredHint() throws {
        let down = [F.replica(1, alive: false), F.replica(2, alive: false)]
        var w = try machine(.any, down)
        #expect(w.start() == [.hint(down[0]), .hint(down[1])])
        #expect(w.onHintNotStored(for: down[0].hostId).isEmpty)
        #expect(w.onHintStored(for: down[1].hostId) == [.complete(nil)])
        var refused = try machine(.any, down)
        _ = refused.start()
        _ = refused.onHintNotStored(for: down[0].hostId)
        #expect(refused.onHintNotStored(for: down[1].hostId)
                == [.complete(.writeTimeout(consistency: .any, received: 0, blockFor: 1, writeType: .simple))])
    }

    @Test func localQuorumCountsOnlyTheLocalDataCenter() throws {
        let nts = ReplicationParams.networkTopology(["dc1": 3, "dc2": 3])
        let r = [F.replica(1, dc: "dc1"), F.replica(2, dc: "dc2"), F.replica(3, dc: "dc1"),
                 F.replica(4, dc: "dc2"), F.replica(5, dc: "dc1"), F.replica(6, dc: "dc2")]
        var w = try machine(.localQuorum, r, replication: nts)
        #expect(w.start().count == 6)
        #expect(w.onAck(from: r[1].hostId).isEmpty)
        #expect(w.onAck(from: r[3].hostId).isEmpty)
        #expect(w.onAck(from: r[0].hostId).isEmpty)
        #expect(w.onAck(from: r[2].hostId) == [.complete(nil)])
        var each = try machine(.eachQuorum, r, replication: nts)
        _ = each.start()
        for i in [0, 2, 4, 1] { #expect(each.onAck(from: r[i].hostId).isEmpty) }
        #expect(each.onAck(from: r[3].hostId) == [.complete(nil)])
        // EACH_QUORUM fails when one data center cannot reach its quorum any more.
        var lost = try machine(.eachQuorum, r, replication: nts)
        _ = lost.start()
        _ = lost.onFailure(from: r[1].hostId, .rejected)
        #expect(lost.onFailure(from: r[3].hostId, .rejected)
                == [.complete(.writeFailure(consistency: .eachQuorum, received: 0, blockFor: 4, failures: 2, writeType: .simple,
                                            failedAt: [FailedReplica(r[1].identity.address), FailedReplica(r[3].identity.address)]))])
    }

    /// Random event orders: exactly one completion, success iff enough counting acks arrived first.
    @Test func randomInterleavingsCompleteExactlyOnce() throws {
        var rng = SplitMix64(seed: 42)
        let r = (1 ... 5).map { F.replica($0) }
        let rf5 = ReplicationParams.simple(replicationFactor: 5)
        for _ in 0 ..< 2000 {
            let cl: ConsistencyLevel = [.one, .two, .quorum, .all][Int(rng.next() % 4)]
            var w = try machine(cl, r, replication: rf5)
            var out = w.start()
            var events: [(Int, Int)] = (0 ..< 12).map { _ in (Int(rng.next() % 5), Int(rng.next() % 4)) }
            events.append((0, 4))
            var acks = Set<Int>(), gone = Set<Int>(), expected: CoordinatorError?? = nil
            for (i, kind) in events {
                switch kind {
                case 0, 1:
                    if !gone.contains(i) && !acks.contains(i) { acks.insert(i) }
                    out += w.onAck(from: r[i].hostId)
                case 2:
                    if !acks.contains(i) { gone.insert(i) }
                    out += w.onFailure(from: r[i].hostId, .rejected)
                case 3:
                    if !acks.contains(i) { gone.insert(i) }
                    out += w.onFailure(from: r[i].hostId, .unreachable)
                default:
                    out += w.onTimeout()
                }
                if expected == nil {
                    if acks.count >= w.plan.blockFor { expected = .some(nil) } else if 5 - gone.count < w.plan.blockFor || kind == 4 { expected = .some(.writeTimeout(consistency: cl, received: 0, blockFor: 0, writeType: .simple)) }
                }
            }
            let completions = out.compactMap { if case let .complete(e) = $0 { e as CoordinatorError?? } else { nil } }
            #expect(completions.count == 1)
            #expect((completions.first! == nil) == (expected! == nil))
        }
    }
}
