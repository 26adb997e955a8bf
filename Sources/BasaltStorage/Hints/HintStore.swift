import BasaltCore
import Logging
import Synchronization

/// Durable, bounded storage of hints for hinted handoff: per target replica (its host id), the
/// mutations it missed, in write order, until they are delivered or forgotten.
///
/// Guarantees:
/// - A hint accepted by ``write(mutation:for:createdAtMicros:)`` is in its segment file (handed to
///   the kernel) when the call returns, so a process crash loses none; it is fsynced, with its
///   file's directory entry, within ``HintStoreConfig/syncIntervalNanos`` or by ``sync()``, after
///   which a machine crash loses none either. Writes never wait for an fsync.
/// - ``nextBatch(for:maxBytes:)`` returns a target's hints in write order after its delivery
///   cursor, including hints not yet fsynced. The cursor lives in memory only: after a restart
///   every hint not in a deleted segment is returned again (delivering a hint twice is harmless,
///   mutations are idempotent), while segments wholly delivered before were deleted and stay gone.
/// - Damage in a file (torn tail, checksum mismatch, bad header) never traps and never stops the
///   store: it is logged as ``StorageError/corrupt(path:offset:reason:)``, counted, and ends (or
///   skips) that segment only.
/// - Bounded: a write that would take a target above ``HintStoreConfig/maxBytesPerTarget`` or all
///   targets above ``HintStoreConfig/maxTotalBytes`` on disk is refused with
///   ``HintStoreError/full(target:limitBytes:)``.
///
/// Threading: every method is thread-safe. Writers to one target serialise on that target's lock
/// (a `pwrite` each); writers to different targets do not meet except for an atomic byte total.
/// One delivery task per target is expected to call `nextBatch` and `markDelivered` in turn; it
/// reads the files outside the lock, so writes continue meanwhile. Call ``close()`` before
/// dropping the store (its sync thread holds it).
///
/// Files: `<directory>/<target host id>-<segment id>.hints` (``HintSegmentFormat``), and `LOCK`,
/// held with `flock` while open: one store per directory.
public final class HintStore: @unchecked Sendable {
    // @unchecked: `targetsByID` is guarded by `targetsLock`; each HintTarget's state by its own
    // lock; `stopping` by `syncSignal`; `syncThread` is written in init and read only by the one
    // close() that wins `closed`; everything else is immutable or atomic.
    public let directory: String
    public let config: HintStoreConfig
    let logger: Logger
    /// The event counters (the pending figures are filled in by ``counters``).
    let metrics = Mutex(HintStoreCounters())
    /// Bytes of all segment files plus bytes reserved by writes in progress.
    let totalBytes = Atomic<Int>(0)
    let nextSegmentId: Atomic<UInt64>
    let closed = Atomic<Bool>(false)
    /// A file was created or deleted since the directory was last fsynced.
    let directoryDirty = Atomic<Bool>(false)
    private let targetsLock = Lock()
    private var targetsByID: [UUIDValue: HintTarget] = [:]
    /// Serialises sync passes, so a `sync()` returns only after any pass in progress is done.
    let syncLock = Lock()
    let syncSignal = ConditionLock()
    var stopping = false
    var syncThread: WorkerThread?
    let lockFD: Int32

    /// Opens `directory` (created if missing), finds the existing segment files of every target
    /// (checking every record: damage is logged and counted, empty and unreadable files are
    /// deleted), removes temporary files, and starts the background sync thread.
    public init(directory: String, config: HintStoreConfig = .init(), logger: Logger) throws(HintStoreError) {
        self.directory = directory
        self.config = config
        self.logger = logger
        let found: Recovery
        do {
            try FileSystem.makeDirectories(directory)
            lockFD = try Self.lockDirectory(directory)
        } catch {
            throw HintStoreError(error)
        }
        do {
            found = try Self.recover(directory: directory, logger: logger)
        } catch {
            Self.unlockDirectory(lockFD)
            throw HintStoreError(error)
        }
        // Segment ids grow across restarts: above every file found and above the wall clock in µs
        // (so they grow even when every file was delivered and deleted).
        nextSegmentId = Atomic(max(found.maxSegmentId + 1, UInt64(max(0, SystemClock().now().micros))))
        targetsByID = found.targets
        totalBytes.store(found.diskBytes, ordering: .relaxed)
        metrics.withLock {
            $0.droppedCorrupt = found.damaged
            $0.droppedCorruptBytes = found.damagedBytes
            $0.segmentsDeleted = found.deleted
        }
        if found.deleted > 0 { directoryDirty.store(true, ordering: .relaxed) }
        let segments = found.targets.values.reduce(0) { $0 + $1.log.segments.count }
        let hints = found.targets.values.reduce(0) { $0 + $1.log.pendingHints }
        logger.info("hint store opened", metadata: [
            "directory": "\(directory)", "segments": "\(segments)", "hints": "\(hints)", "bytes": "\(found.diskBytes)",
        ])
        syncThread = WorkerThread(name: "hints-sync") { [self] in syncLoop() }
    }

