import BasaltCore
@testable import BasaltStorage
import Foundation
import Testing

/// A writer process acknowledging writes in `group` commit mode is killed with SIGKILL at random
/// moments and restarted; afterwards every acknowledged write is present and every SSTable
/// verifies. The writer is the real `basalt` binary (`BASALT_BIN`, else the scratch build's).
@Suite("Storage crash safety", .serialized)
struct CrashTests {
    static var binary: String? {
        if let b = ProcessInfo.processInfo.environment["BASALT_BIN"], FileManager.default.isExecutableFile(atPath: b) { return b }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for scratch in [".build-storage", ".build"] {
            let p = root.appendingPathComponent("\(scratch)/debug/basalt").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// The crash writer's table, as `basalt storage-crash-writer` defines it.
    static let schema = TableSchema(keyspace: "crash", name: "kv", id: UUIDValue(msb: 0xC0FFEE, lsb: 1), columns: [
        ColumnDefinition(name: "key", type: .blob, kind: .partitionKey, position: 0),
        ColumnDefinition(name: "value", type: .blob, kind: .regular),
    ])

    /// Runs the writer until it has acknowledged at least `minAcks` writes (or `maxSeconds` pass)
    /// plus a random extra delay, then SIGKILLs it. Returns the acknowledged keys.
    static func runAndKill(binary: String, dir: String, prefix: String, minAcks: Int, extraMillis: Int, maxSeconds: Double) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["storage-crash-writer", "--dir", dir, "--prefix", prefix]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        let collector = AckCollector()
        let reader = out.fileHandleForReading
        reader.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { collector.feed(d) }
        }
        let start = Date()
        while Date().timeIntervalSince(start) < maxSeconds {
            if collector.count >= minAcks || !p.isRunning { break }
            usleep(5_000)
        }
        usleep(UInt32(extraMillis * 1000))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        reader.readabilityHandler = nil
        // Everything the process printed before it died is still in the pipe.
        collector.feed(reader.readDataToEndOfFile())
        return collector.finish()
    }

    @Test func acknowledgedWritesSurviveSIGKILL() throws {
        let binary = try #require(Self.binary, "build the basalt executable or set BASALT_BIN")
        let dir = TemporaryDirectory("basalt-crash")
        defer { dir.remove() }
        var g = SplitMix64(seed: UInt64(Date().timeIntervalSince1970))
        var acked: [String] = []
        for round in 0 ..< 6 {
            let extra = Int.random(in: 0 ..< 300, using: &g)
            acked += try Self.runAndKill(binary: binary, dir: dir.path, prefix: "r\(round)", minAcks: 300 + round * 200, extraMillis: extra, maxSeconds: 60)
        }
        #expect(acked.count > 1000, "the writer acknowledged too few writes to mean anything")
        let (engine, report) = try StorageEngine.open(directory: dir.path, tables: [Self.schema], logger: .test)
        defer { engine.close() }
        #expect(report.undecodable == 0)
        let cmp = ClusteringComparator(Self.schema)
        var missing: [String] = []
        for k in acked {
            let key = Array(k.utf8)
            let r = try engine.read(ReadCommand(schema: Self.schema, partitionKey: key, nowSeconds: 0))
            if r.live(now: 0, cmp).rows.first?.cells.first?.value != key + key { missing.append(k) }
        }
        #expect(missing.count == 0, "\(missing.count) acknowledged writes lost, e.g. \(missing.prefix(5))")
        // Let background compactions settle so the files listed are the live ones.
        engine.waitForBackgroundWork()
        for path in try engine.sstablePaths(tableId: Self.schema.id) {
            let v = SSTableInspector.verify(path: path)
            #expect(v.isIntact, "\(v)")
        }
        #expect(engine.counters.quarantinedSSTables == 0)
    }
}

/// Collects `ack <key>` lines from the writer's output, from the pipe's reader thread.
final class AckCollector: @unchecked Sendable {
    // @unchecked: both fields are guarded by `lock`.
    private let lock = NSLock()
    private var acked: [String] = []
    private var partial = ""

    func feed(_ d: Data) {
        lock.lock()
        defer { lock.unlock() }
        partial += String(decoding: d, as: UTF8.self)
        var lines = partial.split(separator: "\n", omittingEmptySubsequences: false)
        partial = String(lines.removeLast())
        for l in lines where l.hasPrefix("ack ") { acked.append(String(l.dropFirst(4))) }
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return acked.count
    }

    /// The acknowledged keys; a partial last line (cut by the kill) is not an acknowledgement.
    func finish() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return acked
    }
}
