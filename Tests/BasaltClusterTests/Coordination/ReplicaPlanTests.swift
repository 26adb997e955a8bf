import BasaltCore
import Testing
@testable import BasaltCluster

struct ReplicaPlanTests {
    typealias F = CoordinationFixtures

    @Test func blockForFollowsCassandra() {
        let simple = ReplicationParams.simple(replicationFactor: 3)
        let nts = ReplicationParams.networkTopology(["dc1": 3, "dc2": 2])
        func b(_ cl: ConsistencyLevel, _ r: ReplicationParams) -> Int { ConsistencyRequirement(cl, replication: r, localDataCenter: "dc1").blockFor }
        #expect([ConsistencyLevel.any, .one, .two, .three, .quorum, .all, .localOne, .localQuorum, .eachQuorum].map { b($0, simple) }
                == [1, 1, 2, 3, 2, 3, 1, 2, 2])
        #expect([ConsistencyLevel.one, .quorum, .all, .localOne, .localQuorum, .eachQuorum].map { b($0, nts) } == [1, 3, 5, 1, 2, 4])
        #expect(ConsistencyRequirement(.localQuorum, replication: nts, localDataCenter: "dc2").blockFor == 2)
    }

    @Test func writesAreUnavailableWhenTooFewReplicasAreAlive() throws {
        let replicas = [F.replica(1), F.replica(2, alive: false), F.replica(3)]
        let simple = ReplicationParams.simple(replicationFactor: 3)
        let quorum = try ReplicaPlan.forWrite(.quorum, replicas: replicas, replication: simple, localDataCenter: "dc1")
        #expect(quorum.liveReplicas.count == 2 && quorum.downReplicas == [replicas[1]])
        #expect(throws: CoordinatorError.unavailable(consistency: .all, required: 3, alive: 2)) {
            try ReplicaPlan.forWrite(.all, replicas: replicas, replication: simple, localDataCenter: "dc1")
        }
        // ANY needs nothing alive: a hint counts.
        let down = replicas.map { var r = $0; r.isAlive = false; return r }
        _ = try ReplicaPlan.forWrite(.any, replicas: down, replication: simple, localDataCenter: "dc1")
        #expect(throws: CoordinatorError.unavailable(consistency: .one, required: 1, alive: 0)) {
            try ReplicaPlan.forWrite(.one, replicas: down, replication: simple, localDataCenter: "dc1")
        }
        #expect(throws: CoordinatorError.self) {
            try ReplicaPlan.forWrite(.serial, replicas: replicas, replication: simple, localDataCenter: "dc1")
        }
    }

    @Test func localAndEachQuorumCountPerDataCenter() throws {
        let nts = ReplicationParams.networkTopology(["dc1": 3, "dc2": 3])
        let replicas = [F.replica(1, dc: "dc1"), F.replica(2, dc: "dc2", alive: false), F.replica(3, dc: "dc1"),
                        F.replica(4, dc: "dc2", alive: false), F.replica(5, dc: "dc1", alive: false), F.replica(6, dc: "dc2")]
        // dc1 has 2 of 3 alive: LOCAL_QUORUM from dc1 is possible, from dc2 it is not.
        _ = try ReplicaPlan.forWrite(.localQuorum, replicas: replicas, replication: nts, localDataCenter: "dc1")
        #expect(throws: CoordinatorError.unavailable(consistency: .localQuorum, required: 2, alive: 1)) {
            try ReplicaPlan.forWrite(.localQuorum, replicas: replicas, replication: nts, localDataCenter: "dc2")
        }
        #expect(throws: CoordinatorError.unavailable(consistency: .eachQuorum, required: 2, alive: 1)) {
            try ReplicaPlan.forRead(.eachQuorum, replicas: replicas, replication: nts, localDataCenter: "dc1")
        }
        // LOCAL_ONE reads only consider the local data center.
        let plan = try ReplicaPlan.forRead(.localOne, replicas: replicas, replication: nts, localDataCenter: "dc2")
        #expect(plan.candidates == [replicas[5]])
    }

    @Test func readsPreferThisNodeThenItsDataCenter() throws {
        let nts = ReplicationParams.networkTopology(["dc1": 2, "dc2": 2])
        let replicas = [F.replica(1, dc: "dc2"), F.replica(2, dc: "dc1"), F.replica(3, dc: "dc2"), F.replica(4, dc: "dc1", local: true)]
        let plan = try ReplicaPlan.forRead(.quorum, replicas: replicas, replication: nts, localDataCenter: "dc1")
        #expect(plan.candidates.map(\.identity) == [replicas[3], replicas[1], replicas[0], replicas[2]].map(\.identity))
        #expect(plan.initialContacts.count == 3)
        let each = try ReplicaPlan.forRead(.eachQuorum, replicas: replicas, replication: nts, localDataCenter: "dc1")
        #expect(Set(each.initialContacts.map(\.dataCenter)) == ["dc1", "dc2"] && each.initialContacts.count == 4)
        #expect(throws: CoordinatorError.self) {
            try ReplicaPlan.forRead(.any, replicas: replicas, replication: nts, localDataCenter: "dc1")
        }
    }

    @Test func rangesAreCutAtRingTokens() {
        let ring = TokenRing(members: [RingFixtures.member("a", tokens: [-100, 100]), RingFixtures.member("b", tokens: [0])])
        let all = ring.pieces(of: TokenRange(start: .min, end: .min))
        #expect(all.map(\.range) == [TokenRange(start: .min, end: Token(-100)), TokenRange(start: Token(-100), end: Token(0)),
                                     TokenRange(start: Token(0), end: Token(100)), TokenRange(start: Token(100), end: .max)])
        #expect(all.map(\.ringIndex) == [0, 1, 2, 0])
        let inner = ring.pieces(of: TokenRange(start: Token(-50), end: Token(100)))
        #expect(inner.map(\.range) == [TokenRange(start: Token(-50), end: Token(0)), TokenRange(start: Token(0), end: Token(100))])
        #expect(inner.map(\.ringIndex) == [1, 2])
        // A wrapping range is its two unwrapped parts, in token order.
        let wrapping = ring.pieces(of: TokenRange(start: Token(50), end: Token(-150)))
        #expect(wrapping.map(\.range) == [TokenRange(start: .min, end: Token(-150)), TokenRange(start: Token(50), end: Token(100)),
                                          TokenRange(start: Token(100), end: .max)])
        #expect(TokenRing().pieces(of: TokenRange(start: .min, end: .min)).isEmpty)
    }
}