    /// Appends a hint for `target`. Thread-safe; never blocks on fsync (a `pwrite` into the
    /// target's open segment, a new segment file when that one is full).
    public func write(mutation: [UInt8], for target: UUIDValue, createdAtMicros: Int64) throws(HintStoreError) {
        let t = state(of: target, create: true)!
        let recordBytes = HintSegmentFormat.recordBytes(mutationCount: mutation.count)
        let h = HintSegmentFormat.headerSize
        t.lock.lock()
        defer { t.lock.unlock() }
        if closed.load(ordering: .acquiring) { throw .io("closed") }
        let newSegment = t.log.openEnd.map { $0 > h && $0 + recordBytes > config.segmentBytes } ?? true
        let cost = recordBytes + (newSegment ? h : 0)
        if t.log.diskBytes + cost > config.maxBytesPerTarget || recordBytes - HintSegmentFormat.framingBytes > Int(UInt32.max) {
            metrics.withLock { $0.droppedFull += 1 }
            throw .full(target: target, limitBytes: config.maxBytesPerTarget)
        }
        guard reserve(cost) else {
            metrics.withLock { $0.droppedFull += 1 }
            throw .full(target: target, limitBytes: config.maxTotalBytes)
        }
        var used = 0
        do throws(StorageError) {
            if newSegment {
                try t.startSegment(nextSegmentId.wrappingAdd(1, ordering: .relaxed).oldValue)
                used += h
                directoryDirty.store(true, ordering: .releasing)
            }
            used += try t.append(mutation: mutation, createdAtMicros: createdAtMicros)
        } catch {
            totalBytes.subtract(cost - used, ordering: .relaxed)
            if used > 0 { metrics.withLock { $0.segmentsCreated += 1 } }
            throw HintStoreError(error)
        }
        metrics.withLock {
            $0.written += 1
            $0.bytesWritten += mutation.count
            if newSegment { $0.segmentsCreated += 1 }
        }
    }

    /// Targets that have undelivered hints, ordered by host id.
    public func targets() -> [UUIDValue] {
        allTargets().filter { t in t.lock.withLock { t.log.pendingHints > 0 } }.map(\.id)
            .sorted { ($0.msb, $0.lsb) < ($1.msb, $1.lsb) }
    }

    /// Bytes of `target`'s undelivered hint records (framing included).
    public func pendingBytes(for target: UUIDValue) -> Int {
        guard let t = state(of: target, create: false) else { return 0 }
        return t.lock.withLock { t.log.pendingBytes }
    }

    /// Up to about `maxBytes` of mutations (at least one hint) of `target`'s hints after its
    /// delivery cursor, in write order; nil when there are none. Reads from disk (hints written but
    /// not yet fsynced are readable too). A record failing its checksum or truncated ends that
    /// segment: the error is logged naming the file and offset, counted in `droppedCorrupt`, and
    /// reading continues with the next segment.
    public func nextBatch(for target: UUIDValue, maxBytes: Int) -> HintBatch? {
        guard let t = state(of: target, create: false) else { return nil }
        let (start, plan) = t.lock.withLock { (t.log.cursor, t.log.readPlan()) }
        var hints: [Hint] = []
        var bytes = 0
        var end = start
        for step in plan {
            if !hints.isEmpty && bytes >= maxBytes { break }
            let before = hints.count
            let outcome: HintSegmentReader.Outcome
            do throws(StorageError) {
                // Nil: deleted meanwhile by deleteAll.
                guard let file = try HintFile.openForReading(t.path(step.segment)) else { break }
                var reader = HintSegmentReader(file: file, chunkBytes: min(max(maxBytes, 64 << 10), 4 << 20))
                outcome = try reader.read(from: step.from, to: step.end) { createdAt, mutation in
                    hints.append(Hint(createdAtMicros: createdAt, mutation: mutation))
                    bytes += mutation.count
                    return bytes < maxBytes
                }
            } catch {
                logger.error("could not read hint segment", metadata: ["target": "\(target)", "error": "\(error)"])
                bytes -= hints[before...].reduce(0) { $0 + $1.mutation.count }
                hints.removeSubrange(before...)
                break
            }
            end = HintCursor(segment: step.segment, offset: outcome.position, recordsBefore: step.recordsBefore + outcome.records)
            if let damage = outcome.damage {
                cut(t, step.segment, at: end, damage)
            } else if outcome.position < step.end {
                break
            }
        }
        if hints.isEmpty {
            // Only damaged or empty segments lay after the cursor: step over them.
            if start < end { advance(t, to: end) }
            return nil
        }
        return HintBatch(target: target, hints: hints, end: end, byteCount: bytes)
    }

