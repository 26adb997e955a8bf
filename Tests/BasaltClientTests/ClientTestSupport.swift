import BasaltTestSupport
import BasaltClient
import BasaltCore
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Addresses of this suite's block (127.0.6.1–254): .1–.3 the `cluster/up` cluster, .10–.39 one
/// `basalt cql-standalone` per test, so tests running in parallel never share a node.
enum ClientTestAddress {
    static func standalone(_ n: Int) -> String { "127.0.6.\(10 + n)" }
    static let clusterPrefix = "127.0.6."
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One `basalt cql-standalone` on `host:9042` with its own data directory. Call ``stop()`` in a
/// `defer`; ``restart()`` starts it again on the same data.
final class StandaloneNode: @unchecked Sendable {
    // @unchecked: `process` is guarded by `lock`.
    let host: String
    let directory: TemporaryDirectory
    let extraArguments: [String]
    private let lock = NSLock()
    private var process: ChildProcess?

    init(host: String, extraArguments: [String] = []) throws {
        self.host = host
        directory = TemporaryDirectory("client-standalone-\(host)")
        self.extraArguments = extraArguments
        try start()
    }

    var logPath: String { directory.path + "/node.log" }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func start() throws {
        let p = try ChildProcess(BasaltBinary.path, ["cql-standalone", "--address", host, "--data-dir", directory.path + "/data",
                                                       "--log-level", "warning"] + extraArguments, outputPath: logPath)
        lock.withLock { process = p }
    }

    /// SIGKILL, like a crash.
    func stop() { lock.withLock { process }?.killAndReap() }

    func signal(_ sig: Int32) { lock.withLock { process }?.signal(sig) }

    /// A session to this node once it serves CQL (bounded wait).
    func session(_ configure: (inout SessionConfiguration) -> Void = { _ in }) async throws -> Session {
        var config = SessionConfiguration(contactPoints: [host])
        config.connectTimeout = .seconds(2)
        configure(&config)
        return try await connectWhenReady(config, log: { self.log })
    }
}

/// Connects once the server answers (it may still be starting); bounded at 30 s, counted to the
/// start of the last attempt (a busy test process may resume the wait late: it tries once more).
func connectWhenReady(_ config: SessionConfiguration, log: () -> String = { "" }) async throws -> Session {
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(30)
    var last: ClientError?
    var begun = clock.now
    while begun < deadline {
        begun = clock.now
        do {
            return try await Session.connect(config)
        } catch {
            if case .server = error { throw error }
            if case let .noHostAvailable(failures) = error, failures.contains(where: { $0.reason.contains("0x") }) { throw error }
            last = error
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TestFailure("no session to \(config.contactPoints) within 30 s: \(last?.description ?? "-")\n\(log())")
}

/// Counts outcomes by name from any thread.
final class Tally: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func add(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
    subscript(_ name: String) -> Int { counts.withLock { $0[name] ?? 0 } }
    var all: [String: Int] { counts.withLock { $0 } }
    var total: Int { counts.withLock { $0.values.reduce(0, +) } }
}
