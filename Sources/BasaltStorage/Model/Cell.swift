import BasaltCore

/// One value of one column of one row, with its write timestamp, or a tombstone for it.
///
/// Representation follows Cassandra's `Cell`: `localDeletionTime` is `noExpiration` for a plain live
/// cell; for an expiring cell (`ttl > 0`) it is the wall-clock second at which the cell expires; for a
/// tombstone (`ttl == 0` and a deletion time) it is the second at which the delete was made.
///
/// Cells of a non-frozen collection carry a `path`: for a list the element's timeuuid, for a set the
/// element bytes (with an empty value), for a map the key bytes.
public struct Cell: Hashable, Sendable, CustomStringConvertible {
    /// `localDeletionTime` of a cell that neither expires nor is deleted.
    public static let noExpiration: Int64 = .max

    public var column: String
    public var path: [UInt8]?
    /// Write timestamp, microseconds.
    public var timestamp: Int64
    /// Seconds to live; 0 for none.
    public var ttl: Int32
    /// Expiry second (expiring cells), deletion second (tombstones) or `noExpiration`.
    public var localDeletionTime: Int64
    /// The serialized value; empty for tombstones.
    public var value: [UInt8]

    @inlinable
    public init(column: String, path: [UInt8]? = nil, timestamp: Int64, ttl: Int32 = 0, localDeletionTime: Int64 = Cell.noExpiration, value: [UInt8]) {
        self.column = column
        self.path = path
        self.timestamp = timestamp
        self.ttl = ttl
        self.localDeletionTime = localDeletionTime
        self.value = value
    }

    /// A live cell; with `ttl > 0` it expires `ttl` seconds after `now` (seconds).
    @inlinable
    public static func live(column: String, path: [UInt8]? = nil, timestamp: Int64, value: [UInt8], ttl: Int32 = 0, now: Int64 = 0) -> Cell {
        Cell(column: column, path: path, timestamp: timestamp, ttl: ttl, localDeletionTime: ttl > 0 ? now + Int64(ttl) : noExpiration, value: value)
    }

    /// A tombstone for the column (or one collection element), deleted at `deletedAt` seconds.
    @inlinable
    public static func tombstone(column: String, path: [UInt8]? = nil, timestamp: Int64, deletedAt: Int64) -> Cell {
        Cell(column: column, path: path, timestamp: timestamp, ttl: 0, localDeletionTime: deletedAt, value: [])
    }

    @inlinable public var isTombstone: Bool { ttl == 0 && localDeletionTime != Cell.noExpiration }
    @inlinable public var isExpiring: Bool { ttl != 0 }

    /// Live at `now` (seconds): neither a tombstone nor expired.
    @inlinable
    public func isLive(now: Int64) -> Bool {
        localDeletionTime == Cell.noExpiration || (ttl != 0 && now < localDeletionTime)
    }

    /// The second from which gc grace counts once the cell is dead: the deletion time of a
    /// tombstone, the write time (`expiry - ttl`) of an expiring cell, as Cassandra does.
    @inlinable
    public var purgeReferenceTime: Int64 {
        ttl != 0 ? localDeletionTime - Int64(ttl) : localDeletionTime
    }

    /// Reconciles two versions of the same cell (same column and path): the higher timestamp wins;
    /// on equal timestamps a tombstone beats a live cell, two tombstones keep the later deletion, two
    /// live cells keep the greater value (unsigned bytes), then an expiring cell, then the later
    /// expiry. The result does not depend on the argument order.
    @inlinable
    public static func reconcile(_ a: Cell, _ b: Cell) -> Cell {
        winsOver(a, b) ? a : b
    }

    /// Whether `a` wins reconciliation against `b` (ties resolved as ``reconcile(_:_:)`` says).
    @inlinable
    public static func winsOver(_ a: Cell, _ b: Cell) -> Bool {
        if a.timestamp != b.timestamp { return a.timestamp > b.timestamp }
        let at = a.isTombstone, bt = b.isTombstone
        if at != bt { return at }
        if at { return a.localDeletionTime >= b.localDeletionTime }
        let c = compareBytes(a.value, b.value)
        if c != 0 { return c > 0 }
        if a.isExpiring != b.isExpiring { return a.isExpiring }
        return a.localDeletionTime >= b.localDeletionTime
    }

    public var description: String {
        let p = path.map { "[\($0.hexString)]" } ?? ""
        if isTombstone { return "\(column)\(p)=<tombstone ts=\(timestamp) at=\(localDeletionTime)>" }
        let t = ttl != 0 ? " ttl=\(ttl) exp=\(localDeletionTime)" : ""
        return "\(column)\(p)=0x\(value.hexString) ts=\(timestamp)\(t)"
    }
}

/// Unsigned lexicographic order of two byte arrays; shorter first on a common prefix.
@inlinable
func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in CQLType.compareUnsigned(pa, pb) } }
}
