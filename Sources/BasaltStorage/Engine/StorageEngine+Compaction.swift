import BasaltCore

extension StorageEngine {
    /// Queues a background check for compaction work on the table (at most one queued per table).
    func scheduleCompaction(_ t: TableStore) {
        guard config.automaticCompaction, !isClosed else { return }
        let fresh = compactionLock.withLock { compactionQueued.insert(t.id).inserted }
        guard fresh else { return }
        if !compactionExecutor.submit({ [self] in runAutomaticCompactions(t) }) {
            _ = compactionLock.withLock { compactionQueued.remove(t.id) }
        }
    }

    private func runAutomaticCompactions(_ t: TableStore) {
        _ = compactionLock.withLock { compactionQueued.remove(t.id) }
        while !isClosed {
            let outputs: [SSTableReader]?
            do {
                outputs = try compactNext(t)
            } catch {
                compactionFailed(t, error)
                return
            }
            guard let outputs else { return }
            settle(t, outputs)
            _ = compactionLock.withLock { compactionRetryNanos.removeValue(forKey: t.id) }
        }
    }

    /// Picks and runs the table's next compaction: its outputs, or nil when there is nothing to
    /// compact. The inputs are released when it returns.
    private func compactNext(_ t: TableStore) throws -> [SSTableReader]? {
        guard let (inputs, task, epoch) = pickCompaction(t) else { return nil }
        return try compact(t, inputs, epoch: epoch, outputLevel: task.outputLevel, maxOutputBytes: task.maxOutputBytes, paced: true)
    }

    /// Whether an automatic compaction of `t` may pace (``StorageConfig/backgroundCPUShare``): nobody
    /// waits for background work, the table holds fewer than half the SSTables at which writers are
    /// slowed, and no other compaction waits for a thread.
    func compactionIsAhead(_ t: TableStore) -> Bool {
        let debt = config.compactionDebtSlowdownSSTables > 0 ? config.compactionDebtSlowdownSSTables : StorageConfig.defaultCompactionDebtSlowdownSSTables
        guard backgroundWaiters.load(ordering: .relaxed) == 0, compactionExecutor.queued == 0 else { return false }
        return t.stateLock.withLock { t.sstables.count } < debt / 2
    }

    /// After compactions, once their inputs are released: the outputs' bloom filters are built from
    /// their indexes, and their seek indexes too (not while the inputs' are still held), and the
    /// heap memory the inputs took is handed back to the kernel. Reads and seeks meanwhile read the
    /// outputs' indexes.
    func settle(_ t: TableStore, _ outputs: [SSTableReader]) {
        let withSeekIndex = t.sought.load(ordering: .relaxed)
        let trim = outputs.reduce(0) { $0 + $1.partitionCountBound } >= HeapTrim.minimumPartitions
        // Returned first, so the outputs' parts do not add to memory the inputs freed but still hold.
        if trim { HeapTrim.returnFreedMemory() }
        for o in outputs {
            // A filter built now is written by the compaction too (its outputs are published
            // without one).
            do { metrics.add(metrics.compactionBytesWritten, try o.loadDeferredParts(withSeekIndex: withSeekIndex)) } catch {
                logger.warning("bloom filter or seek index not loaded; reads and seeks read the SSTable's index", metadata: ["sstable": "\(o.descriptor.path(.data))", "error": "\(error)"])
            }
        }
        if trim { HeapTrim.returnFreedMemory() }
    }

