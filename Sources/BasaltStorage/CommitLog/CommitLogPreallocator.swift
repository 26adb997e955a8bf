import BasaltCore
import Logging

/// Keeps one zero-filled file of a segment's full size ready for the commit log's next segment.
///
/// A segment that grows with every append makes each sync write the inode too (its size changed)
/// besides the data: on the disks measured, about a third more writes per sync and syncs that took
/// about 1.6 times as long (docs/storage.md, "Preallocated segments"). A preallocated segment is written over,
/// never grown, so a sync writes only the data.
///
/// A background thread (`commitlog-alloc`) writes the file a megabyte at a time, syncing each, so
/// that it never queues a large burst ahead of the commit log's own syncs. The log takes the file
/// when it starts a segment, and the thread prepares the next. Nothing is prepared before the
/// first roll-over, so a log that never fills a segment (a short-lived engine, a test) writes no
/// zeros. When none is ready (the first segment, or segments rolling faster than files are
/// prepared) or preparing one failed (a full disk), the segment is created empty and grows as
/// before; the log then rolls it over early (``CommitLog``), and the next roll-over asks again.
final class CommitLogPreallocator: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `cond`.
    private let directory: String
    private let bytes: Int
    private let logger: Logger
    /// Called with the bytes of each file prepared.
    private let onPrepared: @Sendable (Int) -> Void
    private let cond = ConditionLock()
    private var ready: String?
    private var wanted = false
    private var closing = false
    private var made = 0
    private var thread: WorkerThread?

    /// Removes files a previous process prepared and did not use.
    init(directory: String, segmentBytes: Int, logger: Logger, onPrepared: @escaping @Sendable (Int) -> Void = { _ in }) throws {
        self.directory = directory
        bytes = segmentBytes
        self.logger = logger
        self.onPrepared = onPrepared
        for name in try FileSystem.list(directory) where name.hasPrefix(CommitLogSegmentFormat.preallocatedPrefix) {
            try FileSystem.remove(directory + "/" + name)
        }
        thread = WorkerThread(name: "commitlog-alloc") { [self] in run() }
    }

    /// The path of a prepared file (zero-filled, `segmentBytes` long and synced) for the caller to
    /// rename into a segment, or nil when none is ready. Either way the next is prepared.
    func take() -> String? {
        cond.withLock {
            let path = ready
            ready = nil
            wanted = true
            cond.broadcast()
            return path
        }
    }

    /// Stops the thread and removes a prepared file nobody took.
    func close() {
        cond.withLock {
            closing = true
            cond.broadcast()
        }
        thread?.join()
        thread = nil
        if let path = cond.withLock({ ready }) { try? FileSystem.remove(path) }
    }

    private func run() {
        while true {
            let path: String? = cond.withLock {
                while !closing && !(wanted && ready == nil) { cond.wait() }
                if closing { return nil }
                made += 1
                return directory + "/" + CommitLogSegmentFormat.preallocatedPrefix + "\(made).tmp"
            }
            guard let path else { return }
            do {
                try prepare(path)
                onPrepared(bytes)
                cond.withLock {
                    ready = path
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
