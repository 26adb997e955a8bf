import BasaltCluster
import BasaltCore
@testable import BasaltServer
import Foundation
import Testing

struct MembershipEventsTests {
    static func member(_ n: Int) -> Member {
        var state = Gossip.EndpointState(heartbeat: Gossip.HeartbeatState(generation: Int64(n), version: 0))
        state.states[.status] = Gossip.VersionedValue(version: 1, bytes: Gossip.ApplicationValue.status(.normal).encoded())
        return Member(address: NodeAddress(host: "127.0.2.\(n)", port: 7000), state: state, isAlive: true)
    }

    @Test func subscribersSeeEveryLaterEventInOrderUntilTheyCancel() async {
        let events = MembershipEvents()
        let seen = Journal()
        events.publish([.up(Self.member(1))])  // before anyone subscribed: nobody sees it
        let a = events.subscribe { seen.add("a \($0)") }
        events.subscribe { seen.add("b \($0)") }
        events.publish([.up(Self.member(2)), .down(Self.member(3))])
        a.cancel()
        events.publish([.ringChanged])
        #expect(seen.all == ["a \(MembershipEvent.up(Self.member(2)))", "b \(MembershipEvent.up(Self.member(2)))",
                             "a \(MembershipEvent.down(Self.member(3)))", "b \(MembershipEvent.down(Self.member(3)))",
                             "b \(MembershipEvent.ringChanged)"])
        #expect(events.subscriberCount == 1)
    }

    @Test func aStreamKeepsTheNewestEventsWithinItsLimit() async {
        let events = MembershipEvents()
        let stream = events.stream(bufferingNewest: 2)
        events.publish((1 ... 5).map { .up(Self.member($0)) })
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == .up(Self.member(4)))
        #expect(await iterator.next() == .up(Self.member(5)))
    }

    @Test func jitteredTokensStayDistinctAndBetweenTheirNeighbours() {
        var rng = SplitMix64(seed: 3)
        for _ in 0 ..< 50 {
            let ring = TokenAllocator.random(count: 48, using: &rng)
            let chosen = TokenAllocator.random(count: 16, using: &rng).filter { !ring.contains($0) }
            let moved = BasaltNode.jittered(chosen, against: ring, using: &rng)
            let before = (ring + chosen).sorted()
            let after = (ring + moved).sorted()
            #expect(Set(after).count == after.count)
            // Every token keeps its place in ring order: jitter never crosses a neighbour.
            for (t, m) in zip(chosen, moved) {
                #expect(before.firstIndex(of: t) == after.firstIndex(of: m))
            }
        }
        var same = SplitMix64(seed: 9)
        let ring = TokenAllocator.random(count: 32, using: &same)
        let picks = TokenAllocator.random(count: 16, using: &same).filter { !ring.contains($0) }
        var a = SplitMix64(seed: 1)
        var b = SplitMix64(seed: 2)
        // Two nodes that allocated the same tokens against the same ring end up with different ones.
        #expect(Set(BasaltNode.jittered(picks, against: ring, using: &a)).isDisjoint(with: BasaltNode.jittered(picks, against: ring, using: &b)))
    }
}

/// Strings appended from any thread, read by the test.
final class Journal: @unchecked Sendable {
    // @unchecked: `entries` is guarded by `lock`.
    private let lock = NSLock()
    private var entries: [String] = []
    func add(_ e: String) { lock.withLock { entries.append(e) } }
    var all: [String] { lock.withLock { entries } }
}
