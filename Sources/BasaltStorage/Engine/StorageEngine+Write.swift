import BasaltCore

extension StorageEngine {
    /// Applies a mutation and returns once it is durable per the commit-log sync mode (at once in
    /// periodic mode). Blocks the calling thread: never call it on an event loop.
    /// Throws ``StorageError``.
    public func apply(_ m: Mutation) throws {
        let pos: CommitLogPosition
        do { pos = try applyLocally(m, mayBlock: true) } catch let e as StorageError {
            countRefusal(e)
            throw e
        }
        try commitLog.awaitDurable(pos)
    }

    private func countRefusal(_ e: StorageError) {
        if case .commitLogUnavailable = e { metrics.add(metrics.refusedWrites, 1) }
    }

    /// Applies a mutation without blocking on I/O: `completion` runs on the commit-log sync thread
    /// once the write is durable (on the caller's thread when it fails at once, or in periodic
    /// mode). When a bound is reached (flush backlog, commit-log buffer) it fails with
    /// ``StorageError/overloaded(_:)`` instead of waiting.
    public func apply(_ m: Mutation, completion: @escaping @Sendable (Result<Void, StorageError>) -> Void) {
        do {
            let pos = try applyLocally(m, mayBlock: false)
            commitLog.onDurable(pos, completion)
        } catch let e as StorageError {
            countRefusal(e)
            completion(.failure(e))
        } catch {
            completion(.failure(.invalid("\(error)")))
        }
    }

