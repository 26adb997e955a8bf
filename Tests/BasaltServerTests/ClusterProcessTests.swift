import BasaltServer
import Foundation
import Testing

/// Real `basalt server` processes on 127.0.2.1–5, observed only through their admin endpoints.
@Suite(.serialized)
struct ClusterProcessTests {
    static let hosts = (1 ... 5).map(ServerTestAddress.host)

    /// Problems with every node's view: each must see all `hosts` with the expected state, and all
    /// must agree on host ids, tokens and the ring. Nil when all is well.
    static func disagreement(_ views: [String: StatusReport], rings: [String: RingReport], expected: [String: String],
                             observers: [String]) -> String? {
        for observer in observers {
            guard let view = views[observer] else { return "\(observer): no answer" }
            for (host, state) in expected {
                guard let n = view.nodes.first(where: { $0.address == host }) else { return "\(observer) does not know \(host)" }
                if n.state != state { return "\(observer) sees \(host) as \(n.state), expected \(state)" }
                if n.tokens != 16 { return "\(observer) sees \(n.tokens) tokens for \(host)" }
            }
        }
        let first = observers[0]
        guard let reference = views[first], let ring = rings[first] else { return "\(first): no answer" }
        for observer in observers.dropFirst() {
            guard let view = views[observer] else { return "\(observer): no answer" }
            for n in view.nodes where expected[n.address] != nil {
                let ref = reference.nodes.first { $0.address == n.address }
                if ref?.hostId != n.hostId || ref?.generation != n.generation {
                    return "\(observer) and \(first) disagree about \(n.address)"
                }
            }
            if rings[observer] != ring { return "\(observer) and \(first) see different rings" }
        }
        if ring.entries.count != 16 * expected.count { return "ring has \(ring.entries.count) tokens" }
        return nil
    }

    @Test(.timeLimit(.minutes(5)))
    func fiveNodesAgreeDetectAKillAndRecogniseARestart() async throws {
        let processes = ServerProcesses("cluster5")
        let probe = AdminProbe()
        defer { processes.killAll() }
        let seed = Self.hosts[0]
        for host in Self.hosts { try processes.start(host, seeds: seed) }

        // 1. Every node sees every node up and normal, with the same host ids, tokens and ring.
        var views: [String: StatusReport] = [:]
        var rings: [String: RingReport] = [:]
        let allUN = Dictionary(uniqueKeysWithValues: Self.hosts.map { ($0, "UN") })
        try await waitUntil("five nodes to agree", timeout: .seconds(90)) {
            for host in Self.hosts {
                views[host] = await probe.status(host)
                rings[host] = await probe.ring(host)
            }
            return Self.disagreement(views, rings: rings, expected: allUN, observers: Self.hosts)
        }
        let victim = Self.hosts[4]
        let before = try #require(views[seed]?.nodes.first { $0.address == victim })
        let ringBefore = try #require(rings[seed])
        let victimTokens = ringBefore.entries.filter { $0.address == victim }.map(\.token)
        #expect(victimTokens.count == 16)
        #expect(Set(ringBefore.entries.map(\.hostId)).count == 5)

        // 2. SIGKILL one: every other node marks it down (φ detection, ~18 s).
        processes.kill9(victim)
        let survivors = Array(Self.hosts.prefix(4))
        var expectDown = allUN
        expectDown[victim] = "DN"
        try await waitUntil("the killed node to be marked down everywhere", timeout: .seconds(90)) {
            for host in survivors { views[host] = await probe.status(host); rings[host] = await probe.ring(host) }
            return Self.disagreement(views, rings: rings, expected: expectDown, observers: survivors)
        }

        // 3. Restarted, it is up again everywhere with the same host id and tokens, new generation.
        try processes.start(victim, seeds: seed)
        try await waitUntil("the restarted node to be up everywhere", timeout: .seconds(90)) {
            for host in Self.hosts { views[host] = await probe.status(host); rings[host] = await probe.ring(host) }
            if let missing = Self.disagreement(views, rings: rings, expected: allUN, observers: Self.hosts) { return missing }
            let seen = views[seed]?.nodes.first { $0.address == victim }
            return (seen?.generation ?? 0) > before.generation ? nil : "old generation still seen"
        }
        let after = try #require(views[seed]?.nodes.first { $0.address == victim })
        #expect(after.hostId == before.hostId)
        #expect(try #require(rings[seed]).entries.filter { $0.address == victim }.map(\.token) == victimTokens)
        #expect(try #require(rings[seed]) == ringBefore)

        // 4. A graceful stop is announced: peers mark it down long before φ would (≈18 s).
        let stopped = Self.hosts[3]
        processes.signal(stopped, SIGTERM)
        #expect(await processes.waitForExit(stopped, timeout: .seconds(30)) == 0)
        var expectStopped = allUN
        expectStopped[stopped] = "DN"
        let others = Self.hosts.filter { $0 != stopped }
        try await waitUntil("the stopped node to be marked down", timeout: .seconds(10)) {
            for host in others { views[host] = await probe.status(host); rings[host] = await probe.ring(host) }
            return Self.disagreement(views, rings: rings, expected: expectStopped, observers: others)
        }
        #expect(processes.log(stopped).contains("node stopped"))
        await probe.close()
    }
}
