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

/// A child process started with `posix_spawn` and reaped with `waitpid` here (the pattern of
/// BasaltServerTests' `ChildProcess`: Foundation's SIGCHLD handling can miss exits). Output is
/// appended to `outputPath`; ``kill()`` (call it in a `defer`) leaves nothing behind.
final class SpawnedProcess: @unchecked Sendable {
    // @unchecked: `exitStatus` is guarded by `lock`.
    let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    init(_ executable: String, _ arguments: [String], outputPath: String,
         environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child = pid_t()
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw TestFailure("cannot start \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// The exit status (128 + signal when signalled), nil while running. Reaps the child.
    var status: Int32? {
        lock.withLock {
            if exitStatus == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid {
                    let signal = raw & 0x7f
                    exitStatus = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
                }
            }
            return exitStatus
        }
    }

    var isRunning: Bool { status == nil }

    func signal(_ sig: Int32) {
        if isRunning { Glibc.kill(pid, sig) }
    }

    /// Waits (bounded) for the exit; the status, nil if it still runs.
    func waitForExit(timeout: Duration) async -> Int32? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while isRunning && clock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return status
    }

    /// SIGKILLs the process if it still runs (a stopped one too) and reaps it.
    func kill() {
        guard isRunning else { return }
        Glibc.kill(pid, SIGKILL)
        for _ in 0 ..< 500 where isRunning { usleep(10_000) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The `basalt` executable under test: `BASALT_BIN`, else the one built beside this test bundle.
enum BasaltBinary {
    static var path: String {
        if let env = ProcessInfo.processInfo.environment["BASALT_BIN"], !env.isEmpty { return env }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("basalt").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "basalt-not-found (set BASALT_BIN or build the basalt product)"
    }

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}

/// A scratch directory removed when released.
final class ScratchDirectory: Sendable {
    let path: String

    init(_ name: String) {
        path = NSTemporaryDirectory() + "basalt-client-\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// One `basalt cql-standalone` on `host:9042` with its own data directory. Call ``stop()`` in a
/// `defer`; ``restart()`` starts it again on the same data.
final class StandaloneNode: @unchecked Sendable {
    // @unchecked: `process` is guarded by `lock`.
    let host: String
    let directory: ScratchDirectory
    let extraArguments: [String]
    private let lock = NSLock()
    private var process: SpawnedProcess?

    init(host: String, extraArguments: [String] = []) throws {
        self.host = host
        directory = ScratchDirectory("standalone-\(host)")
        self.extraArguments = extraArguments
        try start()
    }

    var logPath: String { directory.path + "/node.log" }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func start() throws {
        let p = try SpawnedProcess(BasaltBinary.path, ["cql-standalone", "--address", host, "--data-dir", directory.path + "/data",
                                                       "--log-level", "warning"] + extraArguments, outputPath: logPath)
        lock.withLock { process = p }
    }

    /// SIGKILL, like a crash.
    func stop() { lock.withLock { process }?.kill() }

    func signal(_ sig: Int32) { lock.withLock { process }?.signal(sig) }

    /// A session to this node once it serves CQL (bounded wait).
    func session(_ configure: (inout SessionConfiguration) -> Void = { _ in }) async throws -> Session {
        var config = SessionConfiguration(contactPoints: [host])
        config.connectTimeout = .seconds(2)
        configure(&config)
        return try await connectWhenReady(config, log: { self.log })
    }
}

/// Connects once the server answers (it may still be starting); bounded at 30 s.
func connectWhenReady(_ config: SessionConfiguration, log: () -> String = { "" }) async throws -> Session {
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(30)
    var last: ClientError?
    while clock.now < deadline {
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
