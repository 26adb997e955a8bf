import BasaltCore
import Testing
@testable import BasaltCluster

struct MembershipViewTests {
    let me = NodeAddress(host: "10.0.0.1", port: 7000)
    let peer = NodeAddress(host: "10.0.0.2", port: 7000)

    func state(generation: Int64 = 100, _ values: [Gossip.ApplicationValue]) -> Gossip.EndpointState {
        var st = Gossip.EndpointState(heartbeat: .init(generation: generation, version: 50))
        for (i, v) in values.enumerated() { st.states[v.key] = .init(version: Int64(i + 1), bytes: v.encoded()) }
        return st
    }

    func names(_ events: [MembershipEvent]) -> [String] {
        events.map {
            switch $0 {
            case .discovered: "discovered"
            case .joined: "joined"
            case .up: "up"
            case .down: "down"
            case .restarted: "restarted"
            case let .statusChanged(m, from): "status \(from?.rawValue ?? "nil")->\(m.status!.rawValue)"
            case .left: "left"
            case .removed: "removed"
            case .tokensChanged: "tokensChanged"
            case .schemaVersionChanged: "schema"
            case .ringChanged: "ring"
            }
        }
    }

    @Test func lifeCycleOfAPeer() {
        var view = MembershipView(localAddress: me)
        let host = UUIDValue(msb: 2, lsb: 2)
        let joining = state([.hostId(host), .dataCenter("dc1"), .rack("r1"), .status(.joining), .tokens([Token(10), Token(20)])])
        #expect(names(view.refresh(peer, state: joining, isAlive: false)) == ["discovered", "status nil->JOINING"])
        #expect(view.ring.isEmpty, "joining tokens are not in the ring")
        #expect(names(view.refresh(peer, state: joining, isAlive: true)) == ["up"])
        var normal = joining
        normal.states[.status] = .init(version: 60, bytes: Gossip.ApplicationValue.status(.normal).encoded())
        #expect(names(view.refresh(peer, state: normal, isAlive: true)) == ["status JOINING->NORMAL", "joined", "ring"])
        #expect(view.ring.primaryOwner(of: Token(15))?.identity.hostId == host)
        #expect(view.ring.member(NodeIdentity(hostId: host, address: peer))?.rack == "r1")
        var moved = normal
        moved.states[.tokens] = .init(version: 61, bytes: Gossip.ApplicationValue.tokens([Token(30)]).encoded())
        moved.states[.schemaVersion] = .init(version: 62, bytes: Gossip.ApplicationValue.schemaVersion(UUIDValue(msb: 7, lsb: 7)).encoded())
        #expect(names(view.refresh(peer, state: moved, isAlive: true)) == ["tokensChanged", "schema", "ring"])
        #expect(names(view.refresh(peer, state: moved, isAlive: false)) == ["down"])
        #expect(view.downMembers.map(\.address) == [peer])
        #expect(view.refresh(peer, state: moved, isAlive: false).isEmpty, "no change, no event")
        var restarted = moved
        restarted.heartbeat = .init(generation: 200, version: 3)
        #expect(names(view.refresh(peer, state: restarted, isAlive: true)) == ["restarted", "up"])
        var left = restarted
        left.states[.status] = .init(version: 70, bytes: Gossip.ApplicationValue.status(.left).encoded())
        #expect(names(view.refresh(peer, state: left, isAlive: false)) == ["status NORMAL->LEFT", "left", "down", "ring"])
        #expect(view.ring.isEmpty)
        #expect(names(view.refresh(peer, state: nil, isAlive: false)) == [], "evicting a node that left says nothing more")
        #expect(view.members[peer] == nil)
    }

    @Test func evictedNormalNodeIsRemoved() {
        var view = MembershipView(localAddress: me)
        let st = state([.hostId(UUIDValue(msb: 3, lsb: 3)), .status(.normal), .tokens([Token(1)])])
        _ = view.refresh(peer, state: st, isAlive: true)
        #expect(names(view.refresh(peer, state: nil, isAlive: false)) == ["removed", "ring"])
    }

    @Test func localNodeHasNoLivenessEventsAndDefaultsLocation() {
        var view = MembershipView(localAddress: me)
        let st = state([.hostId(UUIDValue(msb: 1, lsb: 1)), .status(.normal), .tokens([Token(5)])])
        #expect(names(view.refresh(me, state: st, isAlive: false)) == ["discovered", "status nil->NORMAL", "joined", "ring"])
        #expect(view.members[me]?.isAlive == true)
        #expect(view.members[me]?.dataCenter == "datacenter1")
        #expect(view.members[me]?.rack == "rack1")
    }

    @Test func newerGenerationWinsATokenCollision() {
        var view = MembershipView(localAddress: me)
        let other = NodeAddress(host: "10.0.0.3", port: 7000)
        _ = view.refresh(other, state: state(generation: 300, [.hostId(UUIDValue(msb: 3, lsb: 3)), .status(.normal), .tokens([Token(7)])]), isAlive: true)
        _ = view.refresh(peer, state: state(generation: 100, [.hostId(UUIDValue(msb: 2, lsb: 2)), .status(.normal), .tokens([Token(7), Token(9)])]), isAlive: true)
        #expect(view.ring.primaryOwner(of: Token(7))?.identity.address == other)
        #expect(view.ring.primaryOwner(of: Token(8))?.identity.address == peer)
    }
}
