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
        while !isClosed, let (inputs, epoch) = pickCompaction(t) {
            do {
                try compact(t, inputs, epoch: epoch)
                _ = compactionLock.withLock { compactionRetryNanos.removeValue(forKey: t.id) }
            } catch {
                compactionFailed(t, error)
                return
            }
        }
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
    /// truncation epoch they belong to.
    func pickCompaction(_ t: TableStore) -> ([SSTableReader], Int)? {
        t.stateLock.withLock {
            guard !t.dropped else { return nil }
            let free = t.sstables.filter { !t.compacting.contains($0.descriptor.generation) }
            let candidates = free.map { CompactionCandidate(generation: $0.descriptor.generation, sizeBytes: $0.sizeOnDisk, maxTimestamp: $0.stats.maxTimestamp) }
            guard let gens = CompactionStrategy.select(candidates, params: t.schema.params.compaction), gens.count >= 2 else { return nil }
            let set = Set(gens)
            t.compacting.formUnion(set)
            return (free.filter { set.contains($0.descriptor.generation) }, t.epochLocked)
        }
    }

    /// Major compaction: waits for running compactions, then merges all of the table's SSTables
    /// (one group per time window under time-window compaction).
    public func compact(tableId: UUIDValue) throws {
        let t = try table(tableId)
        compactionExecutor.waitIdle()
        let (groups, epoch): ([[SSTableReader]], Int) = t.stateLock.withLock {
            let free = t.sstables.filter { !t.compacting.contains($0.descriptor.generation) }
            let candidates = free.map { CompactionCandidate(generation: $0.descriptor.generation, sizeBytes: $0.sizeOnDisk, maxTimestamp: $0.stats.maxTimestamp) }
            let gs = CompactionStrategy.major(candidates, params: t.schema.params.compaction)
            for g in gs { t.compacting.formUnion(g) }
            return (gs.map { g in free.filter { g.contains($0.descriptor.generation) } }, t.epochLocked)
        }
        for g in groups { try compact(t, g, epoch: epoch) }
    }

    /// Merges `inputs` into one new SSTable, purging what may be purged, publishes it, then deletes
    /// the inputs. Reads and writes continue meanwhile; inputs stay readable until the swap.
    /// With `keep`, partitions whose token it refuses are left out (cleanup).
    func compact(_ t: TableStore, _ inputs: [SSTableReader], epoch: Int, keep: ((Token) -> Bool)? = nil) throws {
        let (schema, cmp) = t.currentSchema
        let now = clock.nowSeconds()
        let gcBefore = now - Int64(schema.params.gcGraceSeconds)
        let excluding = Set(inputs.map(\.descriptor.generation))
        let d = SSTableDescriptor(directory: t.directory, generation: t.allocateGeneration())
        var writer: SSTableWriter?
        func release() { _ = t.replace(inputs, with: nil, epoch: -1) }
        do {
            let w = try SSTableWriter(descriptor: d, chunkLength: schema.params.chunkLengthKiB * 1024, compress: schema.params.compressionEnabled,
                                      expectedKeys: inputs.reduce(0) { $0 + $1.partitionCountBound }, falsePositiveRate: schema.params.bloomFilterFPChance, rowIndexBlockBytes: config.rowIndexBlockBytes)
            writer = w
            w.onChunkWritten = { [throughput] n in throughput.acquire(n) }
            var heads: [(token: Int64, key: [UInt8], position: Int, next: Int)?] = []
            for r in inputs { heads.append(try r.indexEntry(at: SSTableReader.firstIndexOffset)) }
            var written = 0
            var seen = 0
            while true {
                var best = -1
                for (i, h) in heads.enumerated() {
                    guard let h else { continue }
                    if best < 0 { best = i; continue }
                    let b = heads[best]!
                    if h.token < b.token || (h.token == b.token && h.key.lexicographicallyPrecedes(b.key)) { best = i }
                }
                if best < 0 { break }
                let token = heads[best]!.token
                let key = heads[best]!.key
                var parts: [PartitionUpdate] = []
                for i in heads.indices {
                    guard let h = heads[i], h.token == token, h.key == key else { continue }
                    do {
                        parts.append(try key.withUnsafeBytes { try inputs[i].readPartition(at: h.position, key: $0, useCache: false) })
                        heads[i] = try inputs[i].indexEntry(at: h.next)
                    } catch let e as StorageError {
                        if case .corrupt = e, t.quarantine(inputs[i], e) { noteQuarantined(e) }
                        throw e
                    }
                }
                if let keep, !keep(Token(token)) {
                    seen += 1
                    continue
                }
                var merged = PartitionUpdate.merge(parts, cmp).withoutDroppedColumns(schema.droppedColumns)
                let hash = key.withUnsafeBytes { Murmur3.hash128($0) }
                let maxPurgeable = t.maxPurgeableTimestamp(hash: hash, token: token, excluding: excluding)
                merged = merged.purged(gcBefore: gcBefore, maxPurgeableTimestamp: maxPurgeable, now: now)
                if !merged.isEmpty {
                    try w.append(token: token, key: key, partition: merged)
                    written += 1
                }
                seen += 1
                if seen % 64 == 0, isClosed || t.currentEpoch != epoch || t.stateLock.withLock({ t.dropped }) {
                    throw StorageError.closed
                }
            }
            var output: SSTableReader?
            var size = 0
            if written > 0 {
                let live = commitLog.liveSegmentIds.first ?? 0
                let intervals = Self.coalesce(inputs.flatMap(\.stats.commitLogIntervals).filter { $0.upper.segment >= live })
                size = try w.finish(commitLogIntervals: intervals, createdAt: now, level: (inputs.map(\.stats.level).max() ?? 0) + 1)
                output = try SSTableReader(descriptor: d, cache: cache)
            } else {
                w.abort()
            }
            writer = nil
            let inputGenerations = inputs.map(\.descriptor.generation)
            if let output { attachedIndexes?.willPublish(table: t.id, sstable: SSTableContents(output), origin: .compaction(inputs: inputGenerations)) }
            guard t.replace(inputs, with: output, epoch: epoch) else {
                if let output {
                    attachedIndexes?.didRemove(table: t.id, sstables: [output.descriptor.generation], memtables: [])
                    deleteFiles(output)
                }
                return
            }
            // Under the file lock: a snapshot linking the files of the view it took never finds
            // them half deleted.
            sstableFilesLock.withLock {
                attachedIndexes?.didRemove(table: t.id, sstables: inputGenerations, memtables: [])
                for r in inputs { deleteFiles(r) }
            }
            metrics.add(metrics.compactions, 1)
            metrics.add(metrics.compactionBytesRead, inputs.reduce(0) { $0 + $1.sizeOnDisk })
            metrics.add(metrics.compactionBytesWritten, size)
            logger.debug("compacted", metadata: ["table": "\(schema.keyspace).\(schema.name)", "inputs": "\(inputs.count)", "output": "\(d.generation)", "bytes": "\(size)"])
        } catch {
            writer?.abort()
            release()
            if case StorageError.closed = error { return }
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
        compactionExecutor.waitIdle()
        let (inputs, epoch): ([SSTableReader], Int) = t.stateLock.withLock {
            let free = t.sstables.filter { !t.compacting.contains($0.descriptor.generation) }
            let chosen = Set(pick(free.map(\.descriptor.generation)))
            t.compacting.formUnion(chosen)
            return (free.filter { chosen.contains($0.descriptor.generation) }, t.epochLocked)
        }
        if !inputs.isEmpty { try compact(t, inputs, epoch: epoch) }
    }
}
