import BasaltCore
import Synchronization

/// The memory held by all memtables of an engine (active and being flushed), against a global
/// limit: above it the engine flushes its largest memtable; above the hard limit (twice the limit
/// unless configured) writes wait (blocking API) or fail overloaded (non-blocking API) until
/// flushes release memory.
final class MemtableMemory: Sendable {
    let limit: Int
    let hardLimit: Int
    private let bytes = Atomic<Int>(0)
    private let cond = ConditionLock()

    init(limit: Int, hardLimit: Int? = nil) {
        self.limit = max(1 << 20, limit)
        self.hardLimit = max(self.limit, hardLimit ?? 2 * self.limit)
    }

    var current: Int { bytes.load(ordering: .relaxed) }

    func add(_ delta: Int) {
        if delta != 0 { bytes.add(delta, ordering: .relaxed) }
    }

    /// Memory of a flushed or discarded memtable came back.
    func release(_ n: Int) {
        bytes.subtract(n, ordering: .relaxed)
        cond.withLock { cond.broadcast() }
    }

    var isAboveFlushThreshold: Bool { current > limit }

    /// Waits while memtables hold more than the hard limit; false when `mayBlock` is false and
    /// they do, or when `timeoutNanos` passes first. A wait is recorded in `stalls`.
    func waitForRoom(mayBlock: Bool, timeoutNanos: UInt64, stalls: BucketHistogram) -> Bool {
        if current <= hardLimit { return true }
        if !mayBlock { return false }
        var waited: UInt64 = 0
        let start = SystemClock().monotonicNanos()
        defer { stalls.recordElapsed(since: start, now: SystemClock().monotonicNanos()) }
        return cond.withLock {
            while current > hardLimit {
                if waited >= timeoutNanos { return false }
                cond.wait(nanos: 10_000_000)
                waited += 10_000_000
            }
            return true
        }
    }
}
