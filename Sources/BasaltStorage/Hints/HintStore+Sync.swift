import BasaltCore
import Synchronization

/// Durability: the background sync thread, `sync()` and `close()`.
extension HintStore {
    /// Writes and fsyncs everything written so far: every segment file written since its last
    /// fsync, and the directory when files were created or deleted since its last fsync.
    public func sync() throws(HintStoreError) {
        try syncPass()
    }

    /// Syncs and stops the background thread; further writes fail with `.io("closed")`. Reading,
    /// delivering and deleting still work. Calling it again does nothing.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        syncSignal.withLock {
            stopping = true
            syncSignal.broadcast()
        }
        syncThread?.join()
        syncThread = nil
        // A write that saw the store open holds its target's lock until its record is written.
        for t in allTargets() { t.lock.withLock { t.sealOpen() } }
        do {
            try syncPass()
        } catch {
            logger.error("hint store could not sync on close", metadata: ["error": "\(error)"])
        }
        Self.unlockDirectory(lockFD)
    }

    func syncLoop() {
        syncSignal.lock()
        while !stopping {
            syncSignal.wait(nanos: max(config.syncIntervalNanos, 1_000_000))
            if stopping { break }
            syncSignal.unlock()
            do {
                try syncPass()
            } catch {
                logger.error("hint store sync failed; retrying at the next interval", metadata: ["error": "\(error)"])
            }
            syncSignal.lock()
        }
        syncSignal.unlock()
    }

    /// One pass over every target. Passes are serialised: one that starts while another runs
    /// waits for it, so whatever that one took is durable when this one returns.
    func syncPass() throws(HintStoreError) {
        syncLock.lock()
        defer { syncLock.unlock() }
        var failure: HintStoreError?
        var synced = 0
        for t in allTargets() {
            let files = t.lock.withLock { t.takeUnsynced() }
            for (i, file) in files.enumerated() {
                do {
                    try file.sync()
                    synced += 1
                } catch {
                    failure = failure ?? HintStoreError(error)
                    t.lock.withLock { t.returnUnsynced(Array(files[i...])) }
                    break
                }
            }
        }
        if directoryDirty.exchange(false, ordering: .acquiringAndReleasing) {
            do {
                try FileSystem.syncDirectory(directory)
                synced += 1
            } catch {
                directoryDirty.store(true, ordering: .releasing)
                failure = failure ?? HintStoreError(error)
            }
        }
        if synced > 0 { metrics.withLock { $0.syncs += 1 } }
        if let failure { throw failure }
    }
}
