import BasaltCore
import Testing
@testable import BasaltCluster

struct TokenRingTests {
    @Test func primaryOwnerIsFirstTokenAtOrAfterWrapping() {
        let ring = TokenRing(members: [
            RingFixtures.member("a", tokens: [-100, 50]),
            RingFixtures.member("b", tokens: [0, 200]),
        ])
        func owner(_ t: Int64) -> String? { ring.primaryOwner(of: Token(t))?.identity.address.host }
        #expect(owner(-100) == "a")   // equal to a token: that token's owner
        #expect(owner(-99) == "b")
        #expect(owner(0) == "b")
        #expect(owner(1) == "a")
        #expect(owner(50) == "a")
        #expect(owner(51) == "b")
        #expect(owner(200) == "b")
        #expect(owner(201) == "a")    // past the last token: wraps to the first
        #expect(owner(Int64.min) == "a")
        #expect(owner(Int64.max) == "a")
        let a = RingFixtures.member("a", tokens: []).identity
        #expect(ring.primaryRanges(of: a) == [
            TokenRange(start: Token(200), end: Token(-100)), TokenRange(start: Token(0), end: Token(50)),
        ])
    }

    @Test func primaryOwnerMatchesBruteForceOnRandomRings() {
        var rng = SplitMix64(seed: 11)
        for _ in 0 ..< 50 {
            let ring = RingFixtures.randomRing(nodes: 1 + Int(rng.next() % 12), dataCenters: 1, racks: 1,
                                               maxTokens: 8, using: &rng)
            let all = ring.members.flatMap { m in m.tokens.map { ($0, m.identity) } }
            for _ in 0 ..< 200 {
                let t = Token(Int64(bitPattern: rng.next()))
                let atOrAfter = all.filter { $0.0 >= t }.min { $0.0 < $1.0 }
                let expected = atOrAfter ?? all.min { $0.0 < $1.0 }!
                #expect(ring.primaryOwner(of: t)?.identity == expected.1)
            }
            // Primary ranges partition the ring: widths sum to 1 and every token lies in its owner's range.
            let total = ring.members.reduce(0.0) { sum, m in
                sum + ring.primaryRanges(of: m.identity).reduce(0.0) { $0 + TokenRing.width(of: $1) }
            }
            #expect(abs(total - 1.0) < 1e-9)
            for _ in 0 ..< 50 {
                let t = Token(Int64(bitPattern: rng.next()))
                let owner = ring.primaryOwner(of: t)!.identity
                #expect(ring.primaryRanges(of: owner).contains { $0.contains(t) })
            }
        }
    }

    @Test func singleTokenOwnsTheWholeRing() {
        let ring = TokenRing(members: [RingFixtures.member("a", tokens: [42])])
        #expect(ring.primaryRanges(of: ring.members[0].identity) == [TokenRange(start: Token(42), end: Token(42))])
        #expect(TokenRing.width(of: ring.range(endingAt: 0)) == 1.0)
        #expect(ring.primaryOwner(of: Token(43))?.identity == ring.members[0].identity)
        #expect(TokenRing().primaryOwner(of: Token(1)) == nil)
    }

    @Test func laterClaimOfATokenWins() {
        let ring = TokenRing(members: [
            RingFixtures.member("a", tokens: [1, 2]),
            RingFixtures.member("b", tokens: [2, 3]),
            RingFixtures.member("c", tokens: [3]),
        ])
        #expect(ring.sortedTokens == [1, 2, 3].map(Token.init))
        #expect(ring.primaryOwner(of: Token(2))?.identity.address.host == "b")
        #expect(ring.primaryOwner(of: Token(3))?.identity.address.host == "c")
        #expect(ring.member(RingFixtures.member("a", tokens: []).identity)?.tokens == [Token(1)])
        let withoutB = ring.removing(RingFixtures.member("b", tokens: []).identity)
        #expect(withoutB.members.count == 2)
        #expect(withoutB.primaryOwner(of: Token(2))?.identity.address.host == "c")
    }

    @Test func ringMemberSerializationRoundTripsAndRejectsDamage() throws {
        var rng = SplitMix64(seed: 5)
        let member = RingMember(identity: RingFixtures.identity(3, using: &rng), dataCenter: "dc-east",
                                rack: "rack 7", tokens: TokenAllocator.random(count: 16, using: &rng))
        let bytes = member.serialized()
        #expect(try RingMember(serialized: bytes) == member)
        for i in [0, 5, bytes.count / 2, bytes.count - 1] {
            var damaged = bytes
            damaged[i] ^= 0x40
            #expect(throws: DecodeError.self) { try RingMember(serialized: damaged) }
        }
        for n in [0, 3, 4, bytes.count - 1] {
            #expect(throws: DecodeError.self) { try RingMember(serialized: Array(bytes.prefix(n))) }
        }
        // Random garbage never traps.
        for _ in 0 ..< 500 {
            let junk = (0 ..< Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? RingMember(serialized: junk)
        }
    }

    @Test func nodeAddressParsesAndEncodes() throws {
        #expect(NodeAddress("127.0.0.1:7000") == NodeAddress(host: "127.0.0.1", port: 7000))
        #expect(NodeAddress("[::1]:9042") == NodeAddress(host: "::1", port: 9042))
        #expect(NodeAddress("node-3.basalt:7000")?.host == "node-3.basalt")
        #expect(NodeAddress("nohost") == nil)
        #expect(NodeAddress(":7000") == nil)
        #expect(NodeAddress("a:70000") == nil)
        #expect(NodeAddress(host: "::1", port: 1).description == "[::1]:1")
        var w = ByteWriter()
        NodeAddress(host: "10.1.2.3", port: 7001).encode(into: &w)
        var r = ByteReader(w.bytes)
        #expect(try NodeAddress.decode(from: &r) == NodeAddress(host: "10.1.2.3", port: 7001))
        var empty = ByteReader([0, 0, 0])
        #expect(throws: DecodeError.self) { try NodeAddress.decode(from: &empty) }
    }
}
