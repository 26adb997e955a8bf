import BasaltCore
import Testing
@testable import BasaltCluster

/// Which data moves when a node joins, leaves or is removed, checked against a brute-force rule on
/// random tokens: every token's future replicas that are not current replicas receive it from a
/// current replica; nothing else moves. And the coordinator's pending replicas and their blockFor.
struct RangeMovementTests {
    static let table = TableSchema(keyspace: "ks", name: "t", id: UUIDValue(msb: 1, lsb: 9),
                                   columns: [ColumnDefinition(name: "k", type: .int, kind: .partitionKey)])

    static func ring(_ nodes: Int, tokens: Int, seed: UInt64) -> (TokenRing, [RingMember]) {
        var rng = SplitMix64(seed: seed)
        var members: [RingMember] = []
        for n in 0 ..< nodes {
            members.append(RingMember(identity: RingFixtures.identity(n, using: &rng), dataCenter: "dc1", rack: "r1",
                                      tokens: TokenAllocator.random(count: tokens, using: &rng)))
        }
        return (TokenRing(members: members), members)
    }

    /// Checks `transfers` against the rule for `samples` random tokens.
    static func check(_ transfers: [RangeMovement.Transfer], from current: TokenRing, to future: TokenRing, rf: Int, seed: UInt64,
                      receivers: Set<NodeIdentity>? = nil, usable: (NodeIdentity) -> Bool) {
        let replication = ReplicationParams.simple(replicationFactor: rf)
        let now = ReplicationStrategy(replication).placement(in: current, localNode: current.members[0].identity)
        let next = ReplicationStrategy(replication).placement(in: future, localNode: current.members[0].identity)
        var rng = SplitMix64(seed: seed)
        for _ in 0 ..< 2000 {
            let t = Token(Int64(bitPattern: rng.next()))
            guard t != .min else { continue }
            let holders = now.replicas(for: t)
            var expected = Set(next.replicas(for: t).filter { !holders.contains($0) })
            if let receivers { expected = expected.intersection(receivers) }
            let got = transfers.filter { tr in tr.tasks.contains { $0.range.contains(t) } }
            #expect(Set(got.map(\.receiver)) == expected, "token \(t)")
            for tr in got {
                #expect(holders.contains(tr.source) && usable(tr.source) && tr.source != tr.receiver)
                #expect(tr.tasks.filter { $0.range.contains(t) }.count == 1, "each token once per receiver")
            }
        }
    }

    @Test func aJoiningNodeReceivesExactlyTheRangesItWillReplicate() throws {
        for seed: UInt64 in [1, 2, 3] {
            let (current, members) = Self.ring(3, tokens: 8, seed: seed)
            var rng = SplitMix64(seed: seed + 100)
            let newcomer = RingMember(identity: RingFixtures.identity(50, using: &rng), dataCenter: "dc1", rack: "r1",
                                      tokens: TokenAllocator.allocate(count: 8, dataCenter: "dc1", in: current, replicationFactor: 2, using: &rng))
            let future = current.adding(newcomer)
            let ks = [RangeMovement.Keyspace(name: "ks", replication: .simple(replicationFactor: 2), tables: [Self.table])]
            let transfers = try RangeMovement.transfers(from: current, to: future, keyspaces: ks, local: newcomer.identity,
                                                        receivers: [newcomer.identity], usable: { _ in true })
            #expect(!transfers.isEmpty && transfers.allSatisfy { $0.receiver == newcomer.identity })
            Self.check(transfers, from: current, to: future, rf: 2, seed: seed, receivers: [newcomer.identity], usable: { _ in true })
            // The preferred source is the replica that loses the range.
            let placementNow = ReplicationStrategy(.simple(replicationFactor: 2)).placement(in: current, localNode: members[0].identity)
            let placementNext = ReplicationStrategy(.simple(replicationFactor: 2)).placement(in: future, localNode: members[0].identity)
            for tr in transfers {
                for task in tr.tasks {
                    let losing = placementNow.replicas(for: task.range.end).filter { !placementNext.replicas(for: task.range.end).contains($0) }
                    if !losing.isEmpty { #expect(losing.contains(tr.source)) }
                }
            }
        }
    }

    @Test func aLeavingNodeSendsEverythingItHeldToTheNewReplicas() throws {
        for seed: UInt64 in [4, 5] {
            let (current, members) = Self.ring(4, tokens: 8, seed: seed)
            let leaving = members[1].identity
            let future = current.removing(leaving)
            let ks = [RangeMovement.Keyspace(name: "ks", replication: .simple(replicationFactor: 2), tables: [Self.table])]
            let transfers = try RangeMovement.transfers(from: current, to: future, keyspaces: ks, local: leaving, usable: { $0 == leaving })
            #expect(transfers.allSatisfy { $0.source == leaving })
            Self.check(transfers, from: current, to: future, rf: 2, seed: seed, usable: { $0 == leaving })
        }
    }

    @Test func aRemovedNodesRangesComeFromTheSurvivorsOrFail() throws {
        let (current, members) = Self.ring(4, tokens: 8, seed: 6)
        let dead = members[2].identity
        let future = current.removing(dead)
        let ks = [RangeMovement.Keyspace(name: "ks", replication: .simple(replicationFactor: 2), tables: [Self.table])]
        let transfers = try RangeMovement.transfers(from: current, to: future, keyspaces: ks, local: members[0].identity, usable: { $0 != dead })
        #expect(!transfers.isEmpty && transfers.allSatisfy { $0.source != dead })
        Self.check(transfers, from: current, to: future, rf: 2, seed: 6, usable: { $0 != dead })
        // RF 1: the dead node was the only replica of its ranges; nothing can be streamed.
        let single = [RangeMovement.Keyspace(name: "ks", replication: .simple(replicationFactor: 1), tables: [Self.table])]
        #expect(throws: RangeMovement.Failure.self) {
            try RangeMovement.transfers(from: current, to: future, keyspaces: single, local: members[0].identity, usable: { $0 != dead })
        }
        // Local keyspaces and keyspaces without tables never move.
        let none = [RangeMovement.Keyspace(name: "system", replication: .local, tables: [Self.table]),
                    RangeMovement.Keyspace(name: "empty", replication: .simple(replicationFactor: 2), tables: [])]
        #expect(try RangeMovement.transfers(from: current, to: future, keyspaces: none, local: members[0].identity, usable: { _ in true }).isEmpty)
    }

