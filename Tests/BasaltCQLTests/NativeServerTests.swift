import BasaltCore
import BasaltNet
@testable import BasaltProtocol
import Foundation
import Testing
@testable import BasaltCQL

/// The real server on loopback (127.0.4.x, ephemeral ports) with a real storage engine behind it.
struct NativeServerTests {
    /// A minimal client: writes frames, reads responses by stream.
    final class RawClient: @unchecked Sendable {
        let connection: TCPConnection
        private let received = LockedValue<[ResponseFrame]>([])
        private let closed = LockedValue(false)
        private let decoder = LockedValue(FrameDecoder(side: .client))

        init(loop: EventLoop, to address: SocketAddress) async throws {
            connection = try await TCPConnection.connect(on: loop, to: address)
            let decoder = decoder, received = received, closed = closed
            _ = loop.execute { [connection] in
                connection.onRead = { bytes in
                    decoder.with { d in
                        d.append(bytes)
                        while let f = try? d.next() {
                            if let r = try? ResponseFrame.decode(f, compression: nil) { received.with { $0.append(r) } }
                        }
                    }
                }
                connection.onClose = { _ in closed.with { $0 = true } }
                connection.startReading()
            }
        }

        func send(_ bytes: [UInt8]) { connection.send(bytes) }
        func send(_ r: RequestFrame) { send(r.frame().encoded()) }
        var responses: [ResponseFrame] { received.with { $0 } }
        var isClosed: Bool { closed.with { $0 } }

        func waitFor(_ n: Int, seconds: Double = 10) async -> [ResponseFrame] {
            let deadline = Date().addingTimeInterval(seconds)
            while responses.count < n && Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            return responses
        }
    }

    @Test func garbageOnOneConnectionLeavesOthersServed() async throws {
        let node = try SingleNodeExecutor(clock: ManualClock())
        defer { node.close() }
        try await node.run("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        try await node.run("CREATE TABLE ks.t (k int PRIMARY KEY, v int)")
        let group = EventLoopGroup(threads: 2, name: "cql-test")
        let server = NativeServer(group: group, processor: node.processor, logger: .quiet)
        let address = try await server.start(at: try SocketAddress(host: "127.0.4.1", port: 0))

        let good = try await RawClient(loop: group.loops[1], to: address)
        good.send(RequestFrame(stream: 0, request: .startup(["CQL_VERSION": "3.0.0"])))
        #expect(await good.waitFor(1).first?.response == .ready)

        var rng = SplitMix64(seed: 11)
        for round in 0 ..< 20 {
            let bad = try await RawClient(loop: group.loops[round % 2], to: address)
            if round % 2 == 0 { bad.send(RequestFrame(stream: 0, request: .startup([:]))) }
            bad.send((0 ..< 64).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            // Many pipelined requests on the good connection meanwhile, answered by stream.
            for s in 0 ..< 10 {
                let stream = Int16(1 + round * 10 + s)
                good.send(RequestFrame(stream: stream, request: .query("INSERT INTO ks.t (k, v) VALUES (\(stream), 1)", QueryParameters())))
            }
            let deadline = Date().addingTimeInterval(10)
            while !bad.isClosed && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(bad.isClosed, "garbage did not close the connection (round \(round))")
        }
        let answered = await good.waitFor(201)
        #expect(answered.count == 201)
        #expect(Set(answered.map(\.stream)) == Set((0 ... 200).map { Int16($0) }))
        #expect(answered.dropFirst().allSatisfy { $0.response == .result(.void) })
        #expect(!good.isClosed)
        #expect(try await node.rows("SELECT count(*) FROM ks.t") == [[.bigint(200)]])
        await server.stop()
        await group.shutdownGracefully()
    }

    @Test func eventsReachRegisteredConnections() async throws {
        let node = try SingleNodeExecutor()
        defer { node.close() }
        let group = EventLoopGroup(threads: 1, name: "cql-test-events")
        let server = NativeServer(group: group, processor: node.processor, logger: .quiet)
        node.holder.onChange { _, changes in for c in changes { server.events.publish(.schemaChange(c)) } }
        let address = try await server.start(at: try SocketAddress(host: "127.0.4.2", port: 0))
        let client = try await RawClient(loop: group.loops[0], to: address)
        client.send(RequestFrame(stream: 0, request: .startup([:])))
        client.send(RequestFrame(stream: 1, request: .register(["SCHEMA_CHANGE"])))
        #expect(await client.waitFor(2).count == 2)
        try await node.run("CREATE KEYSPACE ev WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        let all = await client.waitFor(3)
        #expect(all.last?.stream == -1)
        #expect(all.last?.response == .event(.schemaChange(SchemaChangeDescription(change: .created, target: .keyspace, keyspace: "ev"))))
        await server.stop()
        await group.shutdownGracefully()
    }
}

/// A value shared between threads, guarded by a lock.
final class LockedValue<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = Lock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func with<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
}
