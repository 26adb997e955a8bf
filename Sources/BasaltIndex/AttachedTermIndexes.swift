import BasaltCluster
import BasaltCore
import BasaltStorage
import BasaltVector
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The node's storage-attached term indexes (every index that is not on a vector), one
/// ``TableTermIndex`` per index definition, kept in step with the storage engine by
/// ``AttachedIndexRegistry``, which forwards the engine's ``AttachedIndexes`` events here.
///
/// Files: each SSTable's segment is `bs-<generation>-TermIndex-<index>.db` beside it, written
/// before the SSTable is served (built from the SSTable's data, so it is exact for it). At
/// start-up a segment is read back from its file; a missing one is built, a damaged one is moved
/// to `quarantine/` and rebuilt.
public final class AttachedTermIndexes: @unchecked Sendable {
    // @unchecked: `tables`, `engine` and `stats` are guarded by `lock`.
    private let lock = Lock()
    private var tables: [UUIDValue: [TableTermIndex]] = [:]
    private weak var engine: StorageEngine?
    private var stats = TermIndexCounters()
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func attach(_ engine: StorageEngine) { lock.withLock { self.engine = engine } }
    var attachedEngine: StorageEngine? { lock.withLock { engine } }

    public var counters: TermIndexCounters { lock.withLock { stats } }

    func indexes(_ table: UUIDValue) -> [TableTermIndex] { lock.withLock { tables[table] ?? [] } }

    func index(_ table: UUIDValue, named name: String) -> TableTermIndex? {
        indexes(table).first { $0.definition.name == name }
    }

    /// Sets the term indexes of a table. New ones on a table the engine holds are built in the
    /// background (`.building` until then); removed ones are forgotten and their files deleted.
    func define(table: UUIDValue, indexes definitions: [TermIndexDefinition]) {
        let (engine, existing) = lock.withLock { (self.engine, tables[table] ?? []) }
        let kept = existing.filter { definitions.contains($0.definition) }
        let removed = existing.filter { !definitions.contains($0.definition) }
        lock.withLock { tables[table] = kept }
        var fresh: [TableTermIndex] = []
        for d in definitions where !kept.contains(where: { $0.definition == d }) {
            // Registered while writes are paused: later writes reach it; an empty table's index is
            // complete at once, one with data is built from it in the background.
            let registered = engine.flatMap { e in
                try? e.withWritesPaused(tableId: table) { _, holdsData in
                    let index = TableTermIndex(d, building: holdsData)
                    lock.withLock { tables[table, default: []].append(index) }
                    return index
                }
            }
            if let registered {
                fresh.append(registered)
            } else {
                let index = TableTermIndex(d, building: false)
                lock.withLock { tables[table, default: []].append(index) }
            }
        }
        guard let engine else { return }
        for r in removed {
            for s in (try? engine.attachedIndexSources(tableId: table)) ?? [] {
                unlink(r.definition.segmentPath(directory: s.directory, generation: s.generation))
            }
        }
        for index in fresh where index.isBuilding { startBuild(index, table: table, engine: engine) }
    }

    private func startBuild(_ index: TableTermIndex, table: UUIDValue, engine: StorageEngine) {
        index.buildInBackground(table: table, engine: engine, logger: logger) { [self] origin in lock.withLock { stats.count(origin) } }
    }

    // MARK: engine events

    func didWrite(table: UUIDValue, memtable: Int, partitionKey: [UInt8], update: PartitionUpdate) {
        for index in indexes(table) {
            let n = index.apply(memtable: memtable, partitionKey: partitionKey, update: update)
            if n > 0 { lock.withLock { stats.termsIndexed += n } }
        }
    }

    func willPublish(table: UUIDValue, sstable: SSTableContents, origin: SSTableOrigin) {
        for index in indexes(table) {
            do {
                let served = try index.serveSegment(of: sstable, mayLoad: origin.mayLoadSegments, logger: logger)
                lock.withLock { stats.count(served) }
            } catch {
                // The SSTable is served regardless; its rows stay readable, and the index is
                // rebuilt from it at the next start.
                logger.error("could not index SSTable", metadata: ["index": "\(index.definition.name)", "sstable": "\(sstable.generation)", "error": "\(error)"])
            }
        }
    }

    func didRemove(table: UUIDValue, sstables: [Int], memtables: [Int], directory: String?) {
        for index in indexes(table) {
            index.remove(sstables: sstables, memtables: memtables)
            if let directory {
                for g in sstables { unlink(index.definition.segmentPath(directory: directory, generation: g)) }
            }
        }
    }

    func didClear(table: UUIDValue, dropped: Bool) {
        for index in indexes(table) { index.clear() }
        if dropped { _ = lock.withLock { tables.removeValue(forKey: table) } }
    }

    func countQuery() { lock.withLock { stats.queries += 1 } }
}

/// What the term indexes did since start.
public struct TermIndexCounters: Hashable, Sendable, SegmentCounting {
    public var termsIndexed = 0
    public var segmentsLoaded = 0
    public var segmentsBuilt = 0
    public var segmentsQuarantined = 0
    public var queries = 0
}

/// Why a term index query cannot be answered.
public enum TermIndexError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownIndex(String)
    case building(String)

    public var description: String {
        switch self {
        case let .unknownIndex(n): "no index \(n) on this node"
        case let .building(n): "The secondary index '\(n)' is not yet available as it is still being built"
        }
    }
}
