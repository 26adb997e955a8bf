import BasaltCore
import Testing
@testable import BasaltCluster

/// Placement against straightforward reference computations written from the rules' statements.
struct ReplicationTests {
    /// SimpleStrategy by brute force: sort every (token, node), start at the first token ≥ t, walk.
    static func referenceSimple(_ ring: TokenRing, token: Token, rf: Int) -> [NodeIdentity] {
        let all = ring.members.flatMap { m in m.tokens.map { ($0, m.identity) } }.sorted { $0.0 < $1.0 }
        let start = all.firstIndex { $0.0 >= token } ?? 0
        var out: [NodeIdentity] = []
        for k in 0 ..< all.count where out.count < rf {
            let node = all[(start + k) % all.count].1
            if !out.contains(node) { out.append(node) }
        }
        return out
    }

    /// NetworkTopologyStrategy as the Python driver (`NetworkTopologyStrategy.make_token_replica_map`)
    /// and Cassandra 2.x compute it: per data center, walk that data center's tokens, skipping nodes on
    /// racks already used until every rack of the data center is used, then take the skipped nodes in
    /// ring order, then anything further in ring order.
    static func referenceNTS(_ ring: TokenRing, token: Token, factors: [String: Int]) -> [String: Set<NodeIdentity>] {
        let all = ring.members.flatMap { m in m.tokens.map { ($0, m) } }.sorted { $0.0 < $1.0 }
        let start = all.firstIndex { $0.0 >= token } ?? 0
        var out: [String: Set<NodeIdentity>] = [:]
        for (dc, rf) in factors where rf > 0 {
            let inDC = ring.members.filter { $0.dataCenter == dc }
            guard !inDC.isEmpty else { continue }
            let racks = Set(inDC.map(\.rack))
            let want = min(rf, inDC.count)
            var replicas: [NodeIdentity] = []
            var racksPlaced = Set<String>()
            var skipped: [NodeIdentity] = []
            for k in 0 ..< all.count {
                if replicas.count == want { break }
                let m = all[(start + k) % all.count].1
                guard m.dataCenter == dc, !replicas.contains(m.identity) else { continue }
                if racksPlaced.contains(m.rack) && racksPlaced.count < racks.count {
                    if !skipped.contains(m.identity) { skipped.append(m.identity) }
                    continue
                }
                replicas.append(m.identity)
                racksPlaced.insert(m.rack)
                if racksPlaced.count == racks.count {
                    for s in skipped where replicas.count < want { replicas.append(s) }
                    skipped.removeAll()
                }
            }
            out[dc] = Set(replicas)
        }
        return out
    }

    @Test func simpleStrategyMatchesReference() {
        var rng = SplitMix64(seed: 21)
        for _ in 0 ..< 60 {
            let ring = RingFixtures.randomRing(nodes: 1 + Int(rng.next() % 10), dataCenters: 2, racks: 3,
                                               maxTokens: 6, using: &rng)
            let rf = 1 + Int(rng.next() % 5)
            let strategy = ReplicationStrategy(.simple(replicationFactor: rf))
            let local = ring.members[0].identity
            let placement = strategy.placement(in: ring, localNode: local)
            for _ in 0 ..< 100 {
                let t = Token(Int64(bitPattern: rng.next()))
                let expected = Self.referenceSimple(ring, token: t, rf: rf)
                #expect(strategy.replicas(for: t, in: ring, localNode: local) == expected)
                #expect(placement.replicas(for: t) == expected)
            }
        }
    }

