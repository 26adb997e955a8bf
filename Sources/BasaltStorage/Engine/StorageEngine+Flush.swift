import BasaltCore

extension StorageEngine {
    /// Queues the flush of a frozen memtable; `paced` for flushes nobody waits for (see
    /// ``StorageConfig/backgroundCPUShare``).
    func submitFlush(_ t: TableStore, _ m: Memtable, paced: Bool = false) {
        if !flushExecutor.submit({ [self] in runFlush(t, m, paced: paced) }) {
            logger.error("flush queue refused a memtable; flushing on the writer's thread")
            runFlush(t, m, paced: false)
        }
    }

    /// Writes a frozen memtable to an SSTable and publishes it, retrying on I/O errors (the data
    /// stays readable in the memtable and durable in the commit log meanwhile).
    func runFlush(_ t: TableStore, _ m: Memtable, paced: Bool) {
        defer { memtableMemory.release(m.accountedBytes) }
        let start = clock.monotonicNanos()
        var delay: UInt32 = 100_000
        var failures = 0
        while true {
            do {
                let reader = try writeSSTable(from: m, of: t, paced: paced && failures == 0)
                if let reader { attachedIndexes?.willPublish(table: t.id, sstable: SSTableContents(reader), origin: .flush(memtable: m.id)) }
                let (published, clean) = t.completeFlush(m, reader: reader, epoch: m.epoch)
                attachedIndexes?.didRemove(table: t.id, sstables: published ? [] : reader.map { [$0.descriptor.generation] } ?? [], memtables: [m.id])
                if !published, let reader { deleteFiles(reader) }
                if let clean { commitLog.markClean(table: t.id, upTo: clean) }
                t.writeLock.withLock { t.writeLock.broadcast() }
                metrics.add(metrics.flushes, 1)
                metrics.flushDuration.recordElapsed(since: start, now: clock.monotonicNanos())
                if published { scheduleCompaction(t) }
                if failures > 0 { logger.notice("memtable flushed after failed attempts", metadata: ["table": "\(t.name)", "failures": "\(failures)"]) }
                return
            } catch {
                failures += 1
                metrics.add(metrics.flushFailures, 1)
                if let e = error as? StorageError, case .io = e { reportDiskFailure(.io, e) }
                logger.error("memtable flush failed; will retry (the memtable stays readable and its commit-log segments are kept)",
                             metadata: ["table": "\(t.name)", "error": "\((error as? StorageError)?.summary ?? "\(error)")",
                                        "attempt": "\(failures)", "retry_in_ms": "\(delay / 1000)"])
                if isClosed || t.stateLock.withLock({ t.dropped }) { return }
                usleep(delay)
                delay = min(delay * 2, 5_000_000)
            }
        }
    }

    func writeSSTable(from m: Memtable, of t: TableStore, paced: Bool = false) throws -> SSTableReader? {
        if m.isEmpty { return nil }
        let (schema, cmp) = t.currentSchema
        let d = SSTableDescriptor(directory: t.directory, generation: t.allocateGeneration())
        let w = try SSTableWriter(descriptor: d, chunkLength: schema.params.chunkLengthKiB * 1024, compress: schema.params.compressionEnabled,
                                  filter: BloomFilter(expectedKeys: m.partitionCount, falsePositiveRate: schema.params.bloomFilterFPChance),
                                  rowIndexBlockBytes: config.rowIndexBlockBytes)
        let size: Int
        do {
            w.addStatistics(minTimestamp: m.minTimestamp, maxTimestamp: m.maxTimestamp, tombstones: m.tombstones)
            var pacer = CPUPacer(share: paced ? config.backgroundCPUShare : 1)
            defer { metrics.add(metrics.backgroundPausedNanos, Int(pacer.pausedNanos)) }
            var written = 0
            let partitions = max(1, m.partitionCount)
            try m.forEachPartition(cmp) { token, key, body in
                written += 1
                if written & 15 == 0 {
                    pacer.checkpoint { flushIsAhead(t, progress: Double(written) / Double(partitions)) }
                }
                switch body {
                case let .encoded(b): try w.append(token: token, key: key, body: b)
                case let .merged(p):
                    var e = ByteWriter(capacity: 256)
                    StorageCodec.writePartition(p, &e)
                    try e.bytes.withUnsafeBytes { try w.append(token: token, key: key, body: $0) }
                }
            }
            var intervals = m.replayedIntervals
            if let upper = m.commitLogUpper { intervals.append(CommitLogInterval(lower: m.commitLogLower, upper: upper)) }
            size = try w.finish(commitLogIntervals: intervals, createdAt: clock.nowSeconds(), level: 0)
        } catch {
            w.abort()
            throw error
        }
        metrics.add(metrics.bytesFlushed, size)
        return try SSTableReader(descriptor: d, cache: cache, seekBudget: seekIndex, withSeekIndex: t.sought.load(ordering: .relaxed))
    }

    /// Whether a flush `progress` (0–1) of the way through its memtable may pace: nobody waits for
    /// background work, memtables hold no more than the flush threshold, no other flush waits, and
    /// the table's new memtable is relatively less full than the flush is done.
    func flushIsAhead(_ t: TableStore, progress: Double) -> Bool {
        guard backgroundWaiters.load(ordering: .relaxed) == 0, memtableMemory.current <= memtableMemory.limit,
              flushExecutor.queued == 0 else { return false }
        let filling = t.writeLock.withLock { t.memtableBytes }
        return Double(filling) < progress * Double(max(1, config.memtableSizeLimitBytes))
    }

    /// Switches the table's memtable (when it holds anything) and queues its flush.
    @discardableResult
    func forceFlush(_ t: TableStore) throws -> Bool {
        t.writeLock.withLock {
            guard !t.memtable.isEmpty else { return false }
            let old = t.switchMemtable(at: commitLog.currentPosition)
            submitFlush(t, old)
            return true
        }
    }

    /// Flushes a table's memtable and waits until flushes are done.
    public func flush(tableId: UUIDValue) throws {
        try flushAndWait([table(tableId)])
    }

    /// Switches the memtables of `tables` and waits until no flush is queued or running. With
    /// `bestEffort`, a table whose memtable cannot be switched is passed over.
    func flushAndWait(_ tables: some Sequence<TableStore>, bestEffort: Bool = false) throws {
        try awaitingBackgroundWork {
            for t in tables {
                if bestEffort { _ = try? forceFlush(t) } else { try forceFlush(t) }
            }
            flushExecutor.waitIdle()
        }
    }

    /// Waits until no compaction is queued or running.
    func waitForCompactions() {
        awaitingBackgroundWork { compactionExecutor.waitIdle() }
    }

    /// Waits until no flush or compaction is queued or running.
    public func waitForBackgroundWork() {
        awaitingBackgroundWork {
            repeat {
                flushExecutor.waitIdle()
                compactionExecutor.waitIdle()
                indexExecutor.waitIdle()
            } while flushExecutor.pending > 0
        }
    }

    /// Flushes every table and waits.
    public func flushAll() throws {
        try flushAndWait(allTables)
    }

    /// Runs `body`, which waits for flushes or compactions: meanwhile running ones stop pacing.
    func awaitingBackgroundWork<T>(_ body: () throws -> T) rethrows -> T {
        backgroundWaiters.add(1, ordering: .relaxed)
        defer { backgroundWaiters.subtract(1, ordering: .relaxed) }
        return try body()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
