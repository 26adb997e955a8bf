import BasaltCore
import BasaltNet
import Logging
import Testing

enum TestVerbs {
    static let echo = Verb(1, "echo")
    static let hold = Verb(2, "hold")
    static let fail = Verb(3, "fail")
    static let bulk = Verb(4, "bulk", lane: .large)
    static let batch = Verb(5, "batch")
    static let note = Verb(6, "note")
}

/// Services started by one test; all shut down at the end, whatever happened.
final class TestCluster: @unchecked Sendable {
    // @unchecked: `services` is guarded by `lock`.
    private let lock = Lock()
    private var services: [MessagingService] = []
    let logs = CapturedLogs()

    /// Starts a service on 127.0.1.`host` with `echo` registered plus whatever `register` adds.
    func start(
        host: Int, port: UInt16 = 0, threads: Int = 1,
        configure: (inout MessagingSettings) -> Void = { _ in },
        register: (MessagingService) -> Void = { _ in }
    ) async throws -> MessagingService {
        var settings = MessagingSettings(address: try SocketAddress(host: TestAddress.host(host), port: port))
        settings.reconnectBackoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        configure(&settings)
        let service = MessagingService(settings: settings, threads: threads, logger: logs.logger(label: "node\(host)"))
        service.register(TestVerbs.echo) { message, reply in reply.reply(message.payload) }
        register(service)
        lock.withLock { services.append(service) }
        try await service.start()
        return service
    }

    func shutdownAll() async {
        let all = lock.withLock { services }
        for service in all { await service.shutdown() }
    }
}

func withCluster(_ body: (TestCluster) async throws -> Void) async throws {
    let cluster = TestCluster()
    do {
        try await body(cluster)
    } catch {
        await cluster.shutdownAll()
        throw error
    }
    await cluster.shutdownAll()
}

/// The error a request failed with, or nil if it succeeded.
func requestError(
    _ service: MessagingService, to peer: SocketAddress, verb: Verb, payload: [UInt8] = [], timeout: Duration? = nil
) async -> MessagingError? {
    do {
        _ = try await service.request(to: peer, verb: verb, payload: payload, timeout: timeout)
        return nil
    } catch {
        return error
    }
}

extension Shared where Value == [ReplyToken] {
    /// Answers every held request and drops the tokens (a token keeps its connection alive, and the
    /// handler that holds this list is referenced by the connection: a cycle until cleared).
    func replyAll(_ payload: [UInt8]) {
        for token in with({ list in defer { list.removeAll() }; return list }) { token.reply(payload) }
    }
}

extension UInt32 {
    var bytes: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }
    init(bytes: [UInt8]) { self = bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) } }
}
