import BasaltCore
import Testing
@testable import BasaltCluster

struct GossipInstanceTests {
    typealias H = GossipHarness
    let a1 = H.address(1), a2 = H.address(2), a3 = H.address(3)

    @Test func newNodeFindsTheClusterThroughASeed() {
        var h = H()
        h.add(1, seeds: [1])
        h.add(2, seeds: [1])
        // Node 2 knows no live peer: its first round goes to the seed.
        h.tick(2)
        #expect(h.sent.first.map { ($0.to, $0.message.name) } ?? (a3, "") == (a1, "SYN"))
        #expect(h.sent.map(\.message.name) == ["SYN", "ACK", "ACK2", "ECHO", "ECHO_REPLY"])
        #expect(h.node(1).state(of: a2) == h.node(2).localState)
        #expect(h.node(1).isAlive(a2))
        #expect(h.notifications[a1] == [.discovered(a2), .alive(a2)])
        // The seed now gossips to its live peer and node 2 learns about the seed.
        h.tick(1)
        #expect(h.node(2).state(of: a1) == h.node(1).localState)
        #expect(h.node(2).isAlive(a1))
        #expect(h.rejections.isEmpty)
    }

    @Test func digestsDecideWhatIsRequestedAndWhatIsSent() {
        var h = H()
        h.add(1); h.add(2); h.add(3)
        for n in [2, 3] { h.tick(n) }
        h.tick(1); h.tick(1); h.tick(1)
        var b = h.node(2)
        let known = b.localState
        // Digest of node 2 at an older version: node 2 sends the newer part only.
        let (requests, states) = b.examine([Gossip.Digest(address: a2, generation: known.heartbeat.generation, maxVersion: 1)])
        #expect(requests.isEmpty)
        #expect(states.count == 1)
        #expect(states[0].state.states.values.allSatisfy { $0.version > 1 })
        // Digest naming a newer generation: request everything.
        let (r2, s2) = b.examine([Gossip.Digest(address: a2, generation: known.heartbeat.generation + 5, maxVersion: 3)])
        #expect(r2 == [Gossip.Digest(address: a2, generation: known.heartbeat.generation + 5, maxVersion: 0)])
        #expect(s2.isEmpty)
        // Older generation: the whole state.
        let (_, s3) = b.examine([Gossip.Digest(address: a2, generation: known.heartbeat.generation - 1, maxVersion: 99)])
        #expect(s3.first?.state == known)
        // Unknown endpoint: request all; equal digest: nothing.
        let a9 = H.address(9)
        let (r4, s4) = b.examine([Gossip.Digest(address: a9, generation: 5, maxVersion: 5),
                                  Gossip.Digest(address: a2, generation: known.heartbeat.generation, maxVersion: known.maxVersion)])
        #expect(r4 == [Gossip.Digest(address: a9, generation: 5, maxVersion: 0)])
        #expect(s4.isEmpty)
        _ = b.onTick()
    }

    @Test func ackIsAnsweredWithTheRequestedStates() {
        var h = H()
        h.add(1)
        var one = h.node(1)
        let me = one.localState
        let out = one.onAck(from: a2, requests: [
            Gossip.Digest(address: a1, generation: me.heartbeat.generation, maxVersion: 1),    // newer than 1
            Gossip.Digest(address: a1, generation: me.heartbeat.generation - 3, maxVersion: 50), // older generation
            Gossip.Digest(address: a3, generation: 1, maxVersion: 0),                           // unknown here
        ], states: [])
        guard case let .send(to, envelope)? = out.first, case let .ack2(states) = envelope.message else {
            Issue.record("expected an ACK2, got \(out)")
            return
        }
        #expect(to == a2)
        #expect(states.map(\.address) == [a1, a1])
        #expect(states[0].state == me.delta(after: 1))
        #expect(states[1].state == me)
        // Nothing requested that this node has: no ACK2 at all.
        #expect(one.onAck(from: a2, requests: [], states: []).isEmpty)
    }

