import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltServer
import Foundation
import Testing

struct HTTPRequestParserTests {
    @Test func parsesARequestArrivingInPieces() {
        let raw = Array("GET /status?format=json&x HTTP/1.1\r\nHost: a\r\nAccept:  text/plain \r\n\r\n".utf8)
        for cut in 0 ... raw.count {
            var p = HTTPRequestParser()
            var outcome = p.feed(raw[0 ..< cut])
            if cut < raw.count {
                #expect(outcome == .needMore)
                outcome = p.feed(raw[cut...])
            }
            guard case let .request(r) = outcome else {
                Issue.record("cut \(cut): \(outcome)")
                continue
            }
            #expect(r.method == "GET" && r.path == "/status" && r.version == "HTTP/1.1")
            #expect(r.queryValue("format") == "json" && r.queryValue("x") == "")
            #expect(r.header("accept") == "text/plain" && r.header("host") == "a")
        }
    }

    @Test func badInputGetsAStatusNeverATrap() {
        let cases: [(String, Int)] = [
            ("\r\n\r\n", 400),
            ("GET\r\n\r\n", 400),
            ("GET /x\r\n\r\n", 400),
            ("GET /x HTTP/1.1 extra\r\n\r\n", 400),
            ("get /x HTTP/1.1\r\n\r\n", 400),
            ("GET x HTTP/1.1\r\n\r\n", 400),
            ("GET /x FTP/1.0\r\n\r\n", 400),
            ("GET /x HTTP/2.0\r\n\r\n", 505),
            ("GET /x HTTP/1.1\r\nNoColon\r\n\r\n", 400),
            ("GET /x HTTP/1.1\r\n: empty\r\n\r\n", 400),
            ("GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n", 400),
            ("GET /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 413),
            ("GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 413),
            ("GET /\u{e9} HTTP/1.1\r\n\r\n", 400),
            ("GET /x HTTP/1.1\r\nA: \u{0}\r\n\r\n", 400),
        ]
        for (text, status) in cases {
            var p = HTTPRequestParser()
            guard case let .rejected(got, reason) = p.feed(Array(text.utf8)) else {
                Issue.record("accepted \(text.debugDescription)")
                continue
            }
            #expect(got == status, "\(text.debugDescription): \(reason)")
        }
    }

    @Test func oversizeHeadsAreRejectedWithoutBuffering() {
        var p = HTTPRequestParser(maxHeadBytes: 1024)
        #expect(p.feed(Array("GET / HTTP/1.1\r\n".utf8)) == .needMore)
        let outcome = p.feed([UInt8](repeating: 0x61, count: 5000))
        guard case .rejected(431, _) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(p.feed(Array("\r\n\r\n".utf8)) == outcome)  // sticky
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(seed: 11)
        for _ in 0 ..< 2000 {
            var p = HTTPRequestParser(maxHeadBytes: 256)
            let n = Int(rng.next() % 300)
            var bytes = (0 ..< n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 2 == 0 { bytes = Array("GET / HTTP/1.1\r\n".utf8) + bytes.map { $0 & 0x7f } + Array("\r\n\r\n".utf8) }
            _ = p.feed(bytes)
        }
    }
}

struct AdminRoutesTests {
    static func snapshot() -> MembershipSnapshot {
        let clock = ManualClock()
        var m = ClusterMembership(
            settings: Gossip.Settings(clusterName: "t", seeds: []),
            local: .init(hostId: UUIDValue(msb: 1, lsb: 2), address: NodeAddress(host: "127.0.2.40", port: 7000),
                         nativeAddress: NodeAddress(host: "127.0.2.40", port: 9042), releaseVersion: "0.1.0"),
            generation: 1234, clock: clock)
        _ = m.announceNormal(tokens: [Token(-5), Token(10), Token(99)])
        return MembershipSnapshot(view: m.view, generation: 1234)
    }

    static func request(_ method: String, _ target: String) -> HTTPRequest {
        var p = HTTPRequestParser()
        guard case let .request(r) = p.feed(Array("\(method) \(target) HTTP/1.1\r\n\r\n".utf8)) else { fatalError("test request") }
        return r
    }

    @Test func routesAnswerEachPathAndRefuseTheRest() throws {
        let metrics = MetricsRegistry()
        metrics.register("z-test") { $0.counter("basalt_test_total", help: "A \"test\"\ncounter.", 3) }
        metrics.register("a-test") {
            $0.family("basalt_labelled", type: .gauge, help: "Labels.", samples: [([("peer", "a\"b\\c\nd")], 1.5)])
        }
        let routes = AdminRoutes(snapshot: { Self.snapshot() }, metrics: metrics)

        let status = routes.respond(to: Self.request("GET", "/status"))
        #expect(status.status == 200)
        let text = String(decoding: status.body, as: UTF8.self)
        #expect(text.contains("UN  127.0.2.40  ?     3       100.0%  00000000-0000-0001-0000-000000000002  rack1"))

        let json = routes.respond(to: Self.request("GET", "/status?format=json"))
        #expect(json.contentType == "application/json")
        let report = try JSONDecoder().decode(StatusReport.self, from: Data(json.body))
        #expect(report.generation == 1234 && report.nodes.count == 1)
        #expect(report.nodes[0].state == "UN" && report.nodes[0].tokens == 3 && report.nodes[0].owns == 1)

        let ring = try JSONDecoder().decode(RingReport.self, from: Data(routes.respond(to: Self.request("GET", "/ring?format=json")).body))
        #expect(ring.entries.map(\.token) == [-5, 10, 99])

        #expect(String(decoding: routes.respond(to: Self.request("GET", "/metrics")).body, as: UTF8.self) == """
            # HELP basalt_labelled Labels.
            # TYPE basalt_labelled gauge
            basalt_labelled{peer="a\\"b\\\\c\\nd"} 1.5
            # HELP basalt_test_total A "test"\\ncounter.
            # TYPE basalt_test_total counter
            basalt_test_total 3

            """)
        #expect(routes.respond(to: Self.request("POST", "/status")).status == 405)
        #expect(routes.respond(to: Self.request("GET", "/nope")).status == 404)
        #expect(routes.respond(to: Self.request("GET", "/status?format=xml")).status == 400)
        #expect(routes.respond(to: Self.request("HEAD", "/ring")).status == 200)
    }

    @Test func statusShowsClockOffsetsOnceMeasured() throws {
        let routes = AdminRoutes(snapshot: { Self.snapshot() }, metrics: MetricsRegistry(), clockOffsets: { ["127.0.2.40": 600_012.4] })
        let text = String(decoding: routes.respond(to: Self.request("GET", "/status")).body, as: UTF8.self)
        #expect(text.contains("Rack   Clock offset"))
        #expect(text.contains("rack1  +600012 ms"))
        let report = try JSONDecoder().decode(StatusReport.self, from: Data(routes.respond(to: Self.request("GET", "/status?format=json")).body))
        #expect(report.nodes[0].clockOffsetMs == 600_012.4)
        // Without measurements the table keeps its usual columns.
        let plain = String(decoding: AdminRoutes(snapshot: { Self.snapshot() }, metrics: MetricsRegistry()).respond(to: Self.request("GET", "/status")).body, as: UTF8.self)
        #expect(!plain.contains("Clock offset"))
    }

    /// Sends `bytes` on a new connection and returns everything the server sent until it closed
    /// the connection (or until 120 s passed: a server that never answers fails the test instead
    /// of hanging it).
    static func raw(_ bytes: [UInt8], to address: SocketAddress, on loop: EventLoop) async throws -> String {
        let c = try await TCPConnection.connect(on: loop, to: address)
        let received = Shared()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.execute {
                let giveUp = loop.scheduleTimer(after: .seconds(120)) { c.close(.local("no answer from the server")) }
                c.onRead = { received.append($0) }
                c.onClose = { _ in
                    giveUp.cancel()
                    done.resume()
                }
                c.startReading()
                c.send(bytes)
            }
        }
        return String(decoding: received.bytes, as: UTF8.self)
    }

    @Test func theServerAnswersBadClientsAndKeepsServing() async throws {
        let loop = EventLoop(name: "admin-test")
        // A request timeout no stall of a loaded test machine reaches: the test's client hops through the
        // cooperative pool between connecting and sending, and a 408 is not what these cases test.
        let server = AdminServer(loop: loop, routes: AdminRoutes(snapshot: { Self.snapshot() }, metrics: MetricsRegistry()),
                                 logger: .init(label: "test"), requestTimeout: .seconds(600))
        let address = try await server.start(at: SocketAddress(host: ServerTestAddress.host(40), port: 0))
        func raw(_ bytes: [UInt8]) async throws -> String { try await Self.raw(bytes, to: address, on: loop) }
        #expect(try await raw(Array("hello\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(try await raw([UInt8](repeating: 0x41, count: 20_000)).hasPrefix("HTTP/1.1 431 "))
        #expect(try await raw(Array("GET /status HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".utf8)).hasPrefix("HTTP/1.1 413 "))
        let ok = try await AdminClient.get("/status", from: address, on: loop)
        #expect(ok.status == 200 && ok.text.contains("UN  127.0.2.40"))
        server.stop()
        await loop.shutdownGracefully()
    }

    @Test func aClientThatNeverFinishesItsRequestIsAnsweredWithATimeout() async throws {
        let loop = EventLoop(name: "admin-timeout-test")
        let server = AdminServer(loop: loop, routes: AdminRoutes(snapshot: { Self.snapshot() }, metrics: MetricsRegistry()),
                                 logger: .init(label: "test"), requestTimeout: .milliseconds(200))
        let address = try await server.start(at: SocketAddress(host: ServerTestAddress.host(42), port: 0))
        let answer = try await Self.raw(Array("GET /sta".utf8), to: address, on: loop)
        #expect(answer.hasPrefix("HTTP/1.1 408 "), "\(answer)")
        // (Whether the server then answers other clients is not asked here: with so short a timeout a
        // client stalled on a loaded machine would be answered 408 as well.)
        server.stop()
        await loop.shutdownGracefully()
    }

    @Test func registeredActionsAreServedOffTheLoopWithTheirMethod() async throws {
        let loop = EventLoop(name: "admin-actions-test")
        let actions = AdminActions()
        actions.register("POST", "/work") { request in
            // Longer than nothing: the answer comes after an await, from another thread.
            try? await Task.sleep(for: .milliseconds(50))
            return HTTPResponse(status: 200, text: "did \(request.queryValue("what") ?? "?")\n")
        }
        let routes = AdminRoutes(snapshot: { Self.snapshot() }, metrics: MetricsRegistry(), actions: actions)
        guard case .now(let refused) = routes.answer(Self.request("GET", "/work")) else {
            Issue.record("a GET of a POST-only action must be refused at once")
            return
        }
        #expect(refused.status == 405)
        let server = AdminServer(loop: loop, routes: routes, logger: .init(label: "test"), requestTimeout: .seconds(600))
        let address = try await server.start(at: SocketAddress(host: ServerTestAddress.host(41), port: 0))
        let done = try await AdminClient.send("POST", "/work?what=it", to: address, on: loop)
        #expect(done.status == 200 && done.text == "did it\n")
        #expect(try await AdminClient.get("/work", from: address, on: loop).status == 405)
        #expect(try await AdminClient.get("/", from: address, on: loop).text.contains("POST /work"))
        #expect(try await AdminClient.get("/status", from: address, on: loop).status == 200)
        server.stop()
        await loop.shutdownGracefully()
    }
}

/// Bytes collected on a loop and read by the test afterwards.
final class Shared: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var stored: [UInt8] = []
    func append(_ b: UnsafeRawBufferPointer) { lock.withLock { stored.append(contentsOf: b) } }
    var bytes: [UInt8] { lock.withLock { stored } }
}
