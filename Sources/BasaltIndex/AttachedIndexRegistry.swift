import BasaltCluster
import BasaltCore
import BasaltStorage
import BasaltVector
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The node's storage-attached vector indexes, one ``TableVectorIndex`` per index definition,
/// kept in step with the storage engine through ``AttachedIndexes``.
///
/// Files: each SSTable's segment is `bs-<generation>-VectorIndex-<index>.db` beside it, written
/// before the SSTable is served. At start-up a segment is read back from its file (no rebuild);
/// a missing one is built from the SSTable's data, and a damaged one (checksum or structure) is
/// moved to `quarantine/` and rebuilt, so a bad index file never loses or invents rows.
public final class AttachedIndexRegistry: AttachedIndexes, @unchecked Sendable {
    // @unchecked: `tables`, `engine` and `stats` are guarded by `lock`.
    private let lock = Lock()
    private var tables: [UUIDValue: [TableVectorIndex]] = [:]
    private weak var engine: StorageEngine?
    private var stats = VectorIndexCounters()
    let logger: Logger
    /// The indexes on everything but vectors; engine events are forwarded to them.
    public let terms: AttachedTermIndexes

    public init(logger: Logger) {
        self.logger = logger
        terms = AttachedTermIndexes(logger: logger)
    }

    /// The engine whose data the indexes cover, used to build an index created on a table that
    /// already holds data.
    public func attach(_ engine: StorageEngine) {
        lock.withLock { self.engine = engine }
        terms.attach(engine)
    }

    /// Sets the term (non-vector) indexes of a table; see ``AttachedTermIndexes``.
    public func define(table: UUIDValue, termIndexes definitions: [TermIndexDefinition]) {
        terms.define(table: table, indexes: definitions)
    }

    public var counters: VectorIndexCounters { lock.withLock { stats } }

    private func indexes(_ table: UUIDValue) -> [TableVectorIndex] { lock.withLock { tables[table] ?? [] } }

    // MARK: definitions

    /// Sets the vector indexes of a table. New ones on a table that holds data are built in the
    /// background (``status(table:index:)`` says `.building` until then); removed ones are
    /// forgotten and their files deleted.
    public func define(table: UUIDValue, indexes definitions: [VectorIndexDefinition]) {
        let (engine, existing) = lock.withLock { (self.engine, tables[table] ?? []) }
        let kept = existing.filter { definitions.contains($0.definition) }
        let removed = existing.filter { !definitions.contains($0.definition) }
        let added = definitions.filter { d in !kept.contains { $0.definition == d } }
        lock.withLock { tables[table] = kept }
        var toBuild: [TableVectorIndex] = []
        for d in added {
            // Registered while writes are paused: every later write reaches the new index, and
            // everything earlier is in memtables or SSTables the build covers.
            let registered = engine.flatMap { e in
                try? e.withWritesPaused(tableId: table) { active, holdsData in
                    let index = TableVectorIndex(d, firstCompleteMemtable: holdsData ? active + 1 : active, building: holdsData)
                    lock.withLock { tables[table, default: []].append(index) }
                    return index
                }
            }
            if let registered {
                if registered.isBuilding { toBuild.append(registered) }
            } else {
                // Start-up (the table opens after this) or a table storage does not hold yet.
                let index = TableVectorIndex(d, firstCompleteMemtable: 0, building: false)
                lock.withLock { tables[table, default: []].append(index) }
            }
        }
        if let engine {
            for r in removed { deleteFiles(r.definition, engine: engine, table: table) }
            for index in toBuild { startBuild(index, table: table, engine: engine) }
        }
    }

    /// Whether an index answers queries yet.
    public enum Status: Hashable, Sendable {
        case ready
        case building
        case unknown
    }

    public func status(table: UUIDValue, index: String) -> Status {
        if let t = terms.index(table, named: index) { return t.isBuilding ? .building : .ready }
        guard let i = indexes(table).first(where: { $0.definition.name == index }) else { return .unknown }
        return i.isBuilding ? .building : .ready
    }

    private func startBuild(_ index: TableVectorIndex, table: UUIDValue, engine: StorageEngine) {
        index.buildInBackground(table: table, engine: engine, logger: logger) { [self] origin in lock.withLock { stats.count(origin) } }
    }

    // MARK: AttachedIndexes

    public func didWrite(table: UUIDValue, memtable: Int, partitionKey: [UInt8], update: PartitionUpdate) {
        terms.didWrite(table: table, memtable: memtable, partitionKey: partitionKey, update: update)
        for index in indexes(table) {
            let (indexed, refused) = index.apply(memtable: memtable, partitionKey: partitionKey, update: update)
            if indexed + refused > 0 {
                lock.withLock {
                    stats.vectorsIndexed += indexed
                    stats.vectorsRefused += refused
                }
            }
        }
    }

    public func willPublish(table: UUIDValue, sstable: SSTableContents, origin: SSTableOrigin) {
        terms.willPublish(table: table, sstable: sstable, origin: origin)
        for index in indexes(table) {
            do {
                if case let .flush(memtable) = origin, let segment = index.completeMemtableSegment(memtable) {
                    try index.writeSegment(segment, to: index.segmentPath(directory: sstable.directory, generation: sstable.generation))
                    index.publish(sstable.generation, segment)
                } else {
                    let served = try index.serveSegment(of: sstable, mayLoad: origin.mayLoadSegments, logger: logger)
                    lock.withLock { stats.count(served) }
                }
            } catch {
                // The SSTable is served regardless; its rows stay readable, and the index is
                // rebuilt from it at the next start.
                logger.error("could not index SSTable", metadata: ["index": "\(index.definition.name)", "sstable": "\(sstable.generation)", "error": "\(error)"])
            }
        }
    }

