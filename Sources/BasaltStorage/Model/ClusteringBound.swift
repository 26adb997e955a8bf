import BasaltCore

/// One end of a clustering range: a prefix of clustering components (possibly empty) and whether the
/// rows equal to the prefix are included.
///
/// An empty prefix is unbounded on that side. As a start bound, an inclusive prefix `p` sits just
/// before every clustering that begins with `p` and an exclusive one just after them; as an end bound
/// the reverse. ``ClusteringComparator`` orders bounds and rows.
public struct ClusteringBound: Hashable, Sendable, CustomStringConvertible {
    public var prefix: [[UInt8]]
    public var isInclusive: Bool

    @inlinable
    public init(_ prefix: [[UInt8]], inclusive: Bool) {
        self.prefix = prefix
        self.isInclusive = inclusive
    }

    /// No bound: the start or the end of the partition.
    public static let unbounded = ClusteringBound([], inclusive: true)

    public var description: String {
        "\(isInclusive ? "incl" : "excl")(\(prefix.map { $0.hexString }.joined(separator: ":")))"
    }
}

/// A range of clusterings `[start, end]` with per-end inclusivity over prefixes.
public struct ClusteringSlice: Hashable, Sendable, CustomStringConvertible {
    public var start: ClusteringBound
    public var end: ClusteringBound

    @inlinable
    public init(start: ClusteringBound, end: ClusteringBound) {
        self.start = start
        self.end = end
    }

    /// Every row of the partition.
    public static let all = ClusteringSlice(start: .unbounded, end: .unbounded)

    /// Exactly the rows whose clustering begins with `prefix` (a full clustering selects one row).
    public static func equal(_ prefix: [[UInt8]]) -> ClusteringSlice {
        ClusteringSlice(start: ClusteringBound(prefix, inclusive: true), end: ClusteringBound(prefix, inclusive: true))
    }

    public var description: String { "[\(start), \(end)]" }
}

/// A deletion of every row whose clustering lies between two bounds.
public struct RangeTombstone: Hashable, Sendable, CustomStringConvertible {
    public var start: ClusteringBound
    public var end: ClusteringBound
    public var deletion: DeletionTime

    @inlinable
    public init(start: ClusteringBound, end: ClusteringBound, deletion: DeletionTime) {
        self.start = start
        self.end = end
        self.deletion = deletion
    }

    public var slice: ClusteringSlice { ClusteringSlice(start: start, end: end) }

    public var description: String { "RT[\(start), \(end)] \(deletion)" }
}