    @Test func newerGenerationReplacesTheWholeState() {
        var h = H()
        h.add(1)
        let gen = h.clock.nowSeconds()
        let old = Gossip.EndpointState(heartbeat: .init(generation: gen - 10, version: 50), states: [
            .rack: .init(version: 40, bytes: Array("r1".utf8)),
            .dataCenter: .init(version: 41, bytes: Array("dc1".utf8)),
        ])
        h.on(1) { $0.onMessage(.init(from: a2, message: .ack2(states: [.init(address: a2, state: old)]))) }
        #expect(h.node(1).state(of: a2) == old)
        let restarted = Gossip.EndpointState(heartbeat: .init(generation: gen, version: 3), states: [
            .rack: .init(version: 2, bytes: Array("r2".utf8)),
        ])
        h.on(1) { $0.onMessage(.init(from: a2, message: .ack2(states: [.init(address: a2, state: restarted)]))) }
        #expect(h.node(1).state(of: a2) == restarted, "dc from the old generation is gone")
        #expect(h.notifications[a1]?.contains(.restarted(a2)) == true)
        // An older generation afterwards is ignored.
        h.on(1) { $0.onMessage(.init(from: a2, message: .ack2(states: [.init(address: a2, state: old)]))) }
        #expect(h.node(1).state(of: a2) == restarted)
    }

    @Test func sameGenerationTakesOnlyNewerValues() {
        var h = H()
        h.add(1)
        let gen = h.clock.nowSeconds()
        let first = Gossip.EndpointState(heartbeat: .init(generation: gen, version: 10), states: [
            .rack: .init(version: 5, bytes: Array("r1".utf8)),
            .load: .init(version: 9, bytes: Gossip.ApplicationValue.load(1).encoded()),
        ])
        h.on(1) { $0.onAck2(from: a2, states: [.init(address: a2, state: first)]) }
        let later = Gossip.EndpointState(heartbeat: .init(generation: gen, version: 20), states: [
            .rack: .init(version: 4, bytes: Array("stale".utf8)),
            .load: .init(version: 15, bytes: Gossip.ApplicationValue.load(2).encoded()),
        ])
        h.on(1) { $0.onMessage(.init(from: a2, message: .ack2(states: [.init(address: a2, state: later)]))) }
        let st = h.node(1).state(of: a2)!
        #expect(st.rack == "r1")
        #expect(st.load == 2)
        #expect(st.heartbeat.version == 20)
        #expect(h.notifications[a1]?.last == .updated(a2, [.load]))
    }

    @Test func generationFarInTheFutureIsIgnored() {
        var h = H()
        h.add(1)
        let future = h.clock.nowSeconds() + 2 * 365 * 86_400
        let bogus = Gossip.EndpointState(heartbeat: .init(generation: future, version: 1))
        h.on(1) { $0.onMessage(.init(from: a2, message: .ack2(states: [.init(address: a2, state: bogus)]))) }
        #expect(h.node(1).state(of: a2) == nil)
        #expect(h.rejections.count == 1)
        #expect(h.rejections[0].contains("too far in the future"))
        // Nor is it requested when it appears in a digest.
        let (requests, _) = h.node(1).examine([Gossip.Digest(address: a2, generation: future, maxVersion: 1)])
        #expect(requests.isEmpty)
    }

    @Test func silentPeerIsConvictedAndComesBackAfterAnEcho() {
        var h = H()
        h.add(1); h.add(2)
        h.tick(2)
        for _ in 0 ..< 30 {
            h.clock.advance(seconds: 1)
            h.tick(1); h.tick(2)
        }
        #expect(h.node(1).isAlive(a2))
        // Node 2 goes silent.
        h.drop = { from, to, _ in from == H.address(2) || to == H.address(2) }
        var deadAfter: Int?
        for s in 1 ... 60 where deadAfter == nil {
            h.clock.advance(seconds: 1)
            h.tick(1)
            if h.notifications[a1]?.last == .dead(a2) { deadAfter = s }
        }
        #expect(deadAfter != nil)
        #expect((15 ... 25).contains(deadAfter ?? 0), "phi 8 with ~1 s heartbeats: about 18 s, got \(deadAfter ?? -1)")
        #expect(!h.node(1).isAlive(a2))
        #expect(h.node(1).unreachableEndpoints[a2] != nil)
        // Back: node 2's next round reaches node 1, which probes it with an echo before marking it up.
        h.drop = { _, _, _ in false }
        h.sent.removeAll()
        h.clock.advance(seconds: 1)
        h.tick(2)
        #expect(h.sent.contains { $0.from == a1 && $0.message == .echo })
        #expect(h.node(1).isAlive(a2))
        #expect(h.notifications[a1]?.last == .alive(a2))
    }