    public func didRemove(table: UUIDValue, sstables: [Int], memtables: [Int]) {
        for index in indexes(table) {
            index.remove(sstables: sstables, memtables: memtables)
        }
        let directory = sstables.isEmpty ? nil : lock.withLock({ self.engine }).flatMap { try? $0.tableDirectory(tableId: table) }
        terms.didRemove(table: table, sstables: sstables, memtables: memtables, directory: directory)
        guard let directory else { return }
        for index in indexes(table) {
            for g in sstables { unlink(index.definition.segmentPath(directory: directory, generation: g)) }
        }
    }

    public func didClear(table: UUIDValue, dropped: Bool) {
        terms.didClear(table: table, dropped: dropped)
        for index in indexes(table) { index.clear() }
        if dropped { _ = lock.withLock { tables.removeValue(forKey: table) } }
    }

    // MARK: segments

    private func deleteFiles(_ d: VectorIndexDefinition, engine: StorageEngine, table: UUIDValue) {
        for s in (try? engine.attachedIndexSources(tableId: table)) ?? [] {
            unlink(d.segmentPath(directory: s.directory, generation: s.generation))
        }
    }

    // MARK: queries

    /// The rows nearest to `query` by the index, closest first, each once with its distance (the
    /// best over segments; up to `k` from each segment, so possibly more than `k` in all;
    /// the caller cuts). Rows come from every memtable and SSTable segment, so an overwritten
    /// or deleted row may appear: the caller reads each row's current version, drops rows that
    /// no longer match and re-scores the rest from their current vector.
    public func nearest(table: UUIDValue, index name: String, query: [Float], k: Int, ef: Int? = nil,
                        accepts: (@Sendable (Token) -> Bool)? = nil, acceptsKey: (@Sendable (RowKey) -> Bool)? = nil,
                        exact: Bool = false) throws(VectorIndexError) -> [(key: RowKey, distance: Float)] {
        guard let index = indexes(table).first(where: { $0.definition.name == name }) else { throw .unknownIndex(name) }
        if index.isBuilding { throw .building(name) }
        var best: [RowKey: Float] = [:]
        for segment in index.segments {
            let found: [(RowKey, Float)]
            do { found = try segment.search(query, k: k, ef: ef, accepts: accepts, acceptsKey: acceptsKey, exact: exact) } catch { throw .invalidQuery(error) }
            for (key, d) in found where d < best[key] ?? .infinity { best[key] = d }
        }
        lock.withLock { stats.searches += 1 }
        return best.sorted { $0.value < $1.value }.map { (key: $0.key, distance: $0.value) }
    }

    /// The definition of a table's index.
    public func definition(table: UUIDValue, index: String) -> VectorIndexDefinition? {
        indexes(table).first { $0.definition.name == index }?.definition
    }
}

extension AttachedIndexRegistry: LocalVectorSearch {
    /// Search depth for a replica's answer: at least 100 and 4·k. Below 100, which graph a
    /// replica happens to have built (the order its writes arrived in) moves recall@10 by a few
    /// tenths of a percent; at 100 recall is near 0.999 on every build, for a search that costs a
    /// small part of a CQL query (docs/vector.md).
    static func searchDepth(k: Int) -> Int { max(replicaSearchDepth, 4 * k) }
    static let replicaSearchDepth = 100

    /// Restricted searches compare the query with every acceptable vector when the most
    /// selective restriction matches at most this many rows.
    static let exactSearchBelow = 4096

    public func nearestRows(_ command: NearestRowsCommand) throws -> [NearestRow] {
        let ranges = command.ranges
        let accepts: (@Sendable (Token) -> Bool)? = ranges.isEmpty ? nil : { @Sendable t in ranges.contains { $0.contains(t) } }
        var acceptsKey: (@Sendable (RowKey) -> Bool)?
        var exact = false
        if !command.restrictions.isEmpty {
            let (filter, fewest) = try keyFilter(command.restrictions, table: command.tableId)
            if fewest == 0 { return [] }
            acceptsKey = filter
            exact = fewest <= Self.exactSearchBelow
        }
        return try nearest(table: command.tableId, index: command.index, query: command.vector, k: command.k,
                           ef: Self.searchDepth(k: command.k), accepts: accepts, acceptsKey: acceptsKey, exact: exact)
            .prefix(command.k)
            .map { NearestRow(partitionKey: $0.key.partitionKey, clustering: $0.key.clustering, distance: $0.distance) }
    }
}

/// Why an index query cannot be answered.
public enum VectorIndexError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownIndex(String)
    case building(String)
    case invalidQuery(VectorError)

    public var description: String {
        switch self {
        case let .unknownIndex(n): "no vector index \(n) on this node"
        case let .building(n): "The secondary index '\(n)' is not yet available as it is still being built"
        case let .invalidQuery(e): "\(e)"
        }
    }
}

/// What the vector indexes did since start.
public struct VectorIndexCounters: Hashable, Sendable, SegmentCounting {
    public var vectorsIndexed = 0
    public var vectorsRefused = 0
    public var segmentsLoaded = 0
    public var segmentsBuilt = 0
    public var segmentsQuarantined = 0
    public var searches = 0
}

