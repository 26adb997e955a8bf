import BasaltCore
import Logging
import Synchronization

/// The write-ahead log shared by all tables: segmented, every record length-prefixed and
/// CRC32C-checked (``CommitLogSegmentFormat``).
///
/// Appending is a memcpy into an in-memory buffer under a lock. One sync thread writes buffered
/// records to the segment files and fsyncs them according to the ``CommitLogSyncMode``; writers
/// that need durability wait for (or are called back when) the synced position passes their
/// record, so concurrent writers share one fsync. A segment is deleted once every table that wrote
/// to it has flushed the memtables covering its records.
///
/// When a write or sync fails (disk full, I/O error), every record not yet synced is lost to the
/// log and its writer gets the error; the segment is abandoned and a fresh one started, and the
/// ``CommitLogWriteGate`` decides per ``CommitFailurePolicy`` whether writes are refused and when
/// the sync thread probes the disk again.
final class CommitLog: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `cond`, except the file handles, which only the
    // sync thread touches.
    private struct Segment {
        var dirty: [UUIDValue: CommitLogPosition] = [:]
        /// Written, synced and closed by the sync thread.
        var closed = false
    }

    let directory: String
    private let mode: CommitLogSyncMode
    private let segmentBytes: Int
    private let bufferLimit: Int
    private let logger: Logger
    /// Guards the log's state; writers blocked on durability or buffer room wait on it.
    private let cond: ConditionLock
    /// The sync thread waits here, so waking it does not wake blocked writers too.
    private let syncWake: ConditionLock.Condition

    // Append side (under `cond`).
    private var activeId: UInt64
    private var activeSize: Int
    private var buffer: [UInt8] = []
    private var bufferSegment: UInt64
    private var sealed: [(UInt64, [UInt8])] = []
    private var bufferedBytes = 0
    private var segments: [UInt64: Segment] = [:]
    private var appended: CommitLogPosition
    private var synced: CommitLogPosition
    private var waiters: [(CommitLogPosition, @Sendable (Result<Void, StorageError>) -> Void)] = []
    private var waitingSyncs = 0
    /// The sync thread is holding back a group sync until its window has passed or as many writers
    /// wait as the last sync released: new waiters need wake it only when that many wait.
    private var holdingSync = false
    /// Writers the last sync released (callbacks and blocked threads).
    private var lastGroup = 0
    /// As many writers wait as the last sync released, so a held sync need wait no longer.
    private var groupGathered: Bool { waiters.count + waitingSyncs >= lastGroup }
    private var closing = false
    private var gate: CommitLogWriteGate
    private let policy: CommitFailurePolicy
    /// Positions (exclusive lower, inclusive upper) whose records were lost to a write failure, with
    /// the error their writers get; the newest few, for writers that ask about durability late.
    private var lost: [(after: CommitLogPosition, upTo: CommitLogPosition, error: StorageError)] = []
    private let onFatal: @Sendable (StorageError) -> Void
    private var thread: WorkerThread?
    /// Prepares zero-filled files for new segments (nil: segments grow as they are written).
    private let preallocator: CommitLogPreallocator?
    /// Where a segment that grows rolls over: a megabyte when segments are preallocated (the next
    /// is then likely prepared), else the segment size.
    private let growingSegmentBytes: Int
    /// Where the active segment rolls over (under `cond`).
    private var activeLimit: Int
    /// Prepared files taken for segments the sync thread has not opened yet (under `cond`).
    private var preparedPaths: [UInt64: CommitLogPreallocator.Prepared] = [:]
    /// Duration of each fsync of a segment, nanoseconds.
    let syncLatency = BucketHistogram.latency()
    /// Syncs that released more than one writer (each may be followed by a window before the next).
    private var sharedSyncs = 0
    var sharedSyncCount: Int { cond.withLock { sharedSyncs } }
    /// Holds of a sync that lasted the whole window (fewer writers came back than the last sync
    /// released).
    private var windowWaits = 0
    var windowWaitCount: Int { cond.withLock { windowWaits } }
    /// Time blocking writers waited for room in the buffer, nanoseconds.
    let bufferWaits = BucketHistogram.latency()
    /// Live segments the log may have (their space limit in segments, at least 2) before the
    /// tables holding the oldest one should flush.
    private let spaceLimitSegments: Int
    /// Set at a roll-over that left more live segments than `spaceLimitSegments`; taken by
    /// ``takeSpaceRelief()``.
    private let reliefWanted = Atomic<Bool>(false)

    // Sync-thread side.
    private var file: WritableFile?
    private var fileId: UInt64 = 0
    private var spare: [UInt8] = []

    /// Opens a new log whose first segment id is `firstSegmentId`.
    /// `onFatal` is called (on the sync thread) when the policy is `die` and a write failed.
    /// With `preallocateSegments`, segments after the first are written over files of their full
    /// size (``CommitLogPreallocator``): segments no longer needed, each reported to `onReused`, or
    /// zero-filled files, each reported to `onPreallocated` with its bytes.
    init(directory: String, mode: CommitLogSyncMode, segmentBytes: Int, bufferLimitBytes: Int, firstSegmentId: UInt64,
         failurePolicy: CommitFailurePolicy = .stop, probeIntervalNanos: UInt64 = 1_000_000_000,
         preallocateSegments: Bool = false, onPreallocated: @escaping @Sendable (Int) -> Void = { _ in },
         onReused: @escaping @Sendable () -> Void = {}, totalSpaceBytes: Int = .max,
         onFatal: @escaping @Sendable (StorageError) -> Void = { _ in }, logger: Logger) throws {
        let lock = ConditionLock()
        cond = lock
        syncWake = lock.makeCondition()
        self.directory = directory
        gate = CommitLogWriteGate(policy: failurePolicy, probeIntervalNanos: probeIntervalNanos)
        policy = failurePolicy
        self.onFatal = onFatal
        self.mode = mode
        self.segmentBytes = max(segmentBytes, 64 << 10)
        self.bufferLimit = max(bufferLimitBytes, 1 << 20)
        spaceLimitSegments = max(2, totalSpaceBytes / self.segmentBytes)
        self.logger = logger
        try FileSystem.makeDirectories(directory)
        preallocator = preallocateSegments
            ? try CommitLogPreallocator(directory: directory, segmentBytes: self.segmentBytes, logger: logger,
                                        onPrepared: onPreallocated, onReused: onReused) : nil
        growingSegmentBytes = preallocateSegments ? min(self.segmentBytes, 1 << 20) : self.segmentBytes
        activeLimit = growingSegmentBytes
        activeId = firstSegmentId
        bufferSegment = firstSegmentId
        activeSize = CommitLogSegmentFormat.headerSize
        buffer.reserveCapacity(1 << 20)
        spare.reserveCapacity(1 << 20)
        buffer.append(contentsOf: CommitLogSegmentFormat.header(firstSegmentId))
        segments[firstSegmentId] = Segment()
        appended = CommitLogPosition(segment: firstSegmentId, offset: UInt32(activeSize))
        synced = CommitLogPosition(segment: firstSegmentId, offset: 0)
        thread = WorkerThread(name: "commitlog-sync") { [self] in syncLoop() }
    }

    /// The largest mutation encoding accepted.
    var maxRecordBytes: Int { segmentBytes / 2 }

    /// The position the next record will get (the upper bound of everything appended so far).
    var currentPosition: CommitLogPosition { cond.withLock { appended } }

    /// Appends a record for `table`; returns the position just past it (durable once synced there).
    /// With `mayBlock` false a full buffer fails at once with `.overloaded`.
    func append(_ payload: UnsafeRawBufferPointer, table: UUIDValue, mayBlock: Bool, deadlineNanos: UInt64) throws(StorageError) -> CommitLogPosition {
        let size = payload.count + CommitLogSegmentFormat.recordOverhead
        cond.lock()
        defer { cond.unlock() }
        var waitStart: UInt64 = 0
        defer { if waitStart != 0 { bufferWaits.recordElapsed(since: waitStart, now: SystemClock().monotonicNanos()) } }
        while bufferedBytes + size > bufferLimit && gate.refusal == nil && !closing {
            if !mayBlock { throw .overloaded("commit-log buffer full (\(bufferedBytes) bytes not yet written)") }
            if waitStart == 0 { waitStart = SystemClock().monotonicNanos() }
            syncWake.signal()
            if !cond.wait(nanos: deadlineNanos) {
                throw .overloaded("commit-log buffer stayed full for \(deadlineNanos / 1_000_000) ms")
            }
        }
        if let refusal = gate.refusal { throw refusal }
        if closing { throw .closed }
        if activeSize + size > activeLimit && activeSize > CommitLogSegmentFormat.headerSize {
            rollOver()
        }
        let offset = activeSize
        CommitLogSegmentFormat.appendRecord(payload, segment: activeId, to: &buffer)
        activeSize += size
        bufferedBytes += size
        let pos = CommitLogPosition(segment: activeId, offset: UInt32(offset))
        segments[activeId, default: Segment()].dirty[table] = pos
        appended = CommitLogPosition(segment: activeId, offset: UInt32(activeSize))
        if bufferedBytes >= 256 << 10 && bufferedBytes - size < 256 << 10 { syncWake.signal() }
        return appended
    }

    private func rollOver() {
        sealed.append((bufferSegment, buffer))
        buffer = []
        buffer.reserveCapacity(1 << 20)
        activeId += 1
        bufferSegment = activeId
        let prepared = preallocator?.take()
        if let prepared {
            preparedPaths[activeId] = prepared
            activeLimit = segmentBytes
        } else {
            activeLimit = growingSegmentBytes
        }
        buffer.append(contentsOf: CommitLogSegmentFormat.header(activeId, recycled: prepared?.reused ?? false))
        activeSize = CommitLogSegmentFormat.headerSize
        bufferedBytes += activeSize
        segments[activeId] = Segment()
        appended = CommitLogPosition(segment: activeId, offset: UInt32(activeSize))
        if segments.count > spaceLimitSegments { reliefWanted.store(true, ordering: .relaxed) }
    }

    /// When a roll-over left the live segments over the space limit (once per such roll-over): the
    /// tables whose records keep the oldest segment alive, which should flush so it can go.
    func takeSpaceRelief() -> [UUIDValue]? {
        guard reliefWanted.load(ordering: .relaxed), reliefWanted.exchange(false, ordering: .relaxed) else { return nil }
        return cond.withLock {
            guard segments.count > spaceLimitSegments, let oldest = segments.keys.min() else { return nil }
            return Array(segments[oldest]!.dirty.keys)
        }
    }

    /// Starts a new segment whose id is above `id`, so that positions recorded in SSTables written
    /// by an earlier process stay below every new record.
    func advanceSegmentId(above id: UInt64) {
        cond.withLock {
            guard activeId <= id else { return }
            if activeSize > CommitLogSegmentFormat.headerSize { rollOver() }
            // The active segment is empty: renumber it. If its header is still buffered, the old id
            // never reaches the disk.
            if buffer.count == CommitLogSegmentFormat.headerSize {
                segments[activeId] = nil
                bufferedBytes -= min(bufferedBytes, buffer.count)
            }
            let prepared = preparedPaths.removeValue(forKey: activeId)
            if let prepared { preparedPaths[id + 1] = prepared }
            activeId = id + 1
            bufferSegment = activeId
            buffer.removeAll(keepingCapacity: true)
            buffer.append(contentsOf: CommitLogSegmentFormat.header(activeId, recycled: prepared?.reused ?? false))
            activeSize = CommitLogSegmentFormat.headerSize
            segments[activeId] = Segment()
            appended = CommitLogPosition(segment: activeId, offset: UInt32(activeSize))
        }
    }

    /// Blocks until the record ending at `position` is durable per the sync mode.
    func awaitDurable(_ position: CommitLogPosition) throws(StorageError) {
        if mode.acknowledgesBeforeSync { return }
        cond.lock()
        defer { cond.unlock() }
        waitingSyncs += 1
        if !holdingSync || groupGathered { syncWake.signal() }
        defer { waitingSyncs -= 1 }
        while true {
            if let e = lostError(position) { throw e }
            if synced >= position { return }
            if let refusal = gate.refusal { throw refusal }
            cond.wait()
        }
    }

    /// The error of a record at or before `position` lost to a write failure (caller holds `cond`).
    private func lostError(_ position: CommitLogPosition) -> StorageError? {
        lost.last { $0.after < position && position <= $0.upTo }?.error
    }

    /// Whether writes are refused now, and how many write failures the log has seen.
    var writeState: (refusal: StorageError?, failures: Int) { cond.withLock { (gate.refusal, gate.failures) } }

    /// Calls `completion` on the sync thread once the record ending at `position` is durable (at
    /// once, on the caller's thread, in periodic mode or when it already is).
    func onDurable(_ position: CommitLogPosition, _ completion: @escaping @Sendable (Result<Void, StorageError>) -> Void) {
        if mode.acknowledgesBeforeSync { completion(.success(())); return }
        cond.lock()
        if let e = lostError(position) ?? (synced < position ? gate.refusal : nil) { cond.unlock(); completion(.failure(e)); return }
        if synced >= position { cond.unlock(); completion(.success(())); return }
        waiters.append((position, completion))
        if !holdingSync || groupGathered { syncWake.signal() }
        cond.unlock()
    }

    /// Records that `table` has flushed everything before `position`; deletes segments nobody
    /// needs any more.
    func markClean(table: UUIDValue, upTo position: CommitLogPosition) {
        let deletable: [UInt64] = cond.withLock {
            for (id, seg) in segments where seg.dirty[table] != nil && seg.dirty[table]! < position {
                segments[id]!.dirty[table] = nil
            }
            return collectDeletable()
        }
        deleteSegments(deletable)
    }

    /// Forgets a table entirely (dropped or truncated).
    func forget(table: UUIDValue) {
        let deletable: [UInt64] = cond.withLock {
            for id in segments.keys { segments[id]!.dirty[table] = nil }
            return collectDeletable()
        }
        deleteSegments(deletable)
    }

    private func collectDeletable() -> [UInt64] {
        var out: [UInt64] = []
        for (id, seg) in segments where seg.closed && seg.dirty.isEmpty && id < activeId {
            out.append(id)
        }
        for id in out { segments[id] = nil }
        return out
    }

    /// Deletes the segments' files, or keeps them for reuse as later segments (as many as the log
    /// had live segments, these included).
    private func deleteSegments(_ ids: [UInt64]) {
        let live = ids.isEmpty ? 0 : cond.withLock { segments.count } + ids.count
        for id in ids {
            let path = directory + "/" + CommitLogSegmentFormat.fileName(id)
            if preallocator?.offer(path, keepingUpTo: live) == true { continue }
            do { try FileSystem.remove(path) } catch { logger.warning("could not delete commit-log segment", metadata: ["path": "\(path)", "error": "\(error)"]) }
        }
    }

    /// Segment ids with files still on disk (for tests and diagnostics).
    var liveSegmentIds: [UInt64] { cond.withLock { segments.keys.sorted() } }

    /// Writes and syncs everything buffered, then stops the sync thread.
    func close() {
        cond.withLock {
            closing = true
            cond.broadcast()
            syncWake.signal()
        }
        thread?.join()
        thread = nil
        preallocator?.close()
        for p in cond.withLock({ preparedPaths.values }) { try? FileSystem.remove(p.path) }
    }

    // MARK: sync thread

    private var intervalNanos: UInt64 {
        switch mode {
        case let .periodic(i): max(i, 1_000_000)
        case .group, .batch: 100_000_000
        }
    }

    private func syncLoop() {
        var lastSync = SystemClock().monotonicNanos()
        var lastWrite = lastSync
        // Group mode: when the last sync started. Writers that overlap (the last sync released
        // more than one, `lastGroup > 1`) share syncs spaced up to a window apart: the next sync
        // waits for the window or for as many writers as the last one released, whichever comes
        // first (writers in a closed loop come back together and need not wait). A lone writer
        // never waits.
        var lastSyncStart = lastSync
        // The acknowledgements one sync releases; kept across rounds (emptied, capacity kept up to
        // 4,096) so that handing them out allocates nothing per write.
        var ready: [@Sendable (Result<Void, StorageError>) -> Void] = []
        cond.lock()
        while true {
            let now = SystemClock().monotonicNanos()
            if gate.refusal != nil {
                if closing { break }
                if gate.isProbeDue(nowNanos: now) {
                    probe()
                } else {
                    syncWake.wait(nanos: min(gate.nanosUntilProbe(nowNanos: now) ?? intervalNanos, intervalNanos))
                }
                continue
            }
            let wantSync = !waiters.isEmpty || waitingSyncs > 0
            let hasData = bufferedBytes > 0 || !sealed.isEmpty
            let unsynced = synced < appended
            let intervalDue = now &- lastSync >= intervalNanos
            let bigBuffer = bufferedBytes >= 256 << 10
            let syncDue: Bool
            let writeDue: Bool
            switch mode {
            case .periodic:
                syncDue = unsynced && (intervalDue || closing)
                writeDue = hasData && (closing || bigBuffer || now &- lastWrite >= 1_000_000)
            case .group, .batch:
                // Batch mode is group commit without a window: every waiter gets the next sync.
                let window: UInt64 = if case let .group(w) = mode { w } else { 0 }
                let spacing = lastGroup > 1 ? window : 0
                let early = wantSync && !closing && !intervalDue && now &- lastSyncStart < spacing && !groupGathered
                if early && !bigBuffer {
                    // Writers overlap: let more of them join the sync due a window after the last one.
                    holdingSync = true
                    if !syncWake.wait(nanos: spacing - (now &- lastSyncStart)) { windowWaits += 1 }
                    holdingSync = false
                    continue
                }
                syncDue = unsynced && (wantSync || closing || intervalDue) && !early
                writeDue = hasData && bigBuffer
            }
            if !(syncDue || writeDue) {
                if closing { break }
                let wait: UInt64 = if case .periodic = mode { 1_000_000 } else { intervalNanos }
                syncWake.wait(nanos: wait)
                continue
            }
            var batches = sealed
            sealed = []
            swap(&buffer, &spare)
            batches.append((bufferSegment, spare))
            bufferedBytes = 0
            let target = appended
            cond.unlock()
            var closedIds: [UInt64] = []
            var error: StorageError?
            do {
                for (id, bytes) in batches {
                    if file == nil || fileId != id {
                        if let f = file {
                            try f.sync()
                            try f.close()
                            closedIds.append(fileId)
                        }
                        file = nil
                        let path = directory + "/" + CommitLogSegmentFormat.fileName(id)
                        if let prepared = cond.withLock({ preparedPaths.removeValue(forKey: id) }) {
                            try FileSystem.rename(prepared.path, path)
                            file = try WritableFile(overwriting: path)
                        } else {
                            file = try WritableFile(path: path)
                        }
                        fileId = id
                        // The new file's directory entry must be durable before anything in it is
                        // acknowledged (fdatasync covers the file, not its name).
                        try FileSystem.syncDirectory(directory)
                    }
                    if !bytes.isEmpty { try file?.write(bytes) }
                }
                if syncDue, let f = file {
                    let start = SystemClock().monotonicNanos()
                    lastSyncStart = start
                    try f.sync()
                    syncLatency.recordElapsed(since: start, now: SystemClock().monotonicNanos())
                }
            } catch let e as StorageError {
                error = e
            } catch {
                self.error(error)
            }
            lastWrite = SystemClock().monotonicNanos()
            if syncDue { lastSync = lastWrite }
            if error != nil {
                // The segment being written may now end in a torn record: never append to it again.
                try? file?.close()
                file = nil
                closedIds.append(fileId)
            }
            let failedIds = batches.map(\.0)
            spare = batches.removeLast().1
            spare.removeAll(keepingCapacity: true)
            cond.lock()
            for id in closedIds { segments[id]?.closed = true }
            var failed: [@Sendable (Result<Void, StorageError>) -> Void] = []
            var actions: [CommitLogWriteGate.Action] = []
            var lostError: StorageError?
            if let error {
                lostError = .commitLogUnavailable(error.summary)
                abandonUnsynced(failedIds, error: lostError!)
                actions = gate.onWriteFailure(error, nowNanos: lastWrite)
                failed = waiters.map(\.1)
                waiters = []
            } else {
                if syncDue { synced = target }
                // Moves the durable waiters to `ready` in place (`removeAll(where:)` with a
                // capturing closure allocated several times a round).
                var kept = 0
                for i in waiters.indices {
                    if waiters[i].0 <= synced {
                        ready.append(waiters[i].1)
                    } else {
                        if kept != i { waiters[kept] = waiters[i] }
                        kept += 1
                    }
                }
                waiters.removeLast(waiters.count - kept)
                if syncDue {
                    lastGroup = ready.count + waitingSyncs
                    if lastGroup > 1 { sharedSyncs += 1 }
                }
            }
            let deletable = closedIds.isEmpty ? [] : collectDeletable()
            cond.broadcast()
            if !ready.isEmpty || !failed.isEmpty || !deletable.isEmpty || !actions.isEmpty {
                cond.unlock()
                perform(actions)
                for r in ready { r(.success(())) }
                // (A rare burst's capacity is not kept.)
                ready.removeAll(keepingCapacity: ready.capacity <= 4096)
                if let lostError { for f in failed { f(.failure(lostError)) } }
                deleteSegments(deletable)
                cond.lock()
            }
        }
        cond.unlock()
        if let f = file {
            try? f.sync()
            try? f.close()
        }
    }

    /// After a failed write (caller holds `cond`): every record appended and not synced is lost
    /// (its writers get `error`), the segments it was bound for are closed for good, and a fresh
    /// segment is started whose header is the first thing written when writing works again.
    private func abandonUnsynced(_ writtenIds: [UInt64], error: StorageError) {
        if synced < appended {
            lost.append((synced, appended, error))
            if lost.count > 64 { lost.removeFirst(lost.count - 64) }
        }
        for id in writtenIds + sealed.map(\.0) + [bufferSegment] {
            segments[id]?.closed = true
            if let prepared = preparedPaths.removeValue(forKey: id) { try? FileSystem.remove(prepared.path) }
        }
        sealed = []
        activeLimit = growingSegmentBytes
        activeId += 1
        bufferSegment = activeId
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: CommitLogSegmentFormat.header(activeId))
        activeSize = CommitLogSegmentFormat.headerSize
        bufferedBytes = activeSize
        segments[activeId] = Segment()
        appended = CommitLogPosition(segment: activeId, offset: UInt32(activeSize))
    }

    /// Tries the disk while writes are refused (caller holds `cond`; released meanwhile): creates the
    /// fresh segment, writes and syncs its header and the directory. Success reopens the gate.
    private func probe() {
        let id = bufferSegment
        let header = CommitLogSegmentFormat.header(id)
        cond.unlock()
        let path = directory + "/" + CommitLogSegmentFormat.fileName(id)
        var result: Result<Void, StorageError> = .success(())
        var opened: WritableFile?
        do {
            let f = try WritableFile(path: path)
            opened = f
            try f.write(header)
            try f.sync()
            try FileSystem.syncDirectory(directory)
        } catch let e as StorageError {
            result = .failure(e)
            try? opened?.close()
            opened = nil
        } catch {
            result = .failure(.io(path: path, operation: "probe", errno: EIO))
        }
        let now = SystemClock().monotonicNanos()
        cond.lock()
        if let opened, bufferSegment == id, sealed.isEmpty {
            file = opened
            fileId = id
            buffer.removeAll(keepingCapacity: true)
            bufferedBytes = 0
            synced = appended
        }
        let actions = gate.onProbe(result, nowNanos: now)
        cond.broadcast()
        cond.unlock()
        perform(actions)
        cond.lock()
    }

    private func perform(_ actions: [CommitLogWriteGate.Action]) {
        for a in actions {
            switch a {
            case let .logRefusing(e):
                logger.error("commit log cannot be written; refusing writes until it can (reads go on)",
                             metadata: ["error": "\(e.summary)", "commit_failure_policy": "\(policy.rawValue)"])
            case let .logResumed(refused, probes):
                logger.notice("commit log writable again; writes resumed",
                              metadata: ["refused_ms": "\(refused / 1_000_000)", "probes": "\(probes)"])
            case let .logIgnored(e):
                logger.error("commit log write failed; the writes concerned failed, later writes go on (commit_failure_policy ignore)",
                             metadata: ["error": "\(e.summary)"])
            case let .exitProcess(e):
                logger.critical("commit log cannot be written; exiting (commit_failure_policy die)", metadata: ["error": "\(e.summary)"])
                onFatal(e)
            }
        }
    }

    private func error(_ e: any Error) {
        logger.error("unexpected commit-log error", metadata: ["error": "\(e)"])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
