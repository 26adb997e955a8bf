import BasaltCore
import Logging

/// Keeps a file of a segment's full size ready for the commit log's next segment: a segment no
/// longer needed, reused, or else a zero-filled one.
///
/// A segment that grows with every append makes each sync write the inode too (its size changed)
/// besides the data: on the disks measured, about a third more writes per sync and syncs that took
/// about 1.6 times as long (docs/storage.md, "Preallocated segments"). A preallocated segment is
/// written over, never grown, so a sync writes only the data.
///
/// Segments the log no longer needs are offered back (``offer(_:keepingUpTo:)``) and kept instead
/// of deleted, as many as the log had live segments before they were freed (at least two, at most
/// ``maxKept``): reusing one writes nothing ahead, where a zero-filled file costs as many bytes
/// written as the segment holds. A flush frees about as many segments at once as its memtable's
/// records spanned, and the log starts that many again before the next flush, so keeping that many
/// leaves nothing to zero-fill. Their old records stay in them behind the new ones, which the
/// record framing tells apart (``CommitLogSegmentFormat``).
///
/// When no reused file is ready, a background thread (`commitlog-alloc`) writes a zero-filled one a
/// megabyte at a time, syncing each, so that it never queues a large burst ahead of the commit log's
/// own syncs. The log takes a file when it starts a segment, and the thread prepares the next if
/// none is left. Nothing is prepared before the first roll-over, so a log that never fills a
/// segment (a short-lived engine, a test) writes no zeros. When none is ready (the first segment, or
/// segments rolling faster than files are prepared) or preparing one failed (a full disk), the
/// segment is created empty and grows as before; the log then rolls it over early
/// (``CommitLog``), and the next roll-over asks again.
final class CommitLogPreallocator: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `cond`.
    /// A file ready to become a segment.
    struct Prepared: Sendable {
        var path: String
        /// A segment no longer needed, whose old records follow wherever the new ones end.
        var reused: Bool
    }

    /// Segment files kept for reuse at most, whatever the log's size (the thread zero-fills a file
    /// only when none is ready).
    static let maxKept = 16
    private let directory: String
    private let bytes: Int
    private let logger: Logger
    /// Called with the bytes of each zero-filled file prepared.
    private let onPrepared: @Sendable (Int) -> Void
    /// Called for each segment file kept for reuse.
    private let onReused: @Sendable () -> Void
    private let cond = ConditionLock()
    private var ready: [Prepared] = []
    /// Reused files whose pages the thread has yet to ask the kernel to read back: a segment is
    /// written in pieces that do not fill whole pages, and a piece of a page no longer cached would
    /// first be read from disk by the sync thread.
    private var toWarm: [String] = []
    private var wanted = false
    private var closing = false
    private var made = 0
    private var thread: WorkerThread?

    /// Removes files a previous process prepared and did not use.
    init(directory: String, segmentBytes: Int, logger: Logger, onPrepared: @escaping @Sendable (Int) -> Void = { _ in },
         onReused: @escaping @Sendable () -> Void = {}) throws {
        self.directory = directory
        bytes = segmentBytes
        self.logger = logger
        self.onPrepared = onPrepared
        self.onReused = onReused
        for name in try FileSystem.list(directory) where name.hasPrefix(CommitLogSegmentFormat.preallocatedPrefix) {
            try FileSystem.remove(directory + "/" + name)
        }
        thread = WorkerThread(name: "commitlog-alloc") { [self] in run() }
    }

    /// A prepared file (`segmentBytes` long and synced) for the caller to rename into a segment, or
    /// nil when none is ready. The next is prepared if none is left.
    func take() -> Prepared? {
        cond.withLock {
            let p = ready.isEmpty ? nil : ready.removeFirst()
            wanted = true
            cond.broadcast()
            return p
        }
    }

    /// Keeps the file of a segment no longer needed (closed, synced, and not written again) for
    /// reuse, renamed out of the segments' names; false when it is not of the full size or `limit`
    /// (or ``maxKept``) files are ready, and the caller deletes it.
    func offer(_ segmentPath: String, keepingUpTo limit: Int) -> Bool {
        guard (try? FileSystem.fileSize(segmentPath)) == bytes else { return false }
        return cond.withLock {
            guard !closing, ready.count < min(max(2, limit), Self.maxKept) else { return false }
            let path = nextPath()
            do { try FileSystem.rename(segmentPath, path) } catch { return false }
            ready.append(Prepared(path: path, reused: true))
            toWarm.append(path)
            cond.broadcast()
            onReused()
            return true
        }
    }

    /// Stops the thread and removes the prepared files nobody took.
    func close() {
        cond.withLock {
            closing = true
            cond.broadcast()
        }
        thread?.join()
        thread = nil
        for p in cond.withLock({ ready }) { try? FileSystem.remove(p.path) }
    }

    /// A new name for a prepared file (under `cond`).
    private func nextPath() -> String {
        made += 1
        return directory + "/" + CommitLogSegmentFormat.preallocatedPrefix + "\(made).tmp"
    }

    private func run() {
        while true {
            let (path, warm): (String?, String?) = cond.withLock {
                while !closing && toWarm.isEmpty && !(wanted && ready.isEmpty) { cond.wait() }
                if closing { return (nil, nil) }
                if !toWarm.isEmpty { return (nil, toWarm.removeFirst()) }
                return (nextPath(), nil)
            }
            if let warm {
                FileSystem.prefetch(warm)
                continue
            }
            guard let path else { return }
            do {
                try prepare(path)
                onPrepared(bytes)
                cond.withLock {
                    ready.append(Prepared(path: path, reused: false))
                    wanted = false
                }
            } catch {
                try? FileSystem.remove(path)
                if case .closed? = error as? StorageError { return }
                logger.warning("could not preallocate a commit-log segment; the next one grows as it is written",
                               metadata: ["error": "\(error)", "bytes": "\(bytes)"])
                cond.withLock { wanted = false }
            }
        }
    }

    /// Writes `bytes` zero bytes to a new file at `path`, a synced megabyte at a time.
    private func prepare(_ path: String) throws {
        let f = try WritableFile(path: path, trickleSyncBytes: 1 << 20)
        defer { try? f.close() }
        let zeros = [UInt8](repeating: 0, count: min(bytes, 1 << 20))
        try zeros.withUnsafeBytes { z in
            while f.size < bytes {
                if cond.withLock({ closing }) { throw StorageError.closed }
                try f.write(UnsafeRawBufferPointer(rebasing: z[0 ..< min(z.count, bytes - f.size)]))
            }
        }
        try f.sync()
        try f.close()
    }
}
