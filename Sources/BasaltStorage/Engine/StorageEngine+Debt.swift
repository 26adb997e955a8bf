import BasaltCore

extension StorageEngine {
    /// Slows a blocking writer of a table whose SSTable count is above
    /// `compactionDebtSlowdownSSTables`: each write owes 2 µs per SSTable over the threshold, and
    /// the writer that takes the owed total past a millisecond sleeps it off. The average delay
    /// grows with the debt, so throughput declines gradually instead of stopping at a wall.
    func slowForCompactionDebt(_ t: TableStore) {
        let threshold = config.compactionDebtSlowdownSSTables
        guard threshold > 0 else { return }
        let excess = t.sstableCount.load(ordering: .relaxed) - threshold
        guard excess > 0 else { return }
        let owed = t.owedWriteDelay.add(excess * 2_000, ordering: .relaxed).newValue
        guard owed >= 1_000_000 else { return }
        t.owedWriteDelay.subtract(1_000_000, ordering: .relaxed)
        let start = clock.monotonicNanos()
        usleep(1_000)
        writeStalls[.compactionDebt].recordElapsed(since: start, now: clock.monotonicNanos())
    }

    /// Compactions the tables' strategies would start now, given enough threads: per table, how
    /// many disjoint selections its strategy makes among the SSTables not being compacted, plus
    /// the compactions running.
    func pendingCompactionEstimate() -> Int {
        var n = 0
        for t in allTables {
            let (candidates, params, running) = t.stateLock.withLock {
                (t.sstables.filter { !t.compacting.contains($0.descriptor.generation) }.map(\.compactionCandidate),
                 t.schema.params.compaction, t.compacting.isEmpty ? 0 : 1)
            }
            n += running + CompactionStrategy.pendingCount(candidates, params: params)
        }
        return n
    }

    /// Duration of each memtable flush, nanoseconds.
    public var flushDurations: BucketHistogram { metrics.flushDuration }
    /// Duration of each compaction, nanoseconds.
    public var compactionDurations: BucketHistogram { metrics.compactionDuration }
    /// Duration of each commit-log fsync, nanoseconds.
    public var commitLogSyncLatency: BucketHistogram { commitLog.syncLatency }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
