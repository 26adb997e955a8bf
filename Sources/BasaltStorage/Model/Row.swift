import BasaltCore

/// A deletion of every cell of one multi-cell (non-frozen collection) column of a row, written when
/// a whole collection is overwritten or deleted.
public struct ComplexDeletion: Hashable, Sendable {
    public var column: String
    public var deletion: DeletionTime

    @inlinable
    public init(column: String, deletion: DeletionTime) {
        self.column = column
        self.deletion = deletion
    }
}

/// One row of a partition, or the partition's static row (empty clustering).
///
/// Invariant kept by ``PartitionUpdate/normalized(_:)`` and every merge: `cells` are sorted by
/// ``ClusteringComparator/compareCells(_:_:)`` with no two for the same column and path, and
/// `complexDeletions` are sorted by column name, one per column.
public struct Row: Hashable, Sendable, CustomStringConvertible {
    /// Serialized clustering components, one per clustering column.
    public var clustering: [[UInt8]]
    /// The primary-key liveness (row marker); written by INSERT, not by UPDATE.
    public var liveness: LivenessInfo?
    /// A row deletion, shadowing everything in the row written at or before it.
    public var deletion: DeletionTime?
    public var complexDeletions: [ComplexDeletion]
    public var cells: [Cell]

    @inlinable
    public init(clustering: [[UInt8]], liveness: LivenessInfo? = nil, deletion: DeletionTime? = nil, complexDeletions: [ComplexDeletion] = [], cells: [Cell] = []) {
        self.clustering = clustering
        self.liveness = liveness
        self.deletion = deletion
        self.complexDeletions = complexDeletions
        self.cells = cells
    }

    /// Nothing at all: no marker, deletion or cell.
    @inlinable
    public var isEmpty: Bool { liveness == nil && deletion == nil && complexDeletions.isEmpty && cells.isEmpty }

    /// Live at `now` (seconds): a live marker or any live cell (shadowing must already be applied).
    @inlinable
    public func isLive(now: Int64) -> Bool {
        if let l = liveness, l.isLive(now: now) { return true }
        for c in cells where c.isLive(now: now) { return true }
        return false
    }

    public var description: String {
        var parts = ["(\(clustering.map { $0.hexString }.joined(separator: ":")))"]
        if let l = liveness { parts.append("marker[\(l)]") }
        if let d = deletion { parts.append("deleted[\(d)]") }
        for c in complexDeletions { parts.append("\(c.column)-deleted[\(c.deletion)]") }
        parts.append(contentsOf: cells.map(\.description))
        return parts.joined(separator: " ")
    }
}
