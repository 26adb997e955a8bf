import BasaltCore
import BasaltNet
@testable import BasaltProtocol
import Foundation
import Testing
@testable import BasaltCQL

/// ``NativeTransportLimits`` on the real server (127.0.4.21–25, ephemeral ports): Overloaded
/// answers, pausing and waking at the byte limit, connection caps, incomplete-frame and idle timeouts.
struct NativeTransportLimitsTests {
    typealias RawClient = NativeServerTests.RawClient

    func withServer(host: Int, _ configure: (inout NativeTransportLimits) -> Void,
                    _ body: (NativeServer, SocketAddress, EventLoopGroup) async throws -> Void) async throws {
        let node = try SingleNodeExecutor(clock: ManualClock())
        defer { node.close() }
        var limits = NativeTransportLimits()
        configure(&limits)
        let group = EventLoopGroup(threads: 2, name: "cql-limits-\(host)")
        let server = NativeServer(group: group, processor: node.processor, limits: limits, logger: .quiet)
        let address = try await server.start(at: try SocketAddress(host: "127.0.4.\(host)", port: 0))
        do { try await body(server, address, group) } catch {
            await server.stop()
            await group.shutdownGracefully()
            throw error
        }
        await server.stop()
        await group.shutdownGracefully()
    }

    func eventually(_ what: String, seconds: Double = 20, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition(), "\(what)")
    }

    static func header(_ opcode: Opcode, stream: Int16, length: Int) -> [UInt8] {
        var w = ByteWriter(capacity: 9)
        FrameHeader(version: 4, stream: stream, opcode: opcode, bodyLength: UInt32(length)).encode(into: &w)
        return w.bytes
    }

    @Test func overTheByteLimitStatementsAreAnsweredOverloadedWhenAsked() async throws {
        try await withServer(host: 21, { $0.throwOnOverload = true; $0.maxRequestBytesInFlightPerHost = 1 }) { server, address, group in
            let client = try await RawClient(loop: group.loops[0], to: address)
            client.send(RequestFrame(stream: 0, request: .startup([:])))
            client.send(RequestFrame(stream: 1, request: .query("SELECT * FROM system.local", QueryParameters())))
            let answers = await client.waitFor(2)
            #expect(answers.first?.response == .ready)
            guard case let .error(error)? = answers.last?.response else { Issue.record("no error: \(answers)"); return }
            #expect(error.code == 0x1001 && error.message.contains("native_transport_max_request_data_in_flight_per_ip"))
            #expect(server.transportCounters.overloaded == 1 && !client.isClosed)
            try await eventually("bytes released") { server.transportCounters.bytesInFlight == 0 }
        }
    }

    @Test func aConnectionPausedAtTheLimitResumesWhenBytesAreReleased() async throws {
        // A paused connection does not read, so it does not see its peer close either: the holder's
        // half-sent frame is released by the incomplete-frame timeout.
        try await withServer(host: 22, { $0.maxRequestBytesInFlightPerHost = 64; $0.incompleteFrameTimeout = .seconds(5) }) { server, address, group in
            let holder = try await RawClient(loop: group.loops[0], to: address)
            holder.send(Self.header(.query, stream: 1, length: 1000) + [UInt8](repeating: 0, count: 100))
            // The whole frame is reserved when its header arrives (the address was under its limit).
            try await eventually("half frame reserved") { server.transportCounters.bytesInFlight == 1009 }
            let other = try await RawClient(loop: group.loops[1], to: address)
            other.send(RequestFrame(stream: 1, request: .options))
            #expect(await other.waitFor(1).count == 1)  // read before the limit was checked, then paused
            // (The holder itself reads on: its frame is reserved.)
            try await eventually("second connection paused") { server.transportCounters.readPauses == 1 }
            other.send(RequestFrame(stream: 2, request: .options))
            try await Task.sleep(for: .milliseconds(200))
            #expect(other.responses.count == 1)
            #expect(await other.waitFor(2, seconds: 30).count == 2)
            #expect(holder.isClosed && server.transportCounters.incompleteFrameCloses == 1)
            #expect(server.transportCounters.bytesInFlight == 0)
        }
    }

    @Test func framesTogetherOverTheLimitDoNotStallOneAnother() async throws {
        // Three connections of one address each send the first half of a 1 KiB statement, then the
        // rest: their frames together pass the 1500-byte limit, but each frame, once reserved, is
        // read to its end; the third waits for room and is then served.
        try await withServer(host: 27, { $0.maxRequestBytesInFlightPerHost = 1500 }) { server, address, group in
            let frame = RequestFrame(stream: 1, request: .query("SELECT * FROM system.local WHERE key = '" + String(repeating: "x", count: 1000) + "'",
                                                                QueryParameters())).frame().encoded()
            var clients: [RawClient] = []
            for i in 0 ..< 3 {
                let c = try await RawClient(loop: group.loops[i % 2], to: address)
                c.send(RequestFrame(stream: 0, request: .startup([:])))
                #expect(await c.waitFor(1).count == 1)
                c.send(Array(frame.prefix(frame.count / 2)))
                clients.append(c)
            }
            try await Task.sleep(for: .milliseconds(100))
            for c in clients { c.send(Array(frame.dropFirst(frame.count / 2))) }
            for c in clients { #expect(await c.waitFor(2, seconds: 30).count == 2) }
            try await eventually("all released") { server.transportCounters.bytesInFlight == 0 }
        }
    }

    @Test func connectionsOverTheCapAreClosedAtAccept() async throws {
        try await withServer(host: 23, { $0.maxConnections = 2 }) { server, address, group in
            let a = try await RawClient(loop: group.loops[0], to: address)
            let b = try await RawClient(loop: group.loops[1], to: address)
            try await eventually("two open") { server.transportCounters.connections == 2 }
            let c = try await RawClient(loop: group.loops[0], to: address)
            try await eventually("third closed") { c.isClosed }
            #expect(server.transportCounters.refused[.maxConnections] == 1 && !a.isClosed && !b.isClosed)
            a.connection.close()
            try await eventually("one released") { server.transportCounters.connections == 1 }
            let d = try await RawClient(loop: group.loops[1], to: address)
            d.send(RequestFrame(stream: 0, request: .options))
            #expect(await d.waitFor(1).count == 1)
        }
    }

    @Test func aHalfSentFrameAndAnIdleConnectionAreClosedAfterTheirTimeouts() async throws {
        try await withServer(host: 24, { $0.incompleteFrameTimeout = .milliseconds(200) }) { server, address, group in
            let stuck = try await RawClient(loop: group.loops[0], to: address)
            stuck.send(Self.header(.query, stream: 1, length: 50) + [1, 2, 3])
            try await eventually("half frame closed") { stuck.isClosed }
            #expect(server.transportCounters.incompleteFrameCloses == 1)
        }
        try await withServer(host: 25, { $0.idleTimeout = .milliseconds(200) }) { server, address, group in
            let idle = try await RawClient(loop: group.loops[0], to: address)
            idle.send(RequestFrame(stream: 0, request: .startup([:])))
            #expect(await idle.waitFor(1).first?.response == .ready)
            try await eventually("idle closed") { idle.isClosed }
            #expect(server.transportCounters.idleCloses == 1)
        }
    }

    @Test func anOversizedHeaderIsAnsweredAndTheConnectionClosed() async throws {
        try await withServer(host: 26, { $0.maxFrameSize = 1024 }) { server, address, group in
            let client = try await RawClient(loop: group.loops[0], to: address)
            client.send(Self.header(.query, stream: 9, length: 4096))
            let answer = await client.waitFor(1).first
            #expect(answer?.stream == 9)
            #expect(answer?.response == .error(.protocolError("Request is too big: length 4096 exceeds maximum allowed length 1024.")))
            try await eventually("closed") { client.isClosed }
            #expect(server.transportCounters.framesTooLarge == 1)
        }
    }
}
