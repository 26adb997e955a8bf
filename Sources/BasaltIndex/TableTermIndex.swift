import BasaltCluster
import BasaltCore
import BasaltStorage

/// One term index of one table on this node: a ``MemtableTermSegment`` per memtable that
/// received writes since the index existed, and an ``SSTableTermSegment`` per live SSTable.
final class TableTermIndex: @unchecked Sendable {
    // @unchecked: the dictionaries and `building` are guarded by `lock`; segments synchronise themselves.
    let definition: TermIndexDefinition
    private let lock = Lock()
    private var memtables: [Int: MemtableTermSegment] = [:]
    private var sstables: [Int: SSTableTermSegment] = [:]
    private var building: Bool

    init(_ definition: TermIndexDefinition, building: Bool) {
        self.definition = definition
        self.building = building
    }

    var isBuilding: Bool { lock.withLock { building } }
    func finishBuilding() { lock.withLock { building = false } }

    func hasSSTable(_ generation: Int) -> Bool { lock.withLock { sstables[generation] != nil } }

    func publish(_ generation: Int, _ segment: SSTableTermSegment) { lock.withLock { sstables[generation] = segment } }

    func remove(sstables gens: [Int], memtables ids: [Int]) {
        lock.withLock {
            for g in gens { sstables.removeValue(forKey: g) }
            for m in ids { memtables.removeValue(forKey: m) }
        }
    }

    func clear() {
        lock.withLock {
            memtables = [:]
            sstables = [:]
        }
    }

    var memtableSegments: [MemtableTermSegment] { lock.withLock { Array(memtables.values) } }
    var sstableSegments: [SSTableTermSegment] { lock.withLock { Array(sstables.values) } }
    var sstableGenerations: [Int] { lock.withLock { Array(sstables.keys) } }

    /// Applies one write to memtable `memtable`'s segment: every term the write holds is added
    /// for its row (or partition). Deletions add nothing and remove nothing (see
    /// ``MemtableTermSegment``). Returns the number of terms added.
    func apply(memtable: Int, partitionKey: [UInt8], update: PartitionUpdate) -> Int {
        let d = definition
        var added: [(RowKey, [[UInt8]])] = []
        let components = d.components(partitionKey)
        switch d.column.kind {
        case .partitionKey:
            let content = (update.staticRow.map { !$0.cells.isEmpty } ?? false) || update.rows.contains { $0.liveness != nil || !$0.cells.isEmpty }
            if content { added.append((RowKey(partitionKey: partitionKey, clustering: []), d.terms(components: components, clustering: [], cells: [Cell]()))) }
        case .static:
            if let s = update.staticRow {
                added.append((RowKey(partitionKey: partitionKey, clustering: []), d.terms(components: nil, clustering: [], cells: s.cells)))
            }
        case .clustering, .regular:
            for row in update.rows where row.liveness != nil || !row.cells.isEmpty {
                added.append((RowKey(partitionKey: partitionKey, clustering: row.clustering), d.terms(components: nil, clustering: row.clustering, cells: row.cells)))
            }
        }
        var count = 0
        var segment: MemtableTermSegment?
        for (key, terms) in added where !terms.isEmpty {
            if segment == nil { segment = memtableSegment(memtable) }
            for t in terms { segment?.add(t, key) }
            count += terms.count
        }
        return count
    }

    private func memtableSegment(_ id: Int) -> MemtableTermSegment {
        lock.withLock {
            if let s = memtables[id] { return s }
            let s = MemtableTermSegment()
            memtables[id] = s
            return s
        }
    }

