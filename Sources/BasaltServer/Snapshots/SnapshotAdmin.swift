import BasaltCore
import BasaltCQL
import BasaltStorage
import Foundation

/// The snapshot routes of the admin endpoint (`basalt admin snapshot|listsnapshots|clearsnapshot`):
///
/// | request | does |
/// | --- | --- |
/// | `POST /snapshot?tag=T&keyspace=K` | flushes, then hard-links every table's (K's) live SSTables under `<table dir>/snapshots/T/` with `schema.cql`; the tag defaults to the time in milliseconds |
/// | `GET /snapshots?format=text\|json` | every snapshot: tag, keyspace, table, size on disk, true size |
/// | `POST /clearsnapshot?tag=T&keyspace=K` | deletes the snapshots named T (all without a tag) |
///
/// Errors: 400 for a bad tag, an unknown keyspace or a tag in use, 503 before storage is open.
public final class SnapshotComponent: NodeComponent, @unchecked Sendable {
    // @unchecked: `clock` is written once in `prepare`, before the admin endpoint starts, under `lock`.
    public let name = "snapshots"
    public let stage = NodeComponentStage.service
    let storage: StorageComponent
    let schema: @Sendable () -> Schema?
    private let lock = Lock()
    private var clock: (any Clock)?

    init(storage: StorageComponent, schema: @escaping @Sendable () -> Schema?) {
        self.storage = storage
        self.schema = schema
    }

    public func prepare(_ context: NodeContext) throws {
        lock.withLock { clock = context.clock }
        context.admin.register("POST", "/snapshot") { [self] request in await take(request) }
        context.admin.register("GET", "/snapshots") { [self] request in list(request) }
        context.admin.register("POST", "/clearsnapshot") { [self] request in clear(request) }
    }

    public func start(_ context: NodeContext) async throws {}
    public func stop() async {}

    private var engine: StorageEngine? { storage.openEngine }

    /// The statements a restore needs to recreate the table: CREATE TABLE, then its indexes.
    static func schemaText(_ table: TableSchema, _ schema: Schema?) -> String {
        var text = SchemaDescriber.createTable(table) + ";\n"
        if let keyspace = schema?.keyspace(table.keyspace) {
            for index in keyspace.indexes(on: table.name) { text += SchemaDescriber.createIndex(index) + ";\n" }
        }
        return text
    }

    func take(_ request: HTTPRequest) async -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        let keyspace = request.queryValue("keyspace").flatMap { $0.isEmpty ? nil : $0 }
        let now = lock.withLock { clock }?.now().micros ?? 0
        let tag = request.queryValue("tag").flatMap { $0.isEmpty ? nil : $0 } ?? String(now / 1000)
        let schema = self.schema()
        if let keyspace, schema?.keyspace(keyspace) == nil {
            return .error(400, "keyspace \(keyspace) does not exist")
        }
        let result: Result<[SnapshotEntry], Error> = await Self.offLoop {
            Result { try engine.snapshot(tag: tag, keyspace: keyspace) { Self.schemaText($0, schema) } }
        }
        switch result {
        case let .success(entries):
            return Self.render(entries, format: request.queryValue("format"), header: "Snapshot \(tag): \(entries.count) table(s)\n")
        case let .failure(StorageError.invalid(why)):
            return .error(400, why)
        case let .failure(error):
            return .error(500, "snapshot failed: \(error)")
        }
    }

    func list(_ request: HTTPRequest) -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        do {
            let entries = try engine.listSnapshots()
            return Self.render(entries, format: request.queryValue("format"),
                               header: entries.isEmpty ? "There are no snapshots\n" : "Snapshot Details:\n")
        } catch {
            return .error(500, "cannot list snapshots: \(error)")
        }
    }

    func clear(_ request: HTTPRequest) -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        let tag = request.queryValue("tag").flatMap { $0.isEmpty ? nil : $0 }
        let keyspace = request.queryValue("keyspace").flatMap { $0.isEmpty ? nil : $0 }
        do {
            let cleared = try engine.clearSnapshots(tag: tag, keyspace: keyspace)
            return Self.render(cleared, format: request.queryValue("format"), header: "Cleared \(cleared.count) snapshot(s)\n")
        } catch let StorageError.invalid(why) {
            return .error(400, why)
        } catch {
            return .error(500, "cannot clear snapshots: \(error)")
        }
    }

    /// Text like `nodetool listsnapshots` (one line per table snapshot), or a JSON array.
    static func render(_ entries: [SnapshotEntry], format: String?, header: String) -> HTTPResponse {
        .report(entries, format: format) { entries in
            var text = header
            if !entries.isEmpty {
                text += "Snapshot name  Keyspace name  Column family name  True size  Size on disk\n"
                for e in entries {
                    text += "\(e.tag)  \(e.keyspace)  \(e.table)  \(bytes(e.trueSizeBytes))  \(bytes(e.sizeOnDiskBytes))\n"
                }
                text += "\nTotal TrueDiskSpaceUsed: \(bytes(entries.reduce(0) { $0 + $1.trueSizeBytes }))\n"
            }
            return text
        }
    }

    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) bytes" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var v = Double(n) / 1024
        var u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return String(format: "%.2f", v) + " " + units[u]
    }

    /// Runs blocking work (flushes, file system calls) on a thread of its own, not the task pool's.
    static func offLoop<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: work()) }
        }
    }
}
