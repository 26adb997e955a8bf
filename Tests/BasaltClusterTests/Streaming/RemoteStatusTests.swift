import BasaltCore
import Testing
@testable import BasaltCluster

/// removenode and replace set a dead endpoint's STATUS on its behalf: the value must win over what
/// every node knows of that endpoint, spread by ordinary gossip, and lose to a restart.
struct RemoteStatusTests {
    typealias H = GossipHarness

    @Test func aRemoteStatusSpreadsAndARestartSupersedesIt() {
        var h = H()
        h.add(1); h.add(2); h.add(3)
        for _ in 0 ..< 3 { for n in [1, 2, 3] { h.tick(n) } }
        let a3 = H.address(3)
        #expect(h.node(2).state(of: a3)?.status == .normal)
        // Node 3 dies; node 1 marks it LEAVING, then REMOVED.
        h.drop = { from, to, _ in from == a3 || to == a3 }
        h.on(1) { $0.onRemoteStatusChange(of: a3, to: .leaving) }
        #expect(h.node(1).state(of: a3)?.status == .leaving)
        for _ in 0 ..< 4 { h.tick(1); h.tick(2) }
        #expect(h.node(2).state(of: a3)?.status == .leaving)
        h.on(1) { $0.onRemoteStatusChange(of: a3, to: .removed) }
        for _ in 0 ..< 4 { h.tick(1); h.tick(2) }
        #expect(h.node(2).state(of: a3)?.status == .removed)
        #expect(!h.node(2).isAlive(a3) && !h.node(1).isAlive(a3))
        // Unknown endpoints and the node itself are refused.
        h.on(1) { d in
            let out = d.onRemoteStatusChange(of: H.address(9), to: .removed) + d.onRemoteStatusChange(of: H.address(1), to: .removed)
            #expect(out.isEmpty)
            return out
        }
        // Node 3 comes back with a newer generation: its own NORMAL wins.
        h.clock.advance(seconds: 5)
        h.add(3, generation: h.clock.nowSeconds())
        h.drop = { _, _, _ in false }
        for _ in 0 ..< 4 { for n in [3, 1, 2] { h.tick(n) } }
        #expect(h.node(1).state(of: a3)?.status == .normal && h.node(2).state(of: a3)?.status == .normal)
    }
}
