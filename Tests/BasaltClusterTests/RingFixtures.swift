import BasaltCore
@testable import BasaltCluster

/// Builders for rings used across the ring, replication and allocation tests.
enum RingFixtures {
    static func identity(_ n: Int, using rng: inout SplitMix64) -> NodeIdentity {
        NodeIdentity(
            hostId: UUIDValue.random(using: &rng),
            address: NodeAddress(host: "127.0.\(n / 250).\(n % 250 + 1)", port: 7000)
        )
    }

    /// A ring of `nodes` members spread over `dataCenters` × `racks`, each with 1…`maxTokens` random tokens.
    static func randomRing(nodes: Int, dataCenters: Int, racks: Int, maxTokens: Int,
                           using rng: inout SplitMix64) -> TokenRing {
        var members: [RingMember] = []
        for n in 0 ..< nodes {
            let dc = "dc\(Int(rng.next() % UInt64(dataCenters)))"
            let rack = "rack\(Int(rng.next() % UInt64(racks)))"
            let count = 1 + Int(rng.next() % UInt64(maxTokens))
            members.append(RingMember(identity: identity(n, using: &rng), dataCenter: dc, rack: rack,
                                      tokens: TokenAllocator.random(count: count, using: &rng)))
        }
        return TokenRing(members: members)
    }

    static func member(_ name: String, dc: String = "dc1", rack: String = "r1", tokens: [Int64]) -> RingMember {
        var h: UInt64 = 0
        for b in name.utf8 { h = h &* 31 &+ UInt64(b) }
        return RingMember(
            identity: NodeIdentity(hostId: UUIDValue(msb: h, lsb: 1),
                                   address: NodeAddress(host: name, port: 7000)),
            dataCenter: dc, rack: rack, tokens: tokens.map(Token.init))
    }
}
