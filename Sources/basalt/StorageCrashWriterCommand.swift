import ArgumentParser
import BasaltCore
import BasaltStorage
import Foundation
import Logging

/// `basalt storage-crash-writer`: a process for the storage crash test. It opens a data directory
/// (replaying its commit log), then writes keys from several threads in `group` sync mode and
/// prints `ack <key>` for each write the engine acknowledged, until killed.
struct StorageCrashWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage-crash-writer",
        abstract: "Write acknowledged keys until killed (for the storage crash test).",
        shouldDisplay: false
    )

    @Option(help: "Data directory.")
    var dir: String

    @Option(help: "Prefix of the keys this run writes.")
    var prefix: String

    @Option(help: "Concurrent writers.")
    var writers: Int = 4

    @Option(help: "Stop after this many writes per writer.")
    var count: Int = 1_000_000

    /// The table the crash test uses: `crash.kv (key blob PRIMARY KEY, value blob)`.
    static let schema = TableSchema(keyspace: "crash", name: "kv", id: UUIDValue(msb: 0xC0FFEE, lsb: 1), columns: [
        ColumnDefinition(name: "key", type: .blob, kind: .partitionKey, position: 0),
        ColumnDefinition(name: "value", type: .blob, kind: .regular),
    ])

    func run() throws {
        var logger = Logger(label: "basalt.crash-writer")
        logger.logLevel = .warning
        var config = StorageConfig()
        config.commitLogSync = .group(windowNanos: 500_000)
        config.memtableSizeLimitBytes = 256 << 10
        config.commitLogSegmentBytes = 256 << 10
        let (engine, report) = try StorageEngine.open(directory: dir, config: config, tables: [Self.schema], logger: logger)
        print("replayed \(report.replayed) torn \(report.tornTails.count)")
        fflush(nil)
        let out = Lock()
        let group = DispatchGroup()
        for w in 0 ..< writers {
            group.enter()
            Thread.detachNewThread { [prefix, count] in
                defer { group.leave() }
                for i in 0 ..< count {
                    let key = Array("\(prefix)-\(w)-\(i)".utf8)
                    let m = Mutation(schema: Self.schema, partitionKey: key, update: PartitionUpdate(rows: [
                        Row(clustering: [], liveness: LivenessInfo(timestamp: Int64(i + 1)), cells: [.live(column: "value", timestamp: Int64(i + 1), value: key + key)]),
                    ]))
                    do { try engine.apply(m) } catch {
                        FileHandle.standardError.write(Data("write failed: \(error)\n".utf8))
                        return
                    }
                    out.withLock {
                        print("ack \(prefix)-\(w)-\(i)")
                        fflush(nil)
                    }
                }
            }
        }
        group.wait()
        engine.close()
    }
}
