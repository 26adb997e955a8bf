/// A snapshot of a ``HintStore``'s counters since it was opened (hints, unless a name says bytes
/// or segments). The pending figures and `diskBytes` are the state at the time of the snapshot.
public struct HintStoreCounters: Hashable, Sendable {
    /// Hints accepted by `write`.
    public var written = 0
    /// Bytes of the mutations accepted by `write`.
    public var bytesWritten = 0
    /// Hints reported delivered through `markDelivered`.
    public var delivered = 0
    /// Hints refused because a byte limit was reached.
    public var droppedFull = 0
    /// Damaged places found in segment files (a bad header, a torn tail, a record failing its
    /// checksum): each one ends or skips a segment. How many hints were lost is unknowable.
    public var droppedCorrupt = 0
    /// Bytes of segment files that could not be read because of that damage.
    public var droppedCorruptBytes = 0
    /// Undelivered hints forgotten by `deleteAll`.
    public var droppedDeleted = 0
    /// Bytes of undelivered hint records (framing included), all targets.
    public var pendingBytes = 0
    /// Undelivered hints, all targets.
    public var pendingHints = 0
    /// Bytes of all segment files, the figure the limits apply to.
    public var diskBytes = 0
    /// Segment files on disk.
    public var segments = 0
    public var segmentsCreated = 0
    /// Segment files deleted because delivered, forgotten, empty or unreadable.
    public var segmentsDeleted = 0
    /// Sync passes that fsynced at least one file.
    public var syncs = 0

    public init() {}
}
