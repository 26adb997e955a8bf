import BasaltTestSupport
import BasaltCore
import BasaltCQL
import BasaltNet
import BasaltServer
import Foundation
import Testing
@testable import BasaltClient

#if canImport(Glibc)
import Glibc
#endif

/// The client against a real 3-node `basalt server` cluster started with `cluster/up` on
/// 127.0.6.1–3 (its own BASALT_CLUSTER_DIR under /tmp): discovery, token-aware routing checked
/// against the servers' own ring, and a node killed under load.
///
/// Until the cluster coordinator lands each node reads and writes only its own storage, so
/// this suite checks routing and failure handling, not data across nodes.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct ClusterClientTests {
    /// A `cluster/` script run to completion (bounded) with this suite's settings.
    static func script(_ name: String, _ args: [String] = [], dir: String) async throws -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment
        env["BASALT_BIN"] = BasaltBinary.path
        env["BASALT_CLUSTER_DIR"] = dir
        env["BASALT_CLUSTER_PREFIX"] = ClientTestAddress.clusterPrefix
        env["BASALT_CLUSTER_TIMEOUT"] = "150"
        let outputPath = dir + ".\(name)-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let p = try ChildProcess(BasaltBinary.repositoryRoot + "/cluster/" + name, args, outputPath: outputPath, environment: env)
        guard let status = await p.waitForExit(timeout: .seconds(240)) else {
            p.killAndReap()
            throw TestFailure("cluster/\(name) did not finish")
        }
        return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }

    /// SIGKILLs every node whose pid file is left (the safety net behind `cluster/down`).
    static func killNodes(_ dir: String) {
        for i in 1 ... 3 {
            guard let text = try? String(contentsOfFile: "\(dir)/node\(i)/pid", encoding: .utf8),
                  let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { continue }
            if let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8), cmd.contains("basalt") { kill(pid, SIGKILL) }
        }
    }

    static func host(_ i: Int) -> String { ClientTestAddress.clusterPrefix + "\(i)" }

    /// The servers' ring, as node 1's admin endpoint reports it.
    static func serverRing() async throws -> RingReport {
        let loop = EventLoop(name: "client-test-admin")
        defer { loop.shutdown() }
        let response = try await AdminClient.get("/ring?format=json", from: try SocketAddress(host: host(1), port: 7199), on: loop, timeout: .seconds(10))
        return try JSONDecoder().decode(RingReport.self, from: Data(response.body))
    }

    /// SimpleStrategy by hand over the server's ring entries: the owner of the first token ≥ t
    /// (wrapping), then the next distinct owners clockwise.
    static func referenceReplicas(_ ring: RingReport, token: Int64, rf: Int) -> [String] {
        let entries = ring.entries.sorted { $0.token < $1.token }
        let start = entries.firstIndex { $0.token >= token } ?? 0
        var out = [String]()
        for step in 0 ..< entries.count where out.count < rf {
            let address = entries[(start + step) % entries.count].address
            if !out.contains(address) { out.append(address) }
        }
        return out
    }

    @Test func discoversRoutesAndSurvivesAKilledNode() async throws {
        let scratch = TemporaryDirectory("client-cluster")
        let dir = scratch.path + "/cluster"
        defer { Self.killNodes(dir) }
        let up = try await Self.script("up", ["2"], dir: dir)
        guard up.status == 0 else {
            Issue.record("cluster/up failed: \(up.output)")
            return
        }
        do {
            try await exercise(dir: dir)
        } catch {
            Issue.record("\(error)")
        }
        let down = try await Self.script("down", dir: dir)
        #expect(down.status == 0, "\(down.output)")
    }

    /// Waits (bounded) until `done` holds; how long it took.
    static func waitFor(_ what: String, within limit: Duration, _ done: () -> Bool) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        while !done() {
            guard clock.now - start < limit else { throw TestFailure("\(what) not within \(limit)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return clock.now - start
    }

    private func exercise(dir: String) async throws {
        var config = SessionConfiguration(contactPoints: [Self.host(1)])
        config.reconnectInitialDelay = .seconds(3)
        config.reconnectMaxDelay = .seconds(3)
        // Far beyond this test: topology changes can only be learned from events.
        config.topologyRefreshInterval = .seconds(600)
        config.requestTimeout = .seconds(5)
        let session = try await connectWhenReady(config)
        #expect(session.topology.nodes.count == 2)

        // A third node joins: NEW_NODE / UP events bring it into the topology and the pools.
        let third = try await Self.script("up", ["3"], dir: dir)
        #expect(third.status == 0, "\(third.output)")
        _ = try await Self.waitFor("node 3 discovered and connected", within: .seconds(30)) {
            session.nodeStates.count == 3 && session.nodeStates.allSatisfy { $0.isUp && $0.node.tokens.count == 16 }
        }

        // Discovery: every node, with the tokens the servers' ring gives it.
        let ring = try await Self.serverRing()
        let topology = session.topology
        #expect(topology.nodes.map(\.address.host) == (1 ... 3).map(Self.host))
        for node in topology.nodes {
            let serverTokens = ring.entries.filter { $0.address == node.address.host }.map { Token($0.token) }.sorted()
            #expect(node.tokens.count == 16)
            #expect(node.tokens == serverTokens, "\(node)")
            #expect(ring.entries.first { $0.address == node.address.host }?.hostId == node.hostId.description)
        }
        #expect(session.nodeStates.allSatisfy { $0.isUp })

        // Routing: the client's replicas are the placement computed from the servers' ring.
        _ = try await session.query("CREATE KEYSPACE rf2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
        _ = try await session.query("CREATE KEYSPACE rf1 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        _ = try await session.query("CREATE TABLE rf2.t (k int PRIMARY KEY, v int)")
        _ = try await session.query("CREATE TABLE rf1.t (k int PRIMARY KEY, v int)")
        let insert2 = try await session.prepare("INSERT INTO rf2.t (k, v) VALUES (?, ?)")
        let insert1 = try await session.prepare("INSERT INTO rf1.t (k, v) VALUES (?, ?)")
        var coordinators = Set<String>()
        for k in Int32(0) ..< 300 {
            let values = try insert2.encode([.int(k), .int(k)])
            guard let token = RoutingKey.token(values: values, partitionKeyIndexes: insert2.partitionKeyIndexes) else { continue }
            #expect(session.replicas(of: insert2, encoded: values).map(\.address.host) == Self.referenceReplicas(ring, token: token.value, rf: 2))
            // RF 1: the one replica coordinates the request.
            let page = try await session.execute(insert1, [.int(k), .int(k)])
            let expected = Self.referenceReplicas(ring, token: token.value, rf: 1)
            #expect(page.coordinator == "\(expected[0]):9042")
            coordinators.insert(page.coordinator)
        }
        #expect(coordinators.count == 3)

        // Kill node 1 (the contact point, holding the control connection) under load.
        func node1IsUp() -> Bool { session.nodeStates.first { $0.node.address.host == Self.host(1) }?.isUp == true }
        let outcomes = Tally()
        let stop = Tally()
        let load = Task {
            var k: Int32 = 0
            while stop.total == 0 {
                k &+= 1
                do {
                    _ = try await session.execute(insert2, [.int(k), .int(k)], consistency: .one)
                    outcomes.add("ok")
                } catch {
                    outcomes.add((error as? ClientError)?.cqlError != nil ? "server" : "\(String(describing: error).prefix(40))")
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let killed = try await Self.script("kill", ["1"], dir: dir)
        #expect(killed.status == 0, "\(killed.output)")
        _ = try await Self.waitFor("node 1 marked down", within: .seconds(10)) { !node1IsUp() }
        let okBefore = outcomes["ok"]
        try await Task.sleep(for: .seconds(1))
        stop.add("stop")
        _ = await load.value
        // Requests kept succeeding through the other nodes; the few in flight on node 1 failed
        // with a clear error instead of hanging.
        #expect(outcomes["ok"] > okBefore + 50, "\(outcomes.all)")
        #expect(outcomes["server"] == 0, "\(outcomes.all)")

        // Every request whose replicas include node 1 still goes through, to another node.
        for k in Int32(1000) ..< 1100 {
            let page = try await session.execute(insert2, [.int(k), .int(k)])
            #expect(page.coordinator != "\(Self.host(1)):9042")
        }
        // The control connection moved to a live node: topology still refreshes.
        try await session.refreshTopology()
        #expect(session.topology.nodes.count == 3)

        // Node 1 comes back: the UP event (or the 3 s retry) reconnects it; requests reach it again.
        let restarted = try await Self.script("start", ["1"], dir: dir)
        #expect(restarted.status == 0, "\(restarted.output)")
        _ = try await Self.waitFor("node 1 up again", within: .seconds(30)) { node1IsUp() }
        var reached = false
        for k in Int32(2000) ..< 2300 where !reached {
            reached = try await session.execute(insert1, [.int(k), .int(k)]).coordinator == "\(Self.host(1)):9042"
        }
        #expect(reached)
        await session.close()
    }
}