    /// Everything up to `batch.end` was delivered: advances the cursor and deletes the segments
    /// wholly delivered (the open one too, closed, when nothing was written after the batch). A
    /// batch at or before the cursor (delivered before, or read before a `deleteAll`) changes
    /// nothing.
    public func markDelivered(_ batch: HintBatch) {
        guard let t = state(of: batch.target, create: false) else { return }
        if advance(t, to: batch.end) { metrics.withLock { $0.delivered += batch.hints.count } }
    }

    /// Forgets every hint for `target` (node removed from the ring, or hints too old): its files
    /// are deleted and their bytes freed.
    public func deleteAll(for target: UUIDValue) {
        guard let t = state(of: target, create: false) else { return }
        let (removed, undelivered) = t.lock.withLock {
            t.dropFiles()
            return t.log.removeAll()
        }
        metrics.withLock { $0.droppedDeleted += undelivered }
        delete(removed, of: t)
    }

    /// A snapshot of the counters and of what is pending.
    public var counters: HintStoreCounters {
        var c = metrics.withLock { $0 }
        for t in allTargets() {
            t.lock.withLock {
                c.pendingBytes += t.log.pendingBytes
                c.pendingHints += t.log.pendingHints
                c.diskBytes += t.log.diskBytes
                c.segments += t.log.segments.count
            }
        }
        return c
    }

    // MARK: internals

    func state(of target: UUIDValue, create: Bool) -> HintTarget? {
        targetsLock.withLock {
            if let t = targetsByID[target] { return t }
            guard create else { return nil }
            let t = HintTarget(id: target, directory: directory)
            targetsByID[target] = t
            return t
        }
    }

    func allTargets() -> [HintTarget] { targetsLock.withLock { Array(targetsByID.values) } }

    /// Takes `n` bytes from the total allowance; false when that would exceed it.
    private func reserve(_ n: Int) -> Bool {
        var current = totalBytes.load(ordering: .relaxed)
        while true {
            if current + n > config.maxTotalBytes { return false }
            let (done, found) = totalBytes.compareExchange(expected: current, desired: current + n, ordering: .relaxed)
            if done { return true }
            current = found
        }
    }

    /// Moves `t`'s cursor to `end`, deleting the segments wholly before it; false when `end` is
    /// not after the cursor.
    @discardableResult
    private func advance(_ t: HintTarget, to end: HintCursor) -> Bool {
        let removed: [HintTargetLog.Segment]? = t.lock.withLock {
            let removed = t.log.advance(to: end)
            t.releaseOpenFile(deleted: true)
            return removed
        }
        guard let removed else { return false }
        delete(removed, of: t)
        return true
    }

    /// Records damage found at `position` while reading: the rest of that segment is dropped
    /// (logged and counted the first time only).
    private func cut(_ t: HintTarget, _ segment: UInt64, at position: HintCursor, _ damage: StorageError) {
        let cut: HintTargetLog.Cut? = t.lock.withLock {
            let cut = t.log.cut(segment: segment, at: position.offset, recordsBefore: position.recordsBefore)
            t.releaseOpenFile(deleted: false)
            return cut
        }
        guard let cut else { return }
        metrics.withLock {
            $0.droppedCorrupt += 1
            $0.droppedCorruptBytes += cut.bytes
        }
        Self.logDamage(damage, logger: logger, "damaged hint segment: the rest of it is skipped",
                       ["target": "\(t.id)", "droppedHints": "\(cut.records)"])
    }

    /// Deletes the files of segments removed from `t`'s log and frees their bytes.
    private func delete(_ segments: [HintTargetLog.Segment], of t: HintTarget) {
        guard !segments.isEmpty else { return }
        for s in segments {
            do {
                try FileSystem.remove(t.path(s.id))
            } catch {
                logger.warning("could not delete hint segment", metadata: ["error": "\(error)"])
            }
        }
        totalBytes.subtract(segments.reduce(0) { $0 + $1.fileBytes }, ordering: .relaxed)
        metrics.withLock { $0.segmentsDeleted += segments.count }
        directoryDirty.store(true, ordering: .releasing)
    }
}
