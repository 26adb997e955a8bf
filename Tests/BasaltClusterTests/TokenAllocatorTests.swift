import BasaltCore
import Testing
@testable import BasaltCluster

/// Ownership spread of allocated rings. `OwnershipReport` also produces the figures quoted in
/// docs/membership.md (`basalt simulate ring` prints the same table).
struct TokenAllocatorTests {
    @Test(arguments: [3, 5, 10])
    func allocationKeepsOwnershipBalanced(nodes: Int) {
        var rng = SplitMix64(seed: 2024)
        let balanced = OwnershipReport.build(nodes: nodes, tokensPerNode: 16, allocation: .balanced, using: &rng)
        var rng2 = SplitMix64(seed: 2024)
        let random = OwnershipReport.build(nodes: nodes, tokensPerNode: 16, allocation: .random, using: &rng2)
        let b1 = balanced.spread(rf: 1), b3 = balanced.spread(rf: 3)
        let r1 = random.spread(rf: 1)
        #expect(b1.max / b1.min < 1.15, "RF=1 spread \(b1)")
        #expect(b3.max / b3.min < 1.15, "RF=3 spread \(b3)")
        #expect(b1.max / b1.min < r1.max / r1.min, "balanced beats random")
        #expect(balanced.ring.members.count == nodes)
        #expect(balanced.ring.sortedTokens.count == nodes * 16)
    }

    @Test func firstNodeTokensAreEvenlySpaced() {
        var rng = SplitMix64(seed: 1)
        let tokens = TokenAllocator.allocate(count: 16, dataCenter: "dc1", in: TokenRing(), replicationFactor: 3, using: &rng)
        #expect(tokens.count == 16)
        let ring = TokenRing(members: [RingFixtures.member("a", tokens: tokens.map(\.value))])
        for w in ring.rangeWidths { #expect(abs(w - 1.0 / 16) < 1e-9) }
    }

    @Test func otherDataCentersDoNotSteerAllocation() {
        var rng = SplitMix64(seed: 8)
        var ring = TokenRing()
        for n in 0 ..< 3 {
            let t = TokenAllocator.allocate(count: 8, dataCenter: "east", in: ring, replicationFactor: 3, using: &rng)
            ring = ring.adding(RingMember(identity: RingFixtures.identity(n, using: &rng), dataCenter: "east", rack: "r", tokens: t))
        }
        let west = TokenAllocator.allocate(count: 8, dataCenter: "west", in: ring, replicationFactor: 3, using: &rng)
        let westRing = TokenRing(members: [RingFixtures.member("w", tokens: west.map(\.value))])
        for w in westRing.rangeWidths { #expect(abs(w - 1.0 / 8) < 1e-9) }
    }
}