    /// A failed compaction leaves its inputs live; under a policy that retries, it is tried again
    /// after a backoff (1 s doubling to 60 s per table, reset by a success).
    private func compactionFailed(_ t: TableStore, _ error: any Error) {
        metrics.add(metrics.compactionFailures, 1)
        let storageError = error as? StorageError
        if case .io? = storageError { reportDiskFailure(.io, storageError!) }
        guard config.diskFailurePolicy.retriesCompaction, !isClosed else {
            logger.error("compaction failed", metadata: ["table": "\(t.name)", "error": "\(storageError?.summary ?? "\(error)")"])
            return
        }
        let delay: UInt64 = compactionLock.withLock {
            let d = compactionRetryNanos[t.id].map { min($0 * 2, 60_000_000_000) } ?? 1_000_000_000
            compactionRetryNanos[t.id] = d
            return d
        }
        logger.error("compaction failed; will retry", metadata: ["table": "\(t.name)", "error": "\(storageError?.summary ?? "\(error)")",
                                                                 "retry_in_ms": "\(delay / 1_000_000)"])
        Task.detached { [self] in
            try? await Task.sleep(nanoseconds: delay)
            scheduleCompaction(t)
        }
    }

    /// Chooses SSTables per the table's strategy and marks them as compacting; also returns the
    /// task's layout and the truncation epoch they belong to.
    func pickCompaction(_ t: TableStore) -> ([SSTableReader], CompactionTask, Int)? {
        t.stateLock.withLock {
            guard !t.dropped else { return nil }
            let params = t.schema.params.compaction
            // Leveled outputs must not overlap SSTables another compaction is about to replace in
            // the next level: one leveled compaction per table at a time.
            if case .leveled = params, !t.compacting.isEmpty { return nil }
            let free = t.sstables.filter { !t.compacting.contains($0.descriptor.generation) }
            guard let task = CompactionStrategy.plan(free.map(\.compactionCandidate), params: params) else { return nil }
            let set = Set(task.generations)
            t.compacting.formUnion(set)
            return (free.filter { set.contains($0.descriptor.generation) }, task, t.epochLocked)
        }
    }

    /// Major compaction: waits for running compactions, then merges all of the table's SSTables
    /// (one group per time window under time-window compaction).
    public func compact(tableId: UUIDValue) throws {
        let t = try table(tableId)
        settle(t, try awaitingBackgroundWork { try compactAll(t) })
    }

    private func compactAll(_ t: TableStore) throws -> [SSTableReader] {
        waitForCompactions()
        let (groups, epoch): ([[SSTableReader]], Int) = t.stateLock.withLock {
            let free = t.sstables.filter { !t.compacting.contains($0.descriptor.generation) }
            let candidates = free.map(\.compactionCandidate)
            let gs = CompactionStrategy.major(candidates, params: t.schema.params.compaction)
            for g in gs { t.compacting.formUnion(g) }
            return (gs.map { g in free.filter { g.contains($0.descriptor.generation) } }, t.epochLocked)
        }
        let params = t.currentSchema.0.params.compaction
        var outputs: [SSTableReader] = []
        for g in groups {
            if case let .leveled(sizeMiB, _) = params {
                outputs += try compact(t, g, epoch: epoch, outputLevel: 1, maxOutputBytes: sizeMiB << 20)
            } else {
                outputs += try compact(t, g, epoch: epoch)
            }
        }
        return outputs
    }

