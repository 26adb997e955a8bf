import BasaltTestSupport
import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltServer
import Foundation
import Logging
import Testing

/// A component that records when it is prepared, started and stopped.
final class RecordingComponent: NodeComponent, Sendable {
    let name: String
    let stage: NodeComponentStage
    let journal: Journal
    let failStart: Bool

    init(_ name: String, _ stage: NodeComponentStage, journal: Journal, failStart: Bool = false) {
        self.name = name
        self.stage = stage
        self.journal = journal
        self.failStart = failStart
    }

    func prepare(_ context: NodeContext) throws { journal.add("prepare \(name)") }

    func start(_ context: NodeContext) async throws {
        // Storage starts before the node is reachable; services after it is normal in the ring.
        let local = context.membership().local
        journal.add("start \(name) status=\(local?.status?.rawValue ?? "none") tokens=\(local?.tokens.count ?? 0)")
        if failStart { throw CancellationError() }
    }

    func stop() async { journal.add("stop \(name)") }
}

/// One node in this process: start-up order, persistence across restarts, refusal of bad state.
struct BasaltNodeTests {
    static func config(_ host: String, data: String) -> NodeConfig {
        var c = NodeConfig()
        c.listenAddress = host
        c.seeds = [host]
        c.dataDirectory = data
        return c
    }

    static var logger: Logger {
        var l = Logger(label: "test")
        l.logLevel = .error
        return l
    }

    @Test(.timeLimit(.minutes(2)))
    func startsInOrderKeepsItsIdentityAndStopsInReverse() async throws {
        let dir = TemporaryDirectory("node")
        let host = ServerTestAddress.host(20)
        let journal = Journal()
        let components = [RecordingComponent("cql", .service, journal: journal),
                          RecordingComponent("storage", .storage, journal: journal)]
        let node = BasaltNode(config: Self.config(host, data: dir.path + "/data"), logger: Self.logger, releaseVersion: "t",
                              components: components)
        let events = node.events.stream()
        try await node.start()
        let first = try #require(node.membership?.local)
        #expect(first.status == .normal && first.tokens.count == 16)
        #expect(journal.all == ["prepare cql", "prepare storage", "start storage status=none tokens=0",
                                "start cql status=NORMAL tokens=16"])
        var joined = false
        for await e in events {
            if case let .joined(m) = e, m.address == first.address { joined = true; break }
        }
        #expect(joined)

        let probe = AdminProbe()
        let report = try #require(await probe.status(host))
        #expect(report.nodes.map(\.state) == ["UN"] && report.nodes[0].hostId == first.hostId?.description)
        let metrics = try #require(await probe.get(host, "/metrics"))
        #expect(metrics.text.contains("basalt_membership_members_up 1\n"))
        #expect(metrics.text.contains("# TYPE basalt_messaging_bytes_out_total counter"))
        await probe.close()
        await node.stop()
        #expect(journal.all.suffix(2) == ["stop cql", "stop storage"])

        let again = BasaltNode(config: Self.config(host, data: dir.path + "/data"), logger: Self.logger, releaseVersion: "t")
        try await again.start()
        let second = try #require(again.membership?.local)
        #expect(second.hostId == first.hostId && second.tokens == first.tokens)
        #expect(second.generation > first.generation)
        await again.stop()
    }

    @Test(.timeLimit(.minutes(2)))
    func gossipGarbageIsCountedAndIgnored() async throws {
        let dir = TemporaryDirectory("node-garbage")
        let host = ServerTestAddress.host(24)
        let node = BasaltNode(config: Self.config(host, data: dir.path + "/data"), logger: Self.logger, releaseVersion: "t")
        try await node.start()
        let peer = MessagingService(settings: MessagingSettings(address: try SocketAddress(host: ServerTestAddress.host(25), port: 0)),
                                    logger: Self.logger)
        try await peer.start()
        let target = try SocketAddress(host: host, port: 7000)
        for garbage in [[UInt8](), [1], [1, 1, 0, 0, 0], [UInt8](repeating: 0xff, count: 300)] {
            try peer.send(to: target, verb: GossipService.verb, payload: garbage)
        }
        let probe = AdminProbe()
        try await waitUntil("the garbage to be rejected", timeout: .seconds(30)) {
            let text = await probe.get(host, "/metrics")?.text ?? ""
            return text.contains("basalt_gossip_messages_rejected_total 4\n") ? nil : "not yet rejected"
        }
        #expect(await probe.status(host)?.nodes.map(\.state) == ["UN"])
        await probe.close()
        await peer.shutdown()
        await node.stop()
    }

    @Test func refusesAMismatchedOrCorruptIdentityAndUndoesAFailedStart() async throws {
        let dir = TemporaryDirectory("node-refuse")
        let host = ServerTestAddress.host(21)
        let data = dir.path + "/data"
        let node = BasaltNode(config: Self.config(host, data: data), logger: Self.logger, releaseVersion: "t")
        try await node.start()
        await node.stop()

        var moved = Self.config(host, data: data)
        moved.rack = "rack2"
        await #expect(throws: NodeStartError.self) {
            try await BasaltNode(config: moved, logger: Self.logger, releaseVersion: "t").start()
        }

        // A component failing to start stops the node and frees its address and directory.
        let journal = Journal()
        let failing = RecordingComponent("cql", .service, journal: journal, failStart: true)
        let broken = BasaltNode(config: Self.config(host, data: data), logger: Self.logger, releaseVersion: "t", components: [failing])
        do {
            try await broken.start()
            Issue.record("started despite a failing component")
        } catch {
            guard case .component(name: "cql", _) = error else { Issue.record("\(error)"); return }
        }
        let retry = BasaltNode(config: Self.config(host, data: data), logger: Self.logger, releaseVersion: "t")
        try await retry.start()
        await retry.stop()

        let store = NodeIdentityStore(directory: data)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store.identityPath)))
        bytes[bytes.count / 2] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: store.identityPath))
        do {
            try await BasaltNode(config: Self.config(host, data: data), logger: Self.logger, releaseVersion: "t").start()
            Issue.record("started with a corrupt identity")
        } catch {
            guard case .identity(.corrupt) = error else { Issue.record("\(error)"); return }
        }
    }

    @Test func aFirstStartWithUnreachableSeedsFailsClearly() async throws {
        let dir = TemporaryDirectory("node-noseed")
        var c = Self.config(ServerTestAddress.host(22), data: dir.path + "/data")
        c.seeds = [ServerTestAddress.host(23)]
        c.ringDelayMillis = 1500
        do {
            try await BasaltNode(config: c, logger: Self.logger, releaseVersion: "t").start()
            Issue.record("started without reaching a seed")
        } catch {
            guard case .noSeedReachable = error else { Issue.record("\(error)"); return }
            #expect(error.description.contains("127.0.2.23:7000"))
        }
    }
}
