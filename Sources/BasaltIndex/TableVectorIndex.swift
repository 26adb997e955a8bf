import BasaltCore
import BasaltStorage
import BasaltVector

/// One vector index of one table on this node: a ``VectorSegment`` per memtable that received
/// writes since the index existed, and one per live SSTable.
final class TableVectorIndex: @unchecked Sendable {
    // @unchecked: the dictionaries and `state` are guarded by `lock`; segments synchronise themselves.
    let definition: VectorIndexDefinition
    private let lock = Lock()
    private var memtables: [Int: VectorSegment] = [:]
    private var sstables: [Int: VectorSegment] = [:]
    /// Memtables with a lower id received writes before the index existed: their segments miss
    /// rows, so their SSTables are indexed from the SSTable's data instead.
    let firstCompleteMemtable: Int
    private var building: Bool

    init(_ definition: VectorIndexDefinition, firstCompleteMemtable: Int, building: Bool) {
        self.definition = definition
        self.firstCompleteMemtable = firstCompleteMemtable
        self.building = building
    }

    var isBuilding: Bool { lock.withLock { building } }
    func finishBuilding() { lock.withLock { building = false } }

    /// The segment of memtable `id`, created on its first write.
    func memtableSegment(_ id: Int) -> VectorSegment {
        lock.withLock {
            if let s = memtables[id] { return s }
            let s = VectorSegment(definition, mutable: true)
            memtables[id] = s
            return s
        }
    }

    /// The segment of memtable `id` when it holds every row the memtable holds.
    func completeMemtableSegment(_ id: Int) -> VectorSegment? {
        guard id >= firstCompleteMemtable else { return nil }
        return lock.withLock { memtables[id] }
    }

    func hasSSTable(_ generation: Int) -> Bool { lock.withLock { sstables[generation] != nil } }

    func publish(_ generation: Int, _ segment: VectorSegment) { lock.withLock { sstables[generation] = segment } }

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

    /// Every segment currently searched.
    var segments: [VectorSegment] { lock.withLock { Array(memtables.values) + Array(sstables.values) } }

    /// Applies one write to memtable `memtable`'s segment: a live vector cell is indexed, a deleted
    /// or nulled vector, a deleted row or partition is forgotten.
    func apply(memtable: Int, partitionKey: [UInt8], update: PartitionUpdate) -> (indexed: Int, refused: Int) {
        let column = definition.column
        var touched = update.partitionDeletion != nil
        if !touched {
            touched = update.rows.contains { r in r.deletion != nil || r.cells.contains { $0.column == column } }
        }
        guard touched else { return (0, 0) }
        let segment = memtableSegment(memtable)
        if update.partitionDeletion != nil { segment.removePartition(partitionKey) }
        var indexed = 0, refused = 0
        for row in update.rows {
            let key = RowKey(partitionKey: partitionKey, clustering: row.clustering)
            if row.deletion != nil { segment.remove(key) }
            guard let cell = row.cells.first(where: { $0.column == column }) else { continue }
            guard !cell.isTombstone, let vector = decode(cell.value) else {
                segment.remove(key)
                continue
            }
            do {
                try segment.put(key, vector)
                indexed += 1
            } catch {
                // The CQL layer refuses such values before writing; anything that still arrives
                // (from an older peer, say) stays readable but unindexed.
                segment.remove(key)
                refused += 1
            }
        }
        return (indexed, refused)
    }

    /// Builds the segment of an SSTable from its data: every row whose vector cell is live in it.
    func build(from sstable: SSTableContents) throws -> VectorSegment {
        let segment = VectorSegment(definition, mutable: false, capacity: max(16, sstable.partitionCountBound))
        let column = definition.column
        try sstable.forEachPartition { key, partition in
            let partitionDeletedAt = partition.partitionDeletion?.markedForDeleteAt ?? .min
            for row in partition.rows {
                guard let cell = row.cells.first(where: { $0.column == column }), !cell.isTombstone,
                      cell.timestamp > max(partitionDeletedAt, row.deletion?.markedForDeleteAt ?? .min),
                      let vector = decode(cell.value)
                else { continue }
                try? segment.put(RowKey(partitionKey: key, clustering: row.clustering), vector)
            }
        }
        return segment
    }

    /// A vector cell's value: `dimension` big-endian float32, or nil when it has another length.
    func decode(_ bytes: [UInt8]) -> [Float]? {
        guard bytes.count == definition.dimension * 4 else { return nil }
        return bytes.withUnsafeBytes { raw in
            (0 ..< definition.dimension).map { Float(bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

extension TableVectorIndex: SSTableSegmentIndex {
    static var kind: String { "vector" }
    var name: String { definition.name }
    var sstableGenerations: [Int] { lock.withLock { Array(sstables.keys) } }

    func segmentPath(directory: String, generation: Int) -> String {
        definition.segmentPath(directory: directory, generation: generation)
    }

    func readSegment(from path: String) throws -> VectorSegment { try VectorSegment.read(from: path, definition: definition) }

    func writeSegment(_ segment: VectorSegment, to path: String) throws { try segment.write(to: path, indexName: definition.name) }
}
