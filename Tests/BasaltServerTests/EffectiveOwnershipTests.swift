import BasaltCluster
import BasaltCore
import BasaltServer
import Testing

/// `basalt admin status KEYSPACE`'s effective ownership against a brute-force reading of the
/// placement rules: every ring range's width credited to the nodes that replicate it.
@Suite("Effective ownership")
struct EffectiveOwnershipTests {
    static func ring(nodes: Int, dataCenters: Int, racks: Int, maxTokens: Int, seed: UInt64) -> TokenRing {
        var rng = SplitMix64(seed: seed)
        var members: [RingMember] = []
        for n in 0 ..< nodes {
            let identity = NodeIdentity(hostId: UUIDValue.random(using: &rng), address: NodeAddress(host: "127.0.13.\(n + 1)", port: 7000))
            let dc = "dc\(Int(rng.next() % UInt64(dataCenters)))"
            let rack = "rack\(Int(rng.next() % UInt64(racks)))"
            let count = 1 + Int(rng.next() % UInt64(maxTokens))
            members.append(RingMember(identity: identity, dataCenter: dc, rack: rack, tokens: TokenAllocator.random(count: count, using: &rng)))
        }
        return TokenRing(members: members)
    }

    /// SimpleStrategy by hand: list every (token, node) in token order; the range ending at each token
    /// belongs to the first `rf` distinct nodes met walking clockwise from it.
    static func bruteForceSimple(_ ring: TokenRing, rf: Int) -> [NodeAddress: Double] {
        let all = ring.members.flatMap { m in m.tokens.map { ($0, m.identity.address) } }.sorted { $0.0 < $1.0 }
        var owned: [NodeAddress: Double] = [:]
        for (i, (token, _)) in all.enumerated() {
            let previous = all[(i + all.count - 1) % all.count].0
            let width = TokenRing.width(of: TokenRange(start: previous, end: token))
            var replicas: [NodeAddress] = []
            for k in 0 ..< all.count where replicas.count < rf {
                let node = all[(i + k) % all.count].1
                if !replicas.contains(node) { replicas.append(node) }
            }
            for r in replicas { owned[r, default: 0] += width }
        }
        return owned
    }

    /// Any strategy, one range at a time through the per-token rule (not the precomputed placement).
    static func bruteForceByToken(_ ring: TokenRing, _ params: ReplicationParams, local: NodeIdentity) -> [NodeAddress: Double] {
        var owned: [NodeAddress: Double] = [:]
        let strategy = ReplicationStrategy(params)
        for i in ring.sortedTokens.indices {
            let width = TokenRing.width(of: ring.range(endingAt: i))
            for r in strategy.replicas(for: ring.sortedTokens[i], in: ring, localNode: local) { owned[r.address, default: 0] += width }
        }
        return owned
    }

    static func expectClose(_ a: [NodeAddress: Double], _ b: [NodeAddress: Double]) {
        #expect(Set(a.keys.filter { a[$0]! > 0 }) == Set(b.keys.filter { b[$0]! > 0 }))
        for (k, v) in a { #expect(abs(v - (b[k] ?? 0)) < 1e-9, "\(k): \(v) vs \(b[k] ?? 0)") }
    }

    @Test(arguments: [1, 2, 3, 5])
    func simpleStrategyMatchesTheWalkAndSumsToTheFactor(rf: Int) {
        for seed in UInt64(1) ... 20 {
            let ring = Self.ring(nodes: 1 + Int(seed % 7), dataCenters: 1, racks: 2, maxTokens: 16, seed: seed)
            let owned = EffectiveOwnership.compute(ring: ring, replication: .simple(replicationFactor: rf), localNode: ring.members[0].identity)
            Self.expectClose(owned, Self.bruteForceSimple(ring, rf: rf))
            #expect(abs(owned.values.reduce(0, +) - Double(min(rf, ring.members.count))) < 1e-9)
            #expect(owned.values.allSatisfy { $0 <= 1 + 1e-9 })
        }
    }

    @Test func networkTopologySumsPerDataCenterAndMatchesThePerTokenRule() {
        for seed in UInt64(21) ... 40 {
            let ring = Self.ring(nodes: 3 + Int(seed % 6), dataCenters: 2, racks: 3, maxTokens: 8, seed: seed)
            let factors = ["dc0": 2, "dc1": 3]
            let local = ring.members[0].identity
            let owned = EffectiveOwnership.compute(ring: ring, replication: .networkTopology(factors), localNode: local)
            Self.expectClose(owned, Self.bruteForceByToken(ring, .networkTopology(factors), local: local))
            for (dc, rf) in factors {
                let inDC = ring.members.filter { $0.dataCenter == dc }
                let sum = inDC.reduce(0.0) { $0 + (owned[$1.identity.address] ?? 0) }
                #expect(abs(sum - Double(min(rf, inDC.count))) < 1e-9, "\(dc)")
            }
        }
    }

    @Test func localStrategyIsTheLocalNodeAlone() {
        let ring = Self.ring(nodes: 4, dataCenters: 1, racks: 1, maxTokens: 4, seed: 99)
        let local = ring.members[2].identity
        #expect(EffectiveOwnership.compute(ring: ring, replication: .local, localNode: local) == [local.address: 1.0])
    }

    @Test func statusNamesTheOwnershipItShowsAndTheDrainedMode() {
        let snapshot = AdminRoutesTests.snapshot()
        let plain = StatusReport(snapshot, mode: "NORMAL")
        #expect(plain.keyspace == nil && plain.nodes.map { $0.owns } == [1.0])
        #expect(plain.text.contains("Owns ") && plain.text.contains("Note: Owns is") && !plain.text.contains("Mode:"))
        let local = NodeIdentity(hostId: UUIDValue(msb: 1, lsb: 2), address: snapshot.localAddress)
        let owned = EffectiveOwnership.compute(ring: snapshot.ring, replication: .simple(replicationFactor: 3), localNode: local)
        let effective = StatusReport(snapshot, keyspace: "ks", effectiveOwnership: owned, mode: "DRAINED")
        #expect(effective.keyspace == "ks" && effective.nodes.map { $0.owns } == [1.0])
        #expect(effective.text.hasPrefix("Mode: DRAINED") && effective.text.contains("Owns (effective)") && !effective.text.contains("Note:"))
        #expect(effective.text.contains("100.0%"))
    }
}