    @Test func coordinatorsWriteToPendingReplicasAndWaitForThem() throws {
        let (current, members) = Self.ring(3, tokens: 8, seed: 7)
        var rng = SplitMix64(seed: 70)
        let joining = RingFixtures.identity(60, using: &rng)
        let tokens = TokenAllocator.random(count: 8, using: &rng)
        let local = members[0].identity
        let topology = ClusterTopology(local: local, localDataCenter: "dc1", clock: ManualClock())
        func member(_ id: NodeIdentity, status: NodeStatus, tokens: [Token], alive: Bool = true) -> Member {
            var state = Gossip.EndpointState(heartbeat: Gossip.HeartbeatState(generation: 1, version: 1))
            for (i, v) in [Gossip.ApplicationValue.hostId(id.hostId), .status(status), .tokens(tokens)].enumerated() {
                state.states[v.key] = Gossip.VersionedValue(version: Int64(i + 2), bytes: v.encoded())
            }
            return Member(address: id.address, state: state, isAlive: alive)
        }
        let ringMembers = members.map { member($0.identity, status: .normal, tokens: $0.tokens) }
        let rf2 = ReplicationParams.simple(replicationFactor: 2)
        topology.update(ring: current, members: ringMembers + [member(joining, status: .joining, tokens: tokens)])
        let snapshot = topology.snapshot
        #expect(snapshot.moving == [joining.hostId: .joining])
        // The joining node is pending exactly for the tokens it will replicate.
        let future = ReplicationStrategy(rf2).placement(in: current.adding(RingMember(identity: joining, dataCenter: "dc1", rack: "r1", tokens: tokens)), localNode: local)
        var sawPending = false
        for t in tokens + tokens.map({ Token($0.value &- 1) }) + [Token(0), Token(12_345)] {
            let pending = snapshot.pendingReplicas(for: t, rf2)
            #expect(pending.map(\.identity) == (future.replicas(for: t).contains(joining) ? [joining] : []))
            if !pending.isEmpty {
                sawPending = true
                let plan = try ReplicaPlan.forWrite(.quorum, replicas: snapshot.replicas(for: t, rf2), pending: pending,
                                                    replication: rf2, localDataCenter: "dc1")
                #expect(plan.blockFor == 3 && plan.replicas.count == 3)
                let one = try ReplicaPlan.forWrite(.one, replicas: snapshot.replicas(for: t, rf2), pending: pending,
                                                   replication: rf2, localDataCenter: "dc1")
                #expect(one.blockFor == 2)
                let any = try ReplicaPlan.forWrite(.any, replicas: snapshot.replicas(for: t, rf2), pending: pending,
                                                   replication: rf2, localDataCenter: "dc1")
                #expect(any.blockFor == 1)
            }
        }
        #expect(sawPending)
        // A joining node that died is no longer waited for.
        topology.update(ring: current, members: ringMembers + [member(joining, status: .joining, tokens: tokens, alive: false)])
        #expect(tokens.allSatisfy { topology.snapshot.pendingReplicas(for: $0, rf2).isEmpty })
        // A leaving node: the nodes taking over its ranges are pending; reads keep the natural replicas.
        let leaving = members[1]
        topology.update(ring: current, members: ringMembers.filter { $0.hostId != leaving.identity.hostId }
            + [member(leaving.identity, status: .leaving, tokens: leaving.tokens)])
        let after = ReplicationStrategy(rf2).placement(in: current.removing(leaving.identity), localNode: local)
        for t in leaving.tokens {
            let natural = topology.snapshot.replicas(for: t, rf2).map(\.identity)
            #expect(natural.contains(leaving.identity))
            #expect(Set(topology.snapshot.pendingReplicas(for: t, rf2).map(\.identity)) == Set(after.replicas(for: t)).subtracting(natural))
        }
        // Nothing moving: no pending replicas, no future ring.
        topology.update(ring: current, members: ringMembers)
        #expect(topology.snapshot.futureRing == nil && topology.snapshot.pendingReplicas(for: Token(5), rf2).isEmpty)
    }

    @Test func localEachAndDataCenterLevelsCountOnlyTheirPendingReplicas() {
        let nts = ReplicationParams.networkTopology(["dc1": 3, "dc2": 3])
        let pending = [CoordinationFixtures.replica(7, dc: "dc1"), CoordinationFixtures.replica(8, dc: "dc2")]
        #expect(ConsistencyRequirement(.localQuorum, replication: nts, localDataCenter: "dc1").addingPending(pending).blockFor == 3)
        #expect(ConsistencyRequirement(.eachQuorum, replication: nts, localDataCenter: "dc1").addingPending(pending).blockFor == 6)
        #expect(ConsistencyRequirement(.all, replication: nts, localDataCenter: "dc1").addingPending(pending).blockFor == 8)
    }
}
