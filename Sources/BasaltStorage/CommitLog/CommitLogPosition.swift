/// A place in the commit log: a segment id and a byte offset in it. Segment ids grow over the life
/// of a data directory, so positions are totally ordered.
public struct CommitLogPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var segment: UInt64
    public var offset: UInt32

    @inlinable
    public init(segment: UInt64, offset: UInt32) {
        self.segment = segment
        self.offset = offset
    }

    public static let zero = CommitLogPosition(segment: 0, offset: 0)

    @inlinable
    public static func < (a: CommitLogPosition, b: CommitLogPosition) -> Bool {
        a.segment != b.segment ? a.segment < b.segment : a.offset < b.offset
    }

    public var description: String { "\(segment):\(offset)" }
}

/// A half-open range `[lower, upper)` of commit-log positions whose writes a memtable (and the
/// SSTable flushed from it) holds.
public struct CommitLogInterval: Hashable, Sendable {
    public var lower: CommitLogPosition
    public var upper: CommitLogPosition

    public init(lower: CommitLogPosition, upper: CommitLogPosition) {
        self.lower = lower
        self.upper = upper
    }

    @inlinable
    public func contains(_ p: CommitLogPosition) -> Bool { p >= lower && p < upper }
}
