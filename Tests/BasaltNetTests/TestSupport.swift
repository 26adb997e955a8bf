import BasaltCore
import BasaltNet
import Logging
import Testing

/// A value several threads write and a test reads, guarded by a lock.
final class Shared<Value>: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = Lock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func with<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
    var current: Value { lock.withLock { value } }
}

struct WaitTimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` until it holds; the generous timeout only bounds a hang.
func eventually(
    _ what: String, timeout: Duration = .seconds(20), _ condition: () -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while !condition() {
        if clock.now > deadline { throw WaitTimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(2))
    }
}

/// Runs `body` with a fresh loop, shut down afterwards even if `body` throws.
func withEventLoop<R>(_ body: (EventLoop) async throws -> R) async throws -> R {
    let loop = EventLoop(name: "test-loop")
    do {
        let result = try await body(loop)
        await loop.shutdownGracefully()
        return result
    } catch {
        await loop.shutdownGracefully()
        throw error
    }
}

/// Addresses from this suite's block, 127.0.1.1–127.0.1.254.
enum TestAddress {
    static func host(_ n: Int) -> String { "127.0.1.\(n)" }
    static func any(_ n: Int) throws -> SocketAddress { try SocketAddress(host: host(n), port: 0) }
}

/// Log lines captured in memory, so tests can check what was logged and with which metadata.
final class CapturedLogs: @unchecked Sendable {
    // @unchecked: `lines` is guarded by `lock`.
    struct Line {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]

        var rendered: String {
            "\(level) \(message) " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
    }

    private let lock = Lock()
    private var lines: [Line] = []

    func append(_ line: Line) { lock.withLock { lines.append(line) } }
    var all: [Line] { lock.withLock { lines } }

    func logger(label: String = "test") -> Logger {
        Logger(label: label) { _ in CapturingLogHandler(sink: self) }
    }
}

struct CapturingLogHandler: LogHandler {
    let sink: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        sink.append(.init(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
    }
}
