import BasaltTestSupport
import BasaltCore
import BasaltNet
import BasaltServer
import Foundation
import Testing

/// Addresses of this suite's block (127.0.2.1–254), split so parallel tests never share one:
/// .1–.5 the five-process cluster, .20–.29 in-process nodes, .30–.39 start-up failures,
/// .40 admin endpoint tests, .101–.103 the cluster/ scripts.
enum ServerTestAddress {
    static func host(_ n: Int) -> String { "127.0.2.\(n)" }
}

struct WaitTimedOut: Error, CustomStringConvertible {
    let what: String
    let last: String
    var description: String { "timed out waiting for \(what); last seen: \(last)" }
}

/// Polls `probe` every 250 ms until it returns nil (done) or `timeout` passes; `probe` returns what
/// is still missing, for the failure message. The timeout only bounds a hang: only a probe begun
/// after it can fail the wait. The test process runs hundreds of tests on two cores, and a wait
/// may resume long after its sleep ended; then it probes once more before giving up.
func waitUntil(_ what: String, timeout: Duration, _ probe: () async -> String?) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        let begun = clock.now
        guard let missing = await probe() else { return }
        if begun >= deadline { throw WaitTimedOut(what: what, last: missing) }
        try await Task.sleep(for: .milliseconds(250))
    }
}

/// Reads a node's admin endpoint.
final class AdminProbe: Sendable {
    let loop = EventLoop(name: "admin-probe")

    func get(_ host: String, _ path: String, port: UInt16 = 7199) async -> AdminClient.Response? {
        guard let address = try? SocketAddress(host: host, port: port) else { return nil }
        return try? await AdminClient.get(path, from: address, on: loop, timeout: .seconds(10))
    }

    func status(_ host: String, port: UInt16 = 7199) async -> StatusReport? {
        guard let r = await get(host, "/status?format=json", port: port), r.status == 200 else { return nil }
        return try? JSONDecoder().decode(StatusReport.self, from: Data(r.body))
    }

    func ring(_ host: String, port: UInt16 = 7199) async -> RingReport? {
        guard let r = await get(host, "/ring?format=json", port: port), r.status == 200 else { return nil }
        return try? JSONDecoder().decode(RingReport.self, from: Data(r.body))
    }

    func close() async { await loop.shutdownGracefully() }
}

/// `basalt server` processes started by a test; ``killAll()`` (call it in a `defer`) SIGKILLs every
/// one still running, so no test leaves a process behind, whatever happened.
final class ServerProcesses: @unchecked Sendable {
    // @unchecked: `running` is guarded by `lock`.
    private let lock = NSLock()
    private var running: [String: ChildProcess] = [:]
    let directory: TemporaryDirectory

    init(_ name: String) { directory = TemporaryDirectory(name) }

    func logPath(_ host: String) -> String { directory.path + "/\(host).log" }
    func dataPath(_ host: String) -> String { directory.path + "/data-\(host)" }

    /// Starts `basalt server` on `host` with the given seeds and extra flags; output goes to a log file.
    func start(_ host: String, seeds: String, extra: [String] = []) throws {
        let p = try ChildProcess(
            BasaltBinary.path,
            ["server", "--listen-address", host, "--seeds", seeds, "--data-dir", dataPath(host),
             "--cluster-name", "test-cluster", "--log-level", "info", "--log-file", logPath(host)] + extra,
            outputPath: logPath(host))
        lock.withLock { running[host] = p }
    }

    func signal(_ host: String, _ sig: Int32) {
        lock.withLock { running[host] }?.signal(sig)
    }

    /// SIGKILLs `host`'s process and reaps it.
    func kill9(_ host: String) {
        lock.withLock { running.removeValue(forKey: host) }?.killAndReap()
    }

    /// Waits (bounded) for `host`'s process to exit; its status, or nil if it did not exit.
    func waitForExit(_ host: String, timeout: Duration) async -> Int32? {
        guard let p = lock.withLock({ running[host] }) else { return nil }
        let status = await p.waitForExit(timeout: timeout)
        if status != nil { _ = lock.withLock { running.removeValue(forKey: host) } }
        return status
    }

    func log(_ host: String) -> String { (try? String(contentsOfFile: logPath(host), encoding: .utf8)) ?? "" }

    func killAll() {
        let all = lock.withLock {
            defer { running.removeAll() }
            return Array(running.values)
        }
        for p in all { p.killAndReap() }
    }
}
