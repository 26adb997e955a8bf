import BasaltCore

/// When something was deleted: the write timestamp of the deletion (µs) and the node-local wall time
/// of the deletion (seconds), as Cassandra's `DeletionTime`.
///
/// A deletion shadows every piece of data whose timestamp is *at or below* `markedForDeleteAt`, so on
/// equal timestamps the tombstone wins. `localDeletionTime` only decides when compaction may purge the
/// tombstone (`localDeletionTime < now - gc_grace_seconds`).
public struct DeletionTime: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Write timestamp of the deletion, microseconds.
    public var markedForDeleteAt: Int64
    /// Wall-clock seconds at which the deletion was made on the coordinator.
    public var localDeletionTime: Int64

    @inlinable
    public init(markedForDeleteAt: Int64, localDeletionTime: Int64) {
        self.markedForDeleteAt = markedForDeleteAt
        self.localDeletionTime = localDeletionTime
    }

    /// Whether data written at `timestamp` is shadowed by this deletion.
    @inlinable
    public func deletes(_ timestamp: Int64) -> Bool { timestamp <= markedForDeleteAt }

    /// Orders deletions: the later one (higher timestamp, then later local time) supersedes.
    @inlinable
    public static func < (a: DeletionTime, b: DeletionTime) -> Bool {
        a.markedForDeleteAt != b.markedForDeleteAt ? a.markedForDeleteAt < b.markedForDeleteAt : a.localDeletionTime < b.localDeletionTime
    }

    public var description: String { "deletedAt=\(markedForDeleteAt), localDeletion=\(localDeletionTime)" }
}

/// The primary-key liveness of a row: CQL's row marker, written by INSERT (not by UPDATE).
///
/// A row exists while its liveness info is live or any of its cells is live. With a TTL the marker
/// expires at `localExpirationTime` (seconds); expired markers behave like tombstones written at
/// `localExpirationTime - ttl` for purging.
public struct LivenessInfo: Hashable, Sendable, CustomStringConvertible {
    /// Write timestamp, microseconds.
    public var timestamp: Int64
    /// Seconds; 0 for no TTL.
    public var ttl: Int32
    /// Wall-clock second at which the marker expires; `Cell.noExpiration` when it does not.
    public var localExpirationTime: Int64

    @inlinable
    public init(timestamp: Int64, ttl: Int32 = 0, localExpirationTime: Int64 = Cell.noExpiration) {
        self.timestamp = timestamp
        self.ttl = ttl
        self.localExpirationTime = ttl == 0 ? Cell.noExpiration : localExpirationTime
    }

    /// A marker written at `timestamp` with `ttl` seconds to live from `now` (seconds).
    @inlinable
    public static func expiring(timestamp: Int64, ttl: Int32, now: Int64) -> LivenessInfo {
        LivenessInfo(timestamp: timestamp, ttl: ttl, localExpirationTime: now + Int64(ttl))
    }

    @inlinable public var isExpiring: Bool { ttl != 0 }

    @inlinable
    public func isLive(now: Int64) -> Bool { ttl == 0 || now < localExpirationTime }

    /// Reconciliation between two markers of the same row: the higher timestamp wins; on a tie an
    /// expiring marker beats a permanent one, then the later expiration, then the longer TTL.
    @inlinable
    public func supersedes(_ other: LivenessInfo) -> Bool {
        if timestamp != other.timestamp { return timestamp > other.timestamp }
        if isExpiring != other.isExpiring { return isExpiring }
        if localExpirationTime != other.localExpirationTime { return localExpirationTime > other.localExpirationTime }
        return ttl > other.ttl
    }

    public var description: String {
        ttl == 0 ? "ts=\(timestamp)" : "ts=\(timestamp) ttl=\(ttl) expires=\(localExpirationTime)"
    }
}