    @Test func unansweredEchoDoesNotMarkUpAndIsRetriedAfterTimeout() {
        var h = H()
        h.add(1); h.add(2)
        h.drop = { _, _, message in message == .echo }    // echoes are lost
        h.tick(2)
        #expect(h.node(1).state(of: a2) != nil)
        #expect(!h.node(1).isAlive(a2))
        let echoes = { (h: H) in h.sent.filter { $0.message == .echo }.count }
        #expect(echoes(h) == 1)
        h.tick(2)                                          // still in flight: no second echo
        #expect(echoes(h) == 1)
        h.clock.advance(seconds: 3)
        h.tick(1)                                          // time-out expires in the status check
        h.tick(2)
        #expect(echoes(h) == 2)
    }

    @Test func shutdownAnnouncementMarksDownAtOnce() {
        var h = H()
        h.add(1); h.add(2)
        h.tick(2)
        h.tick(1)
        #expect(h.node(1).isAlive(a2))
        #expect(h.node(2).isAlive(a1))
        h.on(2) { $0.onShutdown() }
        #expect(!h.node(1).isAlive(a2))
        #expect(h.notifications[a1]?.last == .dead(a2))
    }

    /// A node that announced its shutdown stays down under that generation: an echo reply still in
    /// flight, or its heartbeat relayed by a third node, must not mark it up again; its restart (a
    /// new generation) does.
    @Test func aShutDownNodeStaysDownUntilItRestarts() {
        var h = H()
        h.add(1); h.add(2); h.add(3)
        for _ in 0 ..< 10 where !(h.node(1).isAlive(a2) && h.node(3).isAlive(a2) && h.node(3).isAlive(a1)) {
            for n in [2, 3, 1] { h.tick(n) }
            h.clock.advance(seconds: 1)
        }
        #expect(h.node(1).isAlive(a2) && h.node(3).isAlive(a2))
        // Node 2 announces its shutdown to node 1 only; node 1 then gets a late echo reply from it.
        let echo = Gossip.Envelope(from: a2, message: .echoReply)
        h.drop = { from, to, _ in from == a2 && to == a3 }
        h.on(2) { $0.onShutdown() }
        #expect(!h.node(1).isAlive(a2))
        h.on(1) { $0.onReceive(echo.encoded(), peer: "\(a2)") }
        #expect(!h.node(1).isAlive(a2))
        // Node 3 did not hear the announcement and relays node 2's last heartbeat: still down.
        h.drop = { _, _, _ in false }
        h.clock.advance(seconds: 1)
        h.tick(3)
        h.tick(1)
        #expect(!h.node(1).isAlive(a2))
        // Restarted with a new generation: up again after an echo.
        h.clock.advance(seconds: 5)
        h.add(2, generation: h.clock.nowSeconds())
        h.tick(2)
        h.tick(1)
        #expect(h.node(1).isAlive(a2))
    }

    @Test func leftNodeIsNeverMarkedUpThenEvictedAndQuarantined() {
        var h = H()
        h.add(1)
        var settings = H.settings(seeds: [1], seed: 2)
        settings.deadStateRetentionNanos = 10_000_000_000
        settings.quarantineNanos = 30_000_000_000
        var two = Gossip.Instance(settings: settings, localAddress: a2, generation: h.clock.nowSeconds(), clock: h.clock,
                                  initialStates: [.status(.normal)])
        h.nodes[a2] = two
        h.tick(2)
        #expect(h.node(1).isAlive(a2))
        h.on(2) { $0.onLocalStateChange(.status(.left)) }
        h.tick(2)
        #expect(h.node(1).state(of: a2)?.status == .left)
        #expect(!h.node(1).isAlive(a2))
        #expect(h.notifications[a1]?.contains(.dead(a2)) == true)
        // Node 1 uses the default retention (3 days); use node 2's short one by checking from its side.
        two = h.node(2)
        _ = two
        var one = Gossip.Instance(settings: settings, localAddress: a3, generation: h.clock.nowSeconds(), clock: h.clock)
        let leftState = h.node(1).state(of: a2)!
        _ = one.onMessage(.init(from: a2, message: .ack2(states: [.init(address: a2, state: leftState)])))
        #expect(!one.isAlive(a2))
        h.clock.advance(seconds: 11)
        let out = one.onTick()
        #expect(out.contains(.notify(.evicted(a2))))
        #expect(one.state(of: a2) == nil)
        // Quarantined: stale copies are ignored…
        _ = one.onMessage(.init(from: a1, message: .ack2(states: [.init(address: a2, state: leftState)])))
        #expect(one.state(of: a2) == nil)
        // …until the quarantine ends.
        h.clock.advance(seconds: 31)
        _ = one.onTick()
        _ = one.onMessage(.init(from: a1, message: .ack2(states: [.init(address: a2, state: leftState)])))
        #expect(one.state(of: a2) != nil)
    }