    /// Merges `inputs` into new SSTables, purging what may be purged, publishes them, then deletes
    /// the inputs. Reads and writes continue meanwhile; inputs stay readable until the swap.
    /// With `keep`, partitions whose token it refuses are left out (cleanup). Outputs are written at
    /// `outputLevel` (default: one above the highest input level) and, with `maxOutputBytes`, a new
    /// output is started once the current one's data file reaches that size (leveled compaction).
    /// Returns the published outputs, whose bloom filters and seek indexes are not loaded yet (see
    /// ``settle(_:_:)``). `paced` for automatic compactions (see ``StorageConfig/backgroundCPUShare``).
    @discardableResult
    func compact(_ t: TableStore, _ inputs: [SSTableReader], epoch: Int, keep: ((Token) -> Bool)? = nil,
                 outputLevel: Int? = nil, maxOutputBytes: Int = 0, paced: Bool = false) throws -> [SSTableReader] {
        let (schema, cmp) = t.currentSchema
        let now = clock.nowSeconds()
        let gcBefore = now - Int64(schema.params.gcGraceSeconds)
        let excluding = Set(inputs.map(\.descriptor.generation))
        let start = clock.monotonicNanos()
        let level = outputLevel ?? ((inputs.map(\.stats.level).max() ?? 0) + 1)
        let live = commitLog.liveSegmentIds.first ?? 0
        let intervals = Self.coalesce(inputs.flatMap(\.stats.commitLogIntervals).filter { $0.upper.segment >= live })
        var writer: SSTableWriter?
        var writerKeys = 0
        var outputs: [SSTableReader] = []
        var size = 0
        var pacer = CPUPacer(share: paced ? config.backgroundCPUShare : 1)
        defer { metrics.add(metrics.backgroundPausedNanos, Int(pacer.pausedNanos)) }
        func release() { _ = t.replace(inputs, with: [], epoch: -1) }
        func currentWriter() throws -> SSTableWriter {
            if let writer { return writer }
            let d = SSTableDescriptor(directory: t.directory, generation: t.allocateGeneration())
            let w = try SSTableWriter(descriptor: d, chunkLength: schema.params.chunkLengthKiB * 1024, compress: schema.params.compressionEnabled,
                                      filter: nil, rowIndexBlockBytes: config.rowIndexBlockBytes)
            w.onChunkWritten = { [throughput] n in throughput.acquire(n) }
            writer = w
            writerKeys = 0
            return w
        }
        func finishWriter() throws {
            guard let w = writer else { return }
            writer = nil
            guard writerKeys > 0 else { return w.abort() }
            size += try w.finish(commitLogIntervals: intervals, createdAt: now, level: level)
            outputs.append(try SSTableReader(descriptor: w.descriptor, cache: cache, seekBudget: seekIndex, deferred: true,
                                             filterFalsePositiveRate: schema.params.bloomFilterFPChance))
        }
        do {
            var scanners: [SSTableScanner] = []
            for r in inputs { scanners.append(try SSTableScanner(r)) }
            // Data written before the drop of a column must be removed, so no body is copied as is.
            let copyPlainBodies = schema.droppedColumns.isEmpty
            var seen = 0
            var holders: [Int] = []
            /// Runs `f` on input `i`, quarantining that input when it turns out damaged.
            func onInput<T>(_ i: Int, _ f: () throws -> T) throws -> T {
                do {
                    return try f()
                } catch let e as StorageError {
                    if case .corrupt = e, t.quarantine(inputs[i], e) { noteQuarantined(e) }
                    throw e
                }
            }
            while true {
                if seen % 64 == 0, isClosed || t.currentEpoch != epoch || t.stateLock.withLock({ t.dropped }) {
                    throw StorageError.closed
                }
                var best = -1
                for (i, s) in scanners.enumerated() where s.hasCurrent {
                    if best < 0 { best = i; continue }
                    let b = scanners[best]
                    if s.token < b.token || (s.token == b.token && s.key.lexicographicallyPrecedes(b.key)) { best = i }
                }
                if best < 0 { break }
                seen += 1
                if seen & 15 == 0 { pacer.checkpoint { compactionIsAhead(t) } }
                let token = scanners[best].token
                let key = scanners[best].key
                holders.removeAll(keepingCapacity: true)
                for (i, s) in scanners.enumerated() where s.hasCurrent && s.token == token && s.key == key { holders.append(i) }
                if let keep, !keep(Token(token)) {
                    for i in holders { try onInput(i) { try scanners[i].advance() } }
                    continue
                }
                if maxOutputBytes > 0, let w = writer, w.dataFileSize >= maxOutputBytes { try finishWriter() }
                if holders.count == 1, copyPlainBodies {
                    // One input holds it: a body of plain live data is copied without decoding.
                    let body = try onInput(best) { try scanners[best].body() }
                    if let range = StorageCodec.plainLiveTimestampRange(body) {
                        let w = try currentWriter()
                        try key.withUnsafeBytes { k in
                            try body.bytes.withUnsafeBytes { try w.append(token: token, key: k, body: UnsafeRawBufferPointer(rebasing: $0[body.position ..< body.end])) }
                        }
                        w.addStatistics(minTimestamp: range.min, maxTimestamp: range.max, tombstones: 0)
                        writerKeys += 1
                        try onInput(best) { try scanners[best].advance() }
                        continue
                    }
                }
                var parts: [PartitionUpdate] = []
                for i in holders {
                    try onInput(i) {
                        parts.append(try inputs[i].decodePartition(try scanners[i].body(), at: scanners[i].position))
                        try scanners[i].advance()
                    }
                }
                var merged = PartitionUpdate.merge(parts, cmp).withoutDroppedColumns(schema.droppedColumns)
                if merged.mayHavePurgeableData(gcBefore: gcBefore) {
                    let hash = key.withUnsafeBytes { Murmur3.hash128($0) }
                    let maxPurgeable = t.maxPurgeableTimestamp(hash: hash, token: token, excluding: excluding)
                    merged = merged.purged(gcBefore: gcBefore, maxPurgeableTimestamp: maxPurgeable, now: now)
                }
                if !merged.isEmpty {
                    try currentWriter().append(token: token, key: key, partition: merged)
                    writerKeys += 1
                }
            }
            try finishWriter()
            let inputGenerations = inputs.map(\.descriptor.generation)
            for output in outputs {
                attachedIndexes?.willPublish(table: t.id, sstable: SSTableContents(output), origin: .compaction(inputs: inputGenerations))
            }
            guard t.replace(inputs, with: outputs, epoch: epoch) else {
                attachedIndexes?.didRemove(table: t.id, sstables: outputs.map(\.descriptor.generation), memtables: [])
                for output in outputs { deleteFiles(output) }
                return []
            }
            // Under the file lock: a snapshot linking the files of the view it took never finds
            // them half deleted.
            sstableFilesLock.withLock {
                attachedIndexes?.didRemove(table: t.id, sstables: inputGenerations, memtables: [])
                for r in inputs { deleteFiles(r) }
            }
            metrics.add(metrics.compactions, 1)
            metrics.compactionDuration.recordElapsed(since: start, now: clock.monotonicNanos())
            metrics.add(metrics.compactionBytesRead, inputs.reduce(0) { $0 + $1.sizeOnDisk })
            metrics.add(metrics.compactionBytesWritten, size)
            logger.debug("compacted", metadata: ["table": "\(schema.keyspace).\(schema.name)", "inputs": "\(inputs.count)",
                                                 "outputs": "\(outputs.map(\.descriptor.generation))", "level": "\(level)", "bytes": "\(size)"])
            return outputs
        } catch {
            writer?.abort()
            for output in outputs { deleteFiles(output) }
            release()
            if case StorageError.closed = error { return [] }
            throw error
        }
    }

