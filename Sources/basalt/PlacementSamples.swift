import BasaltCluster
import BasaltCore

/// Random rings (1–12 nodes, 1–3 data centers, 1–4 racks, 1–8 tokens each) with the replicas of every
/// ring token under a few strategies, as JSON — what `basalt simulate placement` prints for the
/// driver cross-check in tests/python/test_placement_matches_driver.py.
enum PlacementSamples {
    static func json(rings: Int, using rng: inout SplitMix64) -> String {
        var out: [String] = []
        for _ in 0 ..< rings {
            var members: [RingMember] = []
            let nodes = 1 + Int(rng.next() % 12)
            let dcs = 1 + Int(rng.next() % 3)
            let racks = 1 + Int(rng.next() % 4)
            for n in 0 ..< nodes {
                let id = NodeIdentity(hostId: UUIDValue.random(using: &rng), address: NodeAddress(host: "127.0.1.\(n + 1)", port: 7000))
                members.append(RingMember(identity: id, dataCenter: "dc\(rng.next() % UInt64(dcs))",
                                          rack: "rack\(rng.next() % UInt64(racks))",
                                          tokens: TokenAllocator.random(count: 1 + Int(rng.next() % 8), using: &rng)))
            }
            let ring = TokenRing(members: members)
            var strategies: [ReplicationParams] = [.simple(replicationFactor: 1 + Int(rng.next() % 4))]
            var factors: [String: Int] = [:]
            for d in 0 ..< dcs { factors["dc\(d)"] = Int(rng.next() % 5) }
            strategies.append(.networkTopology(factors))
            strategies.append(.networkTopology(["dc0": 3]))
            out.append(ringJSON(ring, strategies: strategies))
        }
        return "[\n" + out.joined(separator: ",\n") + "\n]"
    }

    static func ringJSON(_ ring: TokenRing, strategies: [ReplicationParams]) -> String {
        let members = ring.members.map { m in
            "{\"host\": \"\(m.identity.address.host)\", \"dc\": \"\(m.dataCenter)\", \"rack\": \"\(m.rack)\", "
                + "\"tokens\": [\(m.tokens.map(\.description).joined(separator: ", "))]}"
        }
        let placements = strategies.map { params -> String in
            let placement = ReplicationStrategy(params).placement(in: ring, localNode: ring.members[0].identity)
            let options = params.map.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
            let replicas = ring.sortedTokens.indices.map { i in
                "\"\(ring.sortedTokens[i])\": [" + placement.replicas(forRangeEndingAt: i)
                    .map { "\"\($0.address.host)\"" }.joined(separator: ", ") + "]"
            }
            return "{\"options\": {\(options)}, \"replicas\": {\(replicas.joined(separator: ", "))}}"
        }
        return "{\"members\": [\(members.joined(separator: ", "))], \"placements\": [\(placements.joined(separator: ", "))]}"
    }
}