    /// Builds the segment of an SSTable from its data: the terms of every live cell (or key
    /// component) of every row, in the SSTable's order.
    func build(from sstable: SSTableContents) throws -> SSTableTermSegment {
        let d = definition
        var rows: [(RowKey, [[UInt8]])] = []
        try sstable.forEachPartition { key, partition in
            let partitionDeletedAt = partition.partitionDeletion?.markedForDeleteAt ?? .min
            func liveCells(_ row: Row) -> [Cell] {
                let deletedAt = max(partitionDeletedAt, row.deletion?.markedForDeleteAt ?? .min)
                return row.cells.filter { c in
                    c.column == d.column.name && !c.isTombstone && c.timestamp > deletedAt
                        && !row.complexDeletions.contains { $0.column == c.column && $0.deletion.markedForDeleteAt >= c.timestamp }
                }
            }
            func rowIsLive(_ row: Row) -> Bool {
                let deletedAt = max(partitionDeletedAt, row.deletion?.markedForDeleteAt ?? .min)
                return (row.liveness.map { $0.timestamp > deletedAt } ?? false) || row.cells.contains { !$0.isTombstone && $0.timestamp > deletedAt }
            }
            switch d.column.kind {
            case .partitionKey:
                let live = (partition.staticRow.map(rowIsLive) ?? false) || partition.rows.contains(where: rowIsLive)
                if live { rows.append((RowKey(partitionKey: key, clustering: []), d.terms(components: d.components(key), clustering: [], cells: [Cell]()))) }
            case .static:
                if let s = partition.staticRow {
                    rows.append((RowKey(partitionKey: key, clustering: []), d.terms(components: nil, clustering: [], cells: liveCells(s))))
                }
            case .clustering:
                for row in partition.rows where rowIsLive(row) {
                    rows.append((RowKey(partitionKey: key, clustering: row.clustering), d.terms(components: nil, clustering: row.clustering, cells: [Cell]())))
                }
            case .regular:
                for row in partition.rows {
                    let cells = liveCells(row)
                    if !cells.isEmpty { rows.append((RowKey(partitionKey: key, clustering: row.clustering), d.terms(components: nil, clustering: row.clustering, cells: cells))) }
                }
            }
        }
        return SSTableTermSegment.build(rows, d)
    }

    // MARK: queries

    /// How many keys `span` matches in all segments (counting a row once per segment).
    func estimate(_ span: TermSpan) -> Int {
        memtableSegments.reduce(0) { $0 + $1.estimate(span, definition) } + sstableSegments.reduce(0) { $0 + $1.estimate(span, definition) }
    }

    /// Up to `limit` keys matching `span` in any segment, after `after`, within `ranges`, in
    /// ring order, each once.
    func keys(_ span: TermSpan, ranges: [TokenRange], after: ScanPosition?, limit: Int, order: IndexKeyOrder) -> [RowKey] {
        var all: [(ScanPosition, RowKey)] = []
        var seen = Set<RowKey>()
        func add(_ keys: [RowKey]) {
            for k in keys where seen.insert(k).inserted {
                all.append((ScanPosition(token: Murmur3.token(k.partitionKey), partitionKey: k.partitionKey, clustering: k.clustering), k))
            }
        }
        // Each segment's first `limit` keys: the first `limit` of their union are among them.
        for s in memtableSegments { add(s.keys(span, definition, ranges: ranges, after: after, limit: limit, order: order)) }
        for s in sstableSegments { add(s.keys(span, definition, ranges: ranges, after: after, limit: limit, order: order)) }
        all.sort { order.compare($0.0, $1.0) < 0 }
        return all.prefix(limit).map(\.1)
    }

    /// Every key matching `span` in any segment (for filtering vector searches).
    func allKeys(_ span: TermSpan) -> Set<RowKey> {
        var out = Set<RowKey>()
        for s in memtableSegments { out.formUnion(s.matching(span, definition)) }
        for s in sstableSegments { out.formUnion(s.matching(span, definition)) }
        return out
    }
}

extension TableTermIndex: SSTableSegmentIndex {
    static var kind: String { "term" }
    var name: String { definition.name }

    func segmentPath(directory: String, generation: Int) -> String {
        definition.segmentPath(directory: directory, generation: generation)
    }

    func readSegment(from path: String) throws -> SSTableTermSegment { try SSTableTermSegment.read(from: path, definition: definition) }

    func writeSegment(_ segment: SSTableTermSegment, to path: String) throws { try segment.write(to: path, definition: definition) }
}
