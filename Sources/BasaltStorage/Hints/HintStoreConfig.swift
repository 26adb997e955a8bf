/// Bounds and durability of a ``HintStore``.
///
/// The byte limits count the segment files on disk (headers and record framing included): a
/// write that would take a target above ``maxBytesPerTarget``, or all targets together above
/// ``maxTotalBytes``, is refused with ``HintStoreError/full(target:limitBytes:)``. Bytes are freed
/// when delivered segments are deleted and by ``HintStore/deleteAll(for:)``.
public struct HintStoreConfig: Sendable {
    /// All targets together, on disk (default 1 GiB).
    public var maxTotalBytes: Int = 1 << 30
    /// One target, on disk (default 256 MiB).
    public var maxBytesPerTarget: Int = 256 << 20
    /// A target's hints are a sequence of segment files of about this size (default 16 MiB). A
    /// hint larger than this gets a segment of its own.
    public var segmentBytes: Int = 16 << 20
    /// Written hints are fsynced at least this often by a background thread (default 1 s);
    /// ``HintStore/sync()`` forces it. A machine crash can lose up to one interval of hints; a
    /// process crash loses none that `write` accepted (they were already handed to the kernel).
    public var syncIntervalNanos: UInt64 = 1_000_000_000

    public init() {}
}