    /// Sorted intervals with overlapping or touching ones joined.
    static func coalesce(_ xs: [CommitLogInterval]) -> [CommitLogInterval] {
        var out: [CommitLogInterval] = []
        for i in xs.sorted(by: { $0.lower < $1.lower }) {
            if let last = out.last, i.lower <= last.upper {
                out[out.count - 1].upper = max(last.upper, i.upper)
            } else {
                out.append(i)
            }
        }
        return out
    }
}

extension StorageEngine {
    /// Compacts `count` of the table's SSTables chosen by `pick` (for tests and tools that need a
    /// partial compaction, which leaves other SSTables holding older data).
    func compactSubset(tableId: UUIDValue, pick: ([Int]) -> [Int]) throws {
        let t = try table(tableId)
        waitForCompactions()
        let (inputs, epoch): ([SSTableReader], Int) = t.stateLock.withLock {
            let free = t.sstables.filter { !t.compacting.contains($0.descriptor.generation) }
            let chosen = Set(pick(free.map(\.descriptor.generation)))
            t.compacting.formUnion(chosen)
            return (free.filter { chosen.contains($0.descriptor.generation) }, t.epochLocked)
        }
        if !inputs.isEmpty { settle(t, try compact(t, inputs, epoch: epoch)) }
    }
}