    /// Applies a mutation, suspending until it is durable; never blocks a thread.
    public func apply(_ m: Mutation) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            apply(m) { r in c.resume(with: r.mapError { $0 as any Error }) }
        }
    }

    /// Validates, logs and inserts a mutation; returns its commit-log end position.
    func applyLocally(_ m: Mutation, mayBlock: Bool) throws -> CommitLogPosition {
        if isClosed { throw StorageError.closed }
        let t = try table(m.tableId)
        let started = clock.monotonicNanos()
        let cmp = t.comparatorSnapshot
        if let problem = m.validationProblem(clusteringColumns: cmp.clusteringCount) { throw StorageError.invalid(problem) }
        let update = m.update.normalized(cmp)
        let token = Murmur3.token(m.partitionKey).value
        let range = update.timestampRange ?? (Int64.max, Int64.min)
        let tombstones = update.tombstoneCount
        if !memtableMemory.waitForRoom(mayBlock: mayBlock, timeoutNanos: config.writeBlockTimeoutNanos, stalls: writeStalls[.memtableMemory]) {
            metrics.add(metrics.overloadedWrites, 1)
            throw StorageError.overloaded("memtables hold \(memtableMemory.current) bytes, more than the \(memtableMemory.hardLimit)-byte limit; flushes are behind")
        }
        defer { if memtableMemory.isAboveFlushThreshold { relieveMemoryPressure() } }
        defer { if let tables = commitLog.takeSpaceRelief() { relieveCommitLogSpace(tables) } }
        if mayBlock { slowForCompactionDebt(t) }
        t.writeLock.lock()
        defer { t.writeLock.unlock() }
        if t.dropped { throw StorageError.unknownTable(m.tableId) }
        try ensureRoom(t, mayBlock: mayBlock)
        // Work on a local buffer (moved out of the table and back, no copy) so the many small
        // writes below are plain stack accesses.
        var w = ByteWriter(capacity: 0)
        swap(&w, &t.scratch)
        defer { swap(&w, &t.scratch) }
        w.removeAll(keepingCapacity: true)
        w.writeUInt8(StorageCodec.version)
        StorageCodec.writeTableRef(keyspace: m.keyspace, table: m.table, id: m.tableId, &w)
        w.writeVarUInt(UInt64(m.partitionKey.count))
        let keyStart = w.count
        w.writeBytes(m.partitionKey)
        let bodyStart = w.count
        StorageCodec.writePartition(update, &w)
        let size = w.count
        guard size <= commitLog.maxRecordBytes else {
            throw StorageError.invalid("mutation of \(size) bytes exceeds the limit of \(commitLog.maxRecordBytes) (half a commit-log segment)")
        }
        let mt = t.memtable
        let pos = try w.bytes.withUnsafeBytes { all in
            // Non-durable tables skip the log; position zero is always "already durable".
            let p = t.durableWrites ? try commitLog.append(all, table: m.tableId, mayBlock: mayBlock, deadlineNanos: config.writeBlockTimeoutNanos) : CommitLogPosition.zero
            t.noteMemtableSize(mt.apply(token: token, key: UnsafeRawBufferPointer(rebasing: all[keyStart ..< bodyStart]),
                                        body: UnsafeRawBufferPointer(rebasing: all[bodyStart ..< size]),
                                        minTimestamp: range.0, maxTimestamp: range.1, tombstones: tombstones, cmp))
            return p
        }
        attachedIndexes?.didWrite(table: t.id, memtable: mt.id, partitionKey: m.partitionKey, update: update)
        metrics.add(metrics.writes, 1)
        metrics.add(metrics.bytesWritten, size)
        if t.durableWrites { metrics.add(metrics.commitLogBytes, size + CommitLogSegmentFormat.recordOverhead) }
        t.histograms.writeLatency.recordElapsed(since: started, now: clock.monotonicNanos())
        return pos
    }

    /// Makes room in the memtable (caller holds the table's write lock): switches a full memtable
    /// when the flush backlog allows, else waits for a flush (blocking callers) or fails overloaded.
    func ensureRoom(_ t: TableStore, mayBlock: Bool) throws {
        let fraction = t.flushFraction ?? drawFlushFraction(t)
        guard Double(t.memtableBytes) >= fraction * Double(config.memtableSizeLimitBytes) else { return }
        let start = clock.monotonicNanos()
        var stalled = false
        defer { if stalled { writeStalls[.flushBacklog].recordElapsed(since: start, now: clock.monotonicNanos()) } }
        while t.pendingFlushes >= max(1, config.maxPendingFlushesPerTable) {
            stalled = true
            metrics.add(metrics.overloadedWrites, 1)
            if !mayBlock {
                throw StorageError.overloaded("table \(t.name): \(t.pendingFlushes) memtables waiting for flush")
            }
            let waited = clock.monotonicNanos() &- start
            if waited >= config.writeBlockTimeoutNanos || isClosed {
                throw StorageError.overloaded("table \(t.name): flush backlog did not clear in \(waited / 1_000_000) ms")
            }
            t.writeLock.wait(nanos: min(100_000_000, config.writeBlockTimeoutNanos - waited))
        }
        let old = t.switchMemtable(at: commitLog.currentPosition)
        _ = drawFlushFraction(t)
        submitFlush(t, old, paced: true)
    }

    /// Draws where the table's next memtable is switched: between `1 - memtableFlushJitter` and 1
    /// of the size limit, so replicas holding the same data do not flush at the same moment.
    private func drawFlushFraction(_ t: TableStore) -> Double {
        let f = 1 - config.memtableFlushJitter * Double.random(in: 0 ..< 1)
        t.flushFraction = f
        return f
    }

    /// Flushes the largest active memtable whose table has room in its flush backlog (memtables
    /// together hold more than the global limit). One thread at a time does this.
    func relieveMemoryPressure() {
        guard relievingMemory.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        defer { relievingMemory.store(false, ordering: .releasing) }
        var best: (TableStore, Int)?
        for t in allTables {
            let size = t.writeLock.withLock { t.memtableBytes }
            if size > (best?.1 ?? 0), t.pendingFlushes < max(1, config.maxPendingFlushesPerTable) { best = (t, size) }
        }
        if let (t, _) = best { _ = try? forceFlush(t) }
    }

    /// Flushes the tables whose records keep the oldest commit-log segment alive (the live segments
    /// take more than ``StorageConfig/commitLogTotalSpaceBytes``), unless a flush of theirs is
    /// already under way; a table with nothing in memory is marked clean at once.
    func relieveCommitLogSpace(_ tableIds: [UUIDValue]) {
        for id in tableIds {
            guard let t = try? table(id) else { continue }
            let flushed: Bool = t.writeLock.withLock {
                guard t.pendingFlushes == 0 else { return false }
                if t.memtable.isEmpty {
                    // Everything it logged is in SSTables (its writes hold this lock).
                    commitLog.markClean(table: t.id, upTo: commitLog.currentPosition)
                    return false
                }
                submitFlush(t, t.switchMemtable(at: commitLog.currentPosition), paced: true)
                return true
            }
            if flushed { metrics.add(metrics.commitLogSpaceFlushes, 1) }
        }
    }

    /// Applies a mutation read back from the commit log at `position` (no logging).
    func applyReplayed(_ t: TableStore, _ m: Mutation, at position: CommitLogPosition) throws {
        let (_, cmp) = t.currentSchema
        let update = m.update.normalized(cmp)
        let token = Murmur3.token(m.partitionKey).value
        let range = update.timestampRange ?? (Int64.max, Int64.min)
        var w = ByteWriter(capacity: 256)
        StorageCodec.writePartition(update, &w)
        t.writeLock.lock()
        defer { t.writeLock.unlock() }
        try ensureRoom(t, mayBlock: true)
        let mt = t.memtable
        let next = CommitLogPosition(segment: position.segment, offset: position.offset &+ 1)
        if let i = mt.replayedIntervals.first {
            mt.replayedIntervals = [CommitLogInterval(lower: min(i.lower, position), upper: max(i.upper, next))]
        } else {
            mt.replayedIntervals = [CommitLogInterval(lower: position, upper: next)]
        }
        m.partitionKey.withUnsafeBytes { k in
            w.bytes.withUnsafeBytes { b in
                t.noteMemtableSize(mt.apply(token: token, key: k, body: b, minTimestamp: range.0, maxTimestamp: range.1, tombstones: update.tombstoneCount, cmp))
            }
        }
        attachedIndexes?.didWrite(table: t.id, memtable: mt.id, partitionKey: m.partitionKey, update: update)
    }
}