    @Test func networkTopologyStrategyMatchesReference() {
        var rng = SplitMix64(seed: 22)
        for _ in 0 ..< 150 {
            let ring = RingFixtures.randomRing(nodes: 1 + Int(rng.next() % 14), dataCenters: 1 + Int(rng.next() % 3),
                                               racks: 1 + Int(rng.next() % 4), maxTokens: 5, using: &rng)
            var factors: [String: Int] = [:]
            for d in 0 ..< 3 where rng.next() % 4 != 0 { factors["dc\(d)"] = Int(rng.next() % 5) }
            factors["dc-absent"] = 2
            let strategy = ReplicationStrategy(.networkTopology(factors))
            let local = ring.members[0].identity
            let placement = strategy.placement(in: ring, localNode: local)
            for _ in 0 ..< 60 {
                let t = Token(Int64(bitPattern: rng.next()))
                let got = placement.replicas(for: t)
                #expect(Set(got).count == got.count, "no node twice")
                var byDC: [String: Set<NodeIdentity>] = [:]
                for id in got { byDC[ring.member(id)!.dataCenter, default: []].insert(id) }
                let expected = Self.referenceNTS(ring, token: t, factors: factors).filter { !$0.value.isEmpty }
                #expect(byDC == expected, "token \(t) factors \(factors)")
                #expect(got.first == nil || got.first == ring.primaryOwner(of: t)?.identity
                        || ring.member(ring.primaryOwner(of: t)!.identity).map { factors[$0.dataCenter, default: 0] == 0 } == true)
            }
        }
    }

    @Test func networkTopologyStrategySpreadsRacks() {
        // Ring order: a(r1) b(r1) c(r2) d(r2) e(r3).
        let ring = TokenRing(members: [
            RingFixtures.member("a", rack: "r1", tokens: [10]),
            RingFixtures.member("b", rack: "r1", tokens: [20]),
            RingFixtures.member("c", rack: "r2", tokens: [30]),
            RingFixtures.member("d", rack: "r2", tokens: [40]),
            RingFixtures.member("e", rack: "r3", tokens: [50]),
        ])
        func replicas(_ rf: Int, _ t: Int64) -> [String] {
            ReplicationStrategy(.networkTopology(["dc1": rf]))
                .replicas(for: Token(t), in: ring, localNode: ring.members[0].identity)
                .map(\.address.host)
        }
        #expect(replicas(2, 5) == ["a", "c"])        // b skipped: rack r1 already used
        #expect(replicas(3, 5) == ["a", "c", "e"])   // one per rack
        #expect(replicas(4, 5) == ["a", "b", "c", "e"])  // one repeat allowed (4 - 3 racks): the first met
        #expect(replicas(3, 45) == ["e", "a", "c"])
        #expect(replicas(9, 45).count == 5)
        // SimpleStrategy ignores racks.
        #expect(ReplicationStrategy(.simple(replicationFactor: 2))
            .replicas(for: Token(5), in: ring, localNode: ring.members[0].identity).map(\.address.host) == ["a", "b"])
    }

    @Test func localStrategyIsThisNodeOnly() {
        var rng = SplitMix64(seed: 3)
        let ring = RingFixtures.randomRing(nodes: 4, dataCenters: 1, racks: 1, maxTokens: 4, using: &rng)
        let me = RingFixtures.identity(99, using: &rng)
        let placement = ReplicationStrategy(.local).placement(in: ring, localNode: me)
        #expect(placement.replicas(for: Token(7)) == [me])
        #expect(placement.ranges(replicatedBy: me) == [TokenRange(start: .min, end: .min)])
        #expect(placement.ranges(replicatedBy: ring.members[0].identity).isEmpty)
    }

    @Test func rangesReplicatedByANodeCoverItsShare() {
        var rng = SplitMix64(seed: 4)
        let ring = RingFixtures.randomRing(nodes: 6, dataCenters: 1, racks: 2, maxTokens: 8, using: &rng)
        let placement = ReplicationStrategy(.simple(replicationFactor: 3)).placement(in: ring, localNode: ring.members[0].identity)
        let owned = placement.replicatedOwnership()
        #expect(abs(owned.values.reduce(0, +) - 3.0) < 1e-9)
        for m in ring.members {
            let ranges = placement.ranges(replicatedBy: m.identity)
            #expect(abs(ranges.reduce(0.0) { $0 + TokenRing.width(of: $1) } - owned[m.identity]!) < 1e-9)
            for _ in 0 ..< 50 {
                let t = Token(Int64(bitPattern: rng.next()))
                #expect(ranges.contains { $0.contains(t) } == placement.replicas(for: t).contains(m.identity))
            }
        }
    }
}
