import BasaltCore
@testable import BasaltStorage
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing

/// Group commit's window: after a sync that released several writers the next one waits until a
/// window after it started, or until as many writers wait, so that more writers share it; a writer
/// alone is never held back.
/// Only lower bounds on elapsed time are checked, which hold however loaded the machine is.
@Suite("Group commit")
struct GroupCommitTests {
    let record = [UInt8](repeating: 7, count: 100)
    let table = UUIDValue.random()

    func openLog(_ dir: TemporaryDirectory, windowNanos: UInt64) throws -> CommitLog {
        try CommitLog(directory: dir.path + "/commitlog", mode: .group(windowNanos: windowNanos), segmentBytes: 1 << 20,
                      bufferLimitBytes: 1 << 20, firstSegmentId: 1, logger: .test)
    }

    func write(_ log: CommitLog) throws {
        let pos = try record.withUnsafeBytes { try log.append($0, table: table, mayBlock: true, deadlineNanos: 10_000_000_000) }
        try log.awaitDurable(pos)
    }

    @Test func aLoneWriterIsNeverHeldBackByTheWindow() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // A ten-second window: were a lone writer held, these writes would take most of a minute.
        let log = try openLog(dir, windowNanos: 10_000_000_000)
        defer { log.close() }
        for _ in 0 ..< 5 { try write(log) }
        #expect(log.syncLatency.snapshot().count == 5)
    }

    /// Writers in a closed loop come back together: a sync waits for them, not for the window,
    /// which is waited out only when fewer writers come back than the last sync released (here,
    /// when writers finish one after another).
    @Test func writersThatComeBackTogetherAreNotHeldForTheWindow() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // Were every shared sync held for this window, the writes would take minutes.
        let window: UInt64 = 1_000_000_000
        let log = try openLog(dir, windowNanos: window)
        defer { log.close() }
        let writers = 4, each = 10
        let failures = Atomic<Int>(0)
        let started = Atomic<Int>(0)
        let start = DispatchTime.now().uptimeNanoseconds
        // Threads of their own (not a pool that may run them one after another), starting together.
        let threads = (0 ..< writers).map { _ in
            WorkerThread(name: "writer") { [self] in
                started.wrappingAdd(1, ordering: .relaxed)
                while started.load(ordering: .relaxed) < writers { sched_yield() }
                for _ in 0 ..< each {
                    do { try write(log) } catch { failures.wrappingAdd(1, ordering: .relaxed) }
                }
            }
        }
        for t in threads { t.join() }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        #expect(failures.load(ordering: .relaxed) == 0)
        // Writers shared syncs ...
        #expect(log.sharedSyncCount >= 1)
        #expect(log.syncLatency.snapshot().count < UInt64(writers * each))
        // ... the window was waited out only as writers finished, each time in full.
        let waits = log.windowWaitCount
        #expect(waits <= writers - 1)
        #expect(UInt64(waits) * window <= elapsed)
    }
}

@Suite("Background thread priority")
struct WorkerThreadPriorityTests {
    #if os(Linux)
    /// The calling thread's nice value (on Linux, PRIO_PROCESS with id 0 names the calling thread).
    static func ownNice() -> Int32 { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }

    @Test func aNicedWorkerRunsAtALowerPriorityThanItsCreator() {
        let creator = Self.ownNice()
        let seen = Mutex<Int32?>(nil)
        let t = WorkerThread(name: "niced", niceness: 5) { seen.withLock { $0 = Self.ownNice() } }
        t.join()
        #expect(seen.withLock { $0 } == min(19, creator + 5))
        let plain = WorkerThread(name: "plain") { seen.withLock { $0 = Self.ownNice() } }
        plain.join()
        #expect(seen.withLock { $0 } == creator)
    }

    /// A worker carries its name (as `top -H` and `perf` show it), not its creator's.
    @Test func aWorkerIsNamed() {
        let seen = Mutex<String?>(nil)
        let t = WorkerThread(name: "commitlog-sync") {
            // /proc files report a size of 0: read until the end instead.
            let fd = open("/proc/thread-self/comm", O_RDONLY)
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 64) }
            close(fd)
            seen.withLock { $0 = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self) }
        }
        t.join()
        #expect(seen.withLock { $0 } == "commitlog-sync\n")
    }
    #endif
}
