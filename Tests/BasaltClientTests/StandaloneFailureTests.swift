import BasaltCore
import BasaltCQL
import BasaltProtocol
import Foundation
import Testing
@testable import BasaltClient

#if canImport(Glibc)
import Glibc
#endif

/// Bounds and failures against a real `basalt cql-standalone`: the in-flight limit, a node that
/// stops answering, a node that dies and comes back.
@Suite(.timeLimit(.minutes(3)))
struct StandaloneFailureTests {
    static func table(_ session: Session) async throws -> PreparedStatement {
        _ = try await session.query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        _ = try await session.query("CREATE TABLE ks.kv (k bigint PRIMARY KEY, v blob)")
        return try await session.prepare("INSERT INTO ks.kv (k, v) VALUES (?, ?)")
    }

    static func values(_ k: Int64) -> [ProtocolValue] {
        [.bytes(try! CQLType.bigint.encode(.bigint(k))), .bytes([UInt8](repeating: 7, count: 100))]
    }

    /// Many requests at once on one connection: all answered, matched by stream; beyond the
    /// bound they fail at once with `tooManyInFlight`, and none hangs.
    @Test func inFlightBoundIsAClearError() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(10))
        defer { node.stop() }
        let session = try await node.session { $0.maxInFlightPerConnection = 16 }
        let insert = try await Self.table(session)
        // Issued back to back from this thread, faster than a round trip: the connection's 16
        // stream ids are taken at once and the rest is refused on the spot.
        let outcomes = Tally()
        for k in 0 ..< 400 {
            session.execute(insert, encoded: Self.values(Int64(k))) { result in
                switch result {
                case .success: outcomes.add("ok")
                case let .failure(.tooManyInFlight(_, limit)) where limit == 16: outcomes.add("tooManyInFlight")
                case let .failure(error): outcomes.add("\(error)")
                }
            }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while outcomes.total < 400 && clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let counts = outcomes.all
        #expect(counts.values.reduce(0, +) == 400)
        #expect(Set(counts.keys).isSubset(of: ["ok", "tooManyInFlight"]), "\(counts)")
        #expect((counts["ok"] ?? 0) >= 16, "\(counts)")
        #expect((counts["tooManyInFlight"] ?? 0) > 0, "\(counts)")
        // With room for everyone, everything succeeds and every row is there.
        let roomy = try await node.session { $0.maxInFlightPerConnection = 1024 }
        let insert2 = try await roomy.prepare(insert.query)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for k in 0 ..< 1000 { group.addTask { _ = try await roomy.execute(insert2, encoded: Self.values(Int64(k))) } }
            try await group.waitForAll()
        }
        let count = try await roomy.query("SELECT count(*) FROM ks.kv").rows.first?[0]
        #expect(count == .bigint(1000))
        await session.close()
        await roomy.close()
    }

    /// A node that stops answering (SIGSTOP): requests fail with `timeout` close to their
    /// deadline, not later; after SIGCONT it answers again.
    @Test func aSilentNodeTimesOutInBoundedTime() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(11))
        defer {
            node.signal(SIGCONT)
            node.stop()
        }
        let session = try await node.session()
        let insert = try await Self.table(session)
        node.signal(SIGSTOP)
        let clock = ContinuousClock()
        var options = StatementOptions()
        options.timeout = .milliseconds(400)
        // Timed where the answer arrives, on the client's event loop: this test task may resume
        // late when the test process is busy, which says nothing about the client.
        let (result, took): (Result<ExecutionResponse, ClientError>, Duration) = await withCheckedContinuation { continuation in
            let started = clock.now
            session.execute(insert, encoded: Self.values(1), options: options) { result in
                continuation.resume(returning: (result, clock.now - started))
            }
        }
        switch result {
        case .success: Issue.record("a stopped node answered")
        case let .failure(error):
            guard case .timeout = error else { Issue.record("expected a timeout, got \(error)"); return }
        }
        #expect(took >= .milliseconds(390) && took < .milliseconds(1500), "\(took)")
        node.signal(SIGCONT)
        _ = try await session.execute(insert, encoded: Self.values(2))
        await session.close()
    }

    /// The only node dies: outstanding and new requests fail at once (never hang), the node is
    /// marked down; when it is back on the same address the client reconnects by itself.
    @Test func aDeadNodeIsMarkedDownAndReconnected() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(12))
        defer { node.stop() }
        let session = try await node.session {
            $0.reconnectInitialDelay = .milliseconds(50)
            $0.reconnectMaxDelay = .milliseconds(400)
        }
        let insert = try await Self.table(session)
        // Requests in flight while the node is killed.
        let outcomes = Tally()
        for k in 0 ..< 200 {
            session.execute(insert, encoded: Self.values(Int64(k))) { result in
                if case .failure = result { outcomes.add("failed") } else { outcomes.add("ok") }
            }
        }
        node.stop()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while outcomes.total < 200 && clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(outcomes.total == 200, "\(outcomes.all)")
        while session.nodeStates.first?.isUp == true && clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(session.nodeStates.first?.isUp == false)
        // Timed on the client's event loop, where the answer arrives (see aSilentNodeTimesOutInBoundedTime).
        let (result, took): (Result<ExecutionResponse, ClientError>, Duration) = await withCheckedContinuation { continuation in
            let started = clock.now
            session.execute(insert, encoded: Self.values(1)) { result in continuation.resume(returning: (result, clock.now - started)) }
        }
        switch result {
        case .success: Issue.record("a dead node answered")
        case let .failure(error):
            guard case let .noHostAvailable(failures) = error else { Issue.record("\(error)"); return }
            #expect(failures.count == 1 && failures[0].node == "\(node.host):9042", "\(failures)")
        }
        #expect(took < .milliseconds(200), "\(took)")

        try node.start()
        let back = clock.now + .seconds(30)
        while session.nodeStates.first?.isUp != true && clock.now < back { try await Task.sleep(for: .milliseconds(50)) }
        #expect(session.nodeStates.first?.isUp == true, "\(node.log)")
        // The restarted node forgot the prepared id: the client re-prepares transparently.
        _ = try await session.execute(insert, encoded: Self.values(3))
        #expect(try await session.query("SELECT v FROM ks.kv WHERE k = 3").rows.count == 1)
        await session.close()
    }

    @Test func aClosedSessionRefusesRequests() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(13))
        defer { node.stop() }
        let session = try await node.session()
        await session.close()
        await #expect(throws: ClientError.sessionClosed) { _ = try await session.query("SELECT key FROM system.local") }
        do {
            _ = try await Session.connect(SessionConfiguration(contactPoints: ["127.0.6.250"]))
            Issue.record("connected to nothing")
        } catch {
            guard case let .noHostAvailable(failures) = error else { Issue.record("\(error)"); return }
            #expect(failures.first?.node == "127.0.6.250:9042")
        }
    }
}
