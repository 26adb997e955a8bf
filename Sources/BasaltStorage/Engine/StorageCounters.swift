import BasaltCore
import Synchronization

/// A snapshot of the engine's counters since it was opened.
public struct StorageCounters: Hashable, Sendable {
    public var writes = 0
    /// Bytes of mutation encodings written (the logical write volume).
    public var bytesWritten = 0
    public var commitLogBytes = 0
    /// Zero bytes written to prepare commit-log segments (``StorageConfig/commitLogPreallocation``).
    public var commitLogPreallocatedBytes = 0
    /// Commit-log segments no longer needed kept to be written over as later segments, instead of
    /// deleted (and so not zero-filled for them).
    public var commitLogSegmentsReused = 0
    /// Flushes started because the live commit-log segments took more than
    /// ``StorageConfig/commitLogTotalSpaceBytes``.
    public var commitLogSpaceFlushes = 0
    public var reads = 0
    public var scans = 0
    public var flushes = 0
    public var bytesFlushed = 0
    public var compactions = 0
    public var compactionBytesRead = 0
    public var compactionBytesWritten = 0
    /// Bloom filter answered "absent": the SSTable was skipped.
    public var bloomNegatives = 0
    /// Bloom filter answered "maybe" and the partition was there.
    public var bloomHits = 0
    /// Bloom filter answered "maybe" but the partition was not there.
    public var bloomFalsePositives = 0
    public var chunkCacheHits = 0
    public var chunkCacheMisses = 0
    /// Memory held by the SSTables' token-prefix indexes (seeks).
    public var seekIndexBytes = 0
    public var quarantinedSSTables = 0
    /// Writes refused or delayed because a bound was reached.
    public var overloadedWrites = 0
    public var liveSSTables = 0
    /// Commit-log write or sync failures (each fails the writes not yet synced).
    public var commitLogFailures = 0
    /// Writes refused because the commit log could not be written.
    public var refusedWrites = 0
    /// 1 while writes are refused because the commit log cannot be written, else 0.
    public var commitLogRefusingWrites = 0
    /// Flush attempts that failed (each is retried; the memtable is kept).
    public var flushFailures = 0
    /// Compactions that failed (their inputs stay live).
    public var compactionFailures = 0
    /// Compactions the tables' strategies would run now if they had the threads (an estimate).
    public var pendingCompactions = 0
    /// Time flushes and compactions slept to leave the cores to request handling
    /// (``StorageConfig/backgroundCPUShare``), nanoseconds.
    public var backgroundPausedNanos = 0

    public init() {}

    /// Bytes written to SSTables (flushes and compactions) per byte flushed: how many times each
    /// flushed byte was rewritten by compaction, plus one.
    public var compactionWriteAmplification: Double {
        bytesFlushed == 0 ? 0 : Double(bytesFlushed + compactionBytesWritten) / Double(bytesFlushed)
    }
}

/// The live counters behind ``StorageCounters`` (relaxed atomics; snapshots are not transactional).
final class StorageMetrics: Sendable {
    let writes = Atomic<Int>(0)
    let bytesWritten = Atomic<Int>(0)
    let commitLogBytes = Atomic<Int>(0)
    let commitLogPreallocatedBytes = Atomic<Int>(0)
    let commitLogSegmentsReused = Atomic<Int>(0)
    let commitLogSpaceFlushes = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
    let scans = Atomic<Int>(0)
    let flushes = Atomic<Int>(0)
    let bytesFlushed = Atomic<Int>(0)
    let compactions = Atomic<Int>(0)
    let compactionBytesRead = Atomic<Int>(0)
    let compactionBytesWritten = Atomic<Int>(0)
    let bloomNegatives = Atomic<Int>(0)
    let bloomHits = Atomic<Int>(0)
    let bloomFalsePositives = Atomic<Int>(0)
    let quarantinedSSTables = Atomic<Int>(0)
    let overloadedWrites = Atomic<Int>(0)
    let refusedWrites = Atomic<Int>(0)
    let flushFailures = Atomic<Int>(0)
    let compactionFailures = Atomic<Int>(0)
    let backgroundPausedNanos = Atomic<Int>(0)
    /// Wall time of each memtable flush, nanoseconds.
    let flushDuration = BucketHistogram.latency()
    /// Wall time of each compaction (throttling included), nanoseconds.
    let compactionDuration = BucketHistogram.latency()

    @inline(__always)
    func add(_ a: borrowing Atomic<Int>, _ n: Int) { a.add(n, ordering: .relaxed) }

    func snapshot() -> StorageCounters {
        var c = StorageCounters()
        c.writes = writes.load(ordering: .relaxed)
        c.bytesWritten = bytesWritten.load(ordering: .relaxed)
        c.commitLogBytes = commitLogBytes.load(ordering: .relaxed)
        c.commitLogPreallocatedBytes = commitLogPreallocatedBytes.load(ordering: .relaxed)
        c.commitLogSegmentsReused = commitLogSegmentsReused.load(ordering: .relaxed)
        c.commitLogSpaceFlushes = commitLogSpaceFlushes.load(ordering: .relaxed)
        c.reads = reads.load(ordering: .relaxed)
        c.scans = scans.load(ordering: .relaxed)
        c.flushes = flushes.load(ordering: .relaxed)
        c.bytesFlushed = bytesFlushed.load(ordering: .relaxed)
        c.compactions = compactions.load(ordering: .relaxed)
        c.compactionBytesRead = compactionBytesRead.load(ordering: .relaxed)
        c.compactionBytesWritten = compactionBytesWritten.load(ordering: .relaxed)
        c.bloomNegatives = bloomNegatives.load(ordering: .relaxed)
        c.bloomHits = bloomHits.load(ordering: .relaxed)
        c.bloomFalsePositives = bloomFalsePositives.load(ordering: .relaxed)
        c.quarantinedSSTables = quarantinedSSTables.load(ordering: .relaxed)
        c.overloadedWrites = overloadedWrites.load(ordering: .relaxed)
        c.refusedWrites = refusedWrites.load(ordering: .relaxed)
        c.flushFailures = flushFailures.load(ordering: .relaxed)
        c.compactionFailures = compactionFailures.load(ordering: .relaxed)
        c.backgroundPausedNanos = backgroundPausedNanos.load(ordering: .relaxed)
        return c
    }
}