    @Test func foreignClusterAndGarbageAreRejectedWithoutHarm() {
        var h = H()
        h.add(1)
        h.on(1) { $0.onSyn(from: a2, clusterName: "other", digests: []) }
        #expect(h.rejections.last?.contains("cluster 'other'") == true)
        h.on(1) { $0.onMessage(.init(from: a1, message: .echo)) }
        #expect(h.rejections.last?.contains("claims to come from this node") == true)
        var rng = SplitMix64(seed: 9)
        var one = h.node(1)
        for _ in 0 ..< 2000 {
            let junk = (0 ..< Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let out = one.onReceive(junk, peer: "junk")
            if case .rejected(let peer, _)? = out.first { #expect(peer == "junk") }
        }
        #expect(one.endpoints.count == 1)
    }

    @Test func tickChoosesTargetsByCassandrasRules() {
        var h = H()
        h.add(1, seeds: [1])
        // A lone seed has nobody to talk to.
        var one = h.node(1)
        #expect(one.onTick().filter { if case .send = $0 { true } else { false } }.isEmpty)
        // A node with no live peer always goes to a seed; with live non-seed peers it sometimes adds one.
        h.add(2, seeds: [1, 3])
        h.add(4, seeds: [1, 3])
        var targets: [NodeAddress: Int] = [:]
        var two = h.node(2)
        for _ in 0 ..< 50 {
            for case let .send(to, _) in two.onTick() { targets[to, default: 0] += 1 }
        }
        #expect(Set(targets.keys).isSubset(of: [a1, a3]))
        #expect(targets.values.reduce(0, +) == 50)
        // Once peers are live: one SYN to a random live peer; when that peer is not a seed, a seed too
        // (here always: probability seeds / (live + unreachable) = 2 / 2).
        for _ in 0 ..< 4 {
            for n in [1, 2, 4] { h.tick(n) }
        }
        two = h.node(2)
        #expect(two.liveEndpoints == [a1, H.address(4)])
        var liveTargets: [NodeAddress: Int] = [:]
        for _ in 0 ..< 100 {
            let sends = two.onTick().compactMap { d -> NodeAddress? in
                if case let .send(to, env) = d, env.message.name == "SYN" { return to } else { return nil }
            }
            liveTargets[sends[0], default: 0] += 1
            if sends[0] == a1 {
                #expect(sends.count == 1)
            } else {
                #expect(sends.count == 2)
                #expect([a1, a3].contains(sends[1]))
            }
        }
        #expect(liveTargets[a1, default: 0] > 25 && liveTargets[H.address(4), default: 0] > 25)
    }

    @Test func endpointTableIsBounded() {
        let clock = ManualClock()
        var settings = H.settings(seeds: [])
        settings.maxEndpoints = 3
        var one = Gossip.Instance(settings: settings, localAddress: a1, generation: clock.nowSeconds(), clock: clock)
        let deltas = (2 ... 6).map {
            Gossip.EndpointDelta(address: H.address($0), state: .init(heartbeat: .init(generation: clock.nowSeconds(), version: 1)))
        }
        let out = one.onMessage(.init(from: a2, message: .ack2(states: deltas)))
        #expect(one.endpoints.count == 3)
        #expect(out.filter { if case .rejected = $0 { true } else { false } }.count == 3)
        let (requests, _) = one.examine((7 ... 9).map { Gossip.Digest(address: H.address($0), generation: 1, maxVersion: 1) })
        #expect(requests.isEmpty)
    }

    @Test func localStateChangesGetIncreasingVersions() {
        var h = H()
        h.add(1)
        var one = h.node(1)
        let before = one.localState.maxVersion
        let out = one.onLocalStateChange([.schemaVersion(UUIDValue(msb: 1, lsb: 2)), .load(42)])
        #expect(out == [.notify(.updated(a1, [.schemaVersion, .load]))])
        let st = one.localState
        #expect(st.states[.schemaVersion]!.version == before + 1)
        #expect(st.states[.load]!.version == before + 2)
        _ = one.onTick()
        #expect(one.localState.heartbeat.version == before + 3)
        _ = one.onLocalStateChange(key: .init(rawValue: 200), bytes: [1, 2, 3])
        #expect(one.localState.states[.init(rawValue: 200)]?.bytes == [1, 2, 3])
    }
}
