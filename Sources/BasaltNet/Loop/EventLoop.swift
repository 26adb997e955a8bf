import BasaltCore
import CLibUV
import CMalloc
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libuv loop running on its own thread, which owns it.
///
/// Guarantees:
/// - Everything registered with the loop (handles, timers, connections, listeners) is touched only on
///   the loop's thread. Entry points that may be called from other threads say so and hop to the loop
///   through ``execute(_:)``; loop-bound entry points check ``assertInEventLoop()`` in debug builds.
/// - ``execute(_:)`` runs tasks in the order they were submitted (FIFO across all submitters). Only
///   the first submitter after the loop drained its queue calls `uv_async_send`; later ones see the
///   "wake pending" flag and just append.
/// - ``shutdown()`` closes every handle the loop still has open (through `uv_walk`, letting each owner
///   fail its pending work with a "shut down" reason), waits for the close callbacks, closes the
///   `uv_loop_t` and joins the thread. After it has begun, ``execute(_:)`` refuses new tasks.
///
/// A loop that is never shut down keeps its thread (and itself) alive for the life of the process.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: the task queue and lifecycle state are guarded by `queueLock`/`lifecycle`; every
    // other mutable field is touched only on the loop's thread (checked in debug builds), and the
    // `uv_*` structures are heap-allocated once and never move.
    // Fields marked @exclusivity(unchecked) are loop-bound and never accessed re-entrantly while
    // being mutated; their dynamic exclusivity checks cost ~10% of a small request's CPU (perf).

    /// The loop's name, also given to its thread (`basalt-loop-N`).
    public let name: String
    let uvLoop: UnsafeMutablePointer<uv_loop_t>
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    private let flushBeforePoll: UnsafeMutablePointer<uv_idle_t>
    private let flushAfterPoll: UnsafeMutablePointer<uv_check_t>
    let logger: Logger

    // Cross-thread submission.
    private let queueLock = Lock()
    private var queuedTasks: [() -> Void] = []
    private var spareTasks: [() -> Void] = []
    private var wakePending = false
    private var acceptsTasks = true

    // Lifecycle (threads that call shutdown() wait on it).
    private let lifecycle = ConditionLock()
    @usableFromInline var threadID = pthread_t()
    /// Set when the loop thread has finished: its `pthread_t` may then be reused by another thread,
    /// which must not pass for the loop's.
    @usableFromInline let threadFinished = Atomic<Bool>(false)
    private var threadStarted = false
    private var threadJoined = false
    private var joinInProgress = false

    // Loop-thread state.
    /// True once the loop began closing its handles; owners must not open new ones.
    @exclusivity(unchecked) private(set) var isShuttingDown = false
    @exclusivity(unchecked) private var idleTimers: [UnsafeMutablePointer<uv_timer_t>] = []
    @exclusivity(unchecked) private var pendingFlushes: [TCPConnection] = []
    @exclusivity(unchecked) private var flushIdleActive = false
    /// Scratch buffer every read on this loop lands in before its callback copies what it keeps.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// Recycled write chunks of ``WriteChunk/standardSize`` bytes.
    @exclusivity(unchecked) var spareChunks: [UnsafeMutableRawPointer] = []

    static let readBufferSize = 128 * 1024
    static let maxIdleTimers = 4096
    static let maxSpareChunks = 64

    /// Starts a loop on a new thread.
    public init(name: String = "basalt-loop", logger: Logger = Logger(label: "basalt.net.loop")) {
        self.name = name
        self.logger = logger
        uvLoop = .allocate(capacity: 1)
        wakeup = .allocate(capacity: 1)
        flushBeforePoll = .allocate(capacity: 1)
        flushAfterPoll = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        queuedTasks.reserveCapacity(64)
        spareTasks.reserveCapacity(64)

        let rc = uv_loop_init(uvLoop)
        precondition(rc == 0, "uv_loop_init failed: \(UVError.describe(rc))")
        let opaqueSelf = Unmanaged.passUnretained(self).toOpaque()
        uv_async_init(uvLoop, wakeup, { handle in
            guard let handle, let data = handle.pointee.data else { return }
            Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue().runQueuedTasks()
        })
        uv_idle_init(uvLoop, flushBeforePoll)
        uv_check_init(uvLoop, flushAfterPoll)
        // The check handle runs after every poll phase; unref'd so it never keeps the loop alive.
        uv_check_start(flushAfterPoll, { handle in
            guard let handle, let data = handle.pointee.data else { return }
            Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue().flushPendingWrites()
        })
        uv_unref(UnsafeMutableRawPointer(flushAfterPoll).assumingMemoryBound(to: uv_handle_t.self))
        wakeup.pointee.data = opaqueSelf
        flushBeforePoll.pointee.data = opaqueSelf
        flushAfterPoll.pointee.data = opaqueSelf

        // The thread holds a strong reference until it exits, so the loop outlives its callbacks.
        let context = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let created = pthread_create(&tid, nil, { arg in
            guard let arg else { return nil }
            let loop = Unmanaged<EventLoop>.fromOpaque(arg).takeRetainedValue()
            loop.threadMain()
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        lifecycle.withLock {
            while !threadStarted { lifecycle.wait() }
        }
    }

    deinit {
        uvLoop.deallocate()
        wakeup.deallocate()
        flushBeforePoll.deallocate()
        flushAfterPoll.deallocate()
        readBuffer.deallocate()
    }

    private func threadMain() {
        #if os(Linux)
        // Thread names show in perf and gdb; the kernel keeps 15 bytes.
        _ = basalt_set_thread_name(String(name.prefix(15)))
        #endif
        lifecycle.withLock {
            threadID = pthread_self()
            threadStarted = true
            lifecycle.broadcast()
        }
        uv_run(uvLoop, UV_RUN_DEFAULT)
        closeLoop()
        threadFinished.store(true, ordering: .releasing)
    }

    // MARK: - Thread identity

    /// True on the loop's own thread.
    @inlinable
    public var inEventLoop: Bool {
        pthread_equal(pthread_self(), threadID) != 0 && !threadFinished.load(ordering: .acquiring)
    }

    /// Traps in debug builds when called off the loop's thread; compiled out in release builds.
    @inlinable
    public func assertInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(inEventLoop, "\(name): loop-bound state touched off its loop thread", file: file, line: line)
    }

    /// Traps in debug builds when called on the loop's thread (for code that blocks waiting for it).
    @inlinable
    public func assertNotInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(!inEventLoop, "\(name): blocking call made on its own loop thread", file: file, line: line)
    }

    // MARK: - Cross-thread submission

    /// Runs `task` on the loop's thread, after every task submitted before it. Callable from any
    /// thread, including the loop's own (the task then runs in a later loop iteration).
    ///
    /// - Returns: false if the loop is shutting down or shut down; the task was dropped and will
    ///   never run, so the caller must complete whatever it was waiting for itself.
    @discardableResult
    public func execute(_ task: @escaping @Sendable () -> Void) -> Bool {
        enqueue(task)
    }

    /// ``execute(_:)`` for closures that are not `Sendable`. Internal: used where the closure is
    /// known to touch only loop-bound state or Sendable values.
    @discardableResult
    func enqueue(_ task: @escaping () -> Void) -> Bool {
        queueLock.lock()
        guard acceptsTasks else {
            queueLock.unlock()
            return false
        }
        queuedTasks.append(task)
        let mustWake = !wakePending
        wakePending = true
        queueLock.unlock()
        if mustWake { uv_async_send(wakeup) }
        return true
    }

    private func runQueuedTasks() {
        // Swap the queue for the (empty) spare so submitters can keep appending while these run.
        queueLock.lock()
        var tasks = queuedTasks
        queuedTasks = spareTasks
        spareTasks = []
        wakePending = false
        queueLock.unlock()
        for task in tasks { task() }
        tasks.removeAll(keepingCapacity: true)
        queueLock.lock()
        if spareTasks.isEmpty && tasks.capacity <= 4096 { spareTasks = tasks }
        queueLock.unlock()
    }

    /// Runs `body` on the loop and returns its result. Throws ``EventLoopError/shutDown`` if the loop
    /// no longer accepts tasks.
    public func submit<T: Sendable>(
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        if inEventLoop { return try body() }
        let result: Result<T, any Error> = await withUnsafeContinuation { continuation in
            let accepted = execute {
                continuation.resume(returning: Result { try body() })
            }
            if !accepted { continuation.resume(returning: .failure(EventLoopError.shutDown(loop: name))) }
        }
        return try result.get()
    }

    // MARK: - Write flushing

    /// Queues `connection` to have its buffered writes handed to libuv before this loop iteration
    /// polls again (writes made while handling one batch of events go out together).
    func scheduleFlush(_ connection: TCPConnection) {
        pendingFlushes.append(connection)
        if !flushIdleActive {
            flushIdleActive = true
            // An active idle handle makes the next poll non-blocking, so writes queued from timers or
            // tasks are flushed without waiting for unrelated I/O.
            uv_idle_start(flushBeforePoll, { handle in
                guard let handle, let data = handle.pointee.data else { return }
                Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue().flushPendingWrites()
            })
        }
    }

    private func flushPendingWrites() {
        if flushIdleActive {
            flushIdleActive = false
            uv_idle_stop(flushBeforePoll)
        }
        guard !pendingFlushes.isEmpty else { return }
        var batch = pendingFlushes
        pendingFlushes = []
        for connection in batch { connection.flush() }
        batch.removeAll(keepingCapacity: true)
        if pendingFlushes.isEmpty { pendingFlushes = batch }
    }

    // MARK: - Timer handles (pooled)

    /// A stopped, initialised timer handle, from the pool when one is free. Loop thread only.
    func acquireTimerHandle() -> UnsafeMutablePointer<uv_timer_t> {
        assertInEventLoop()
        if let handle = idleTimers.popLast() { return handle }
        let handle = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
        uv_timer_init(uvLoop, handle)
        handle.pointee.data = nil
        return handle
    }

    /// Stops `handle` and returns it to the pool (or closes and frees it if the pool is full or the
    /// loop is shutting down). The handle's owner must not use it again.
    func releaseTimerHandle(_ handle: UnsafeMutablePointer<uv_timer_t>) {
        assertInEventLoop()
        uv_timer_stop(handle)
        handle.pointee.data = nil
        if isShuttingDown || idleTimers.count >= Self.maxIdleTimers {
            uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), freeHandleOnClose)
        } else {
            idleTimers.append(handle)
        }
    }

    // MARK: - Shutdown

    /// Closes every handle on the loop, waits for their close callbacks, stops and joins the thread.
    /// Blocks the calling thread; must not be called on the loop's own thread. Idempotent: later and
    /// concurrent callers wait for the first to finish.
    public func shutdown() {
        precondition(!inEventLoop, "\(name): shutdown() called on its own loop thread")
        queueLock.lock()
        let first = acceptsTasks
        if first {
            acceptsTasks = false
            queuedTasks.append { [unowned self] in self.beginClosing() }
        }
        let mustWake = first && !wakePending
        if first { wakePending = true }
        queueLock.unlock()
        if mustWake { uv_async_send(wakeup) }

        lifecycle.lock()
        if threadJoined || joinInProgress {
            while !threadJoined { lifecycle.wait() }
            lifecycle.unlock()
            return
        }
        joinInProgress = true
        let tid = threadID
        lifecycle.unlock()
        pthread_join(tid, nil)
        lifecycle.withLock {
            threadJoined = true
            lifecycle.broadcast()
        }
    }

    /// Async form of ``shutdown()``: joins the loop thread from a detached thread so the caller's
    /// executor is never blocked.
    public func shutdownGracefully() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let context = Unmanaged.passRetained(ShutdownRequest(loop: self, continuation: continuation)).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { arg in
                guard let arg else { return nil }
                let request = Unmanaged<ShutdownRequest>.fromOpaque(arg).takeRetainedValue()
                request.loop.shutdown()
                request.continuation.resume()
                return nil
            }, context)
            if rc == 0 {
                pthread_detach(tid)
            } else {
                let request = Unmanaged<ShutdownRequest>.fromOpaque(context).takeRetainedValue()
                request.loop.shutdown()
                continuation.resume()
            }
        }
    }

    private final class ShutdownRequest {
        let loop: EventLoop
        let continuation: UnsafeContinuation<Void, Never>
        init(loop: EventLoop, continuation: UnsafeContinuation<Void, Never>) {
            self.loop = loop
            self.continuation = continuation
        }
    }

    /// On the loop: let every handle's owner close it (failing its pending work), then close the
    /// loop's own handles. `uv_run` returns once the last close callback has run.
    private func beginClosing() {
        assertInEventLoop()
        isShuttingDown = true
        // Tasks submitted before shutdown() already ran (FIFO). Ask owners to close their handles.
        uv_walk(uvLoop, { handle, _ in
            guard let handle, uv_is_closing(handle) == 0, let data = handle.pointee.data else { return }
            guard let owner = Unmanaged<AnyObject>.fromOpaque(data).takeUnretainedValue() as? any LoopHandleOwner else {
                return
            }
            owner.closeForLoopShutdown()
        }, nil)
        flushPendingWrites()
        for handle in idleTimers {
            uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), freeHandleOnClose)
        }
        idleTimers.removeAll()
        for handle in [
            UnsafeMutableRawPointer(wakeup), UnsafeMutableRawPointer(flushBeforePoll),
            UnsafeMutableRawPointer(flushAfterPoll),
        ] {
            uv_close(handle.assumingMemoryBound(to: uv_handle_t.self), nil)
        }
    }

    /// After `uv_run` returned: run anything owners queued while closing, then close the loop. A
    /// handle still open here belongs to an owner that ignored shutdown; it is closed and freed.
    private func closeLoop() {
        queueLock.lock()
        let leftovers = queuedTasks
        queuedTasks = []
        queueLock.unlock()
        for task in leftovers { task() }
        var attempts = 0
        while uv_loop_close(uvLoop) == UV_EBUSY.rawValue, attempts < 16 {
            attempts += 1
            uv_walk(uvLoop, { handle, _ in
                guard let handle, uv_is_closing(handle) == 0 else { return }
                uv_close(handle, freeHandleOnClose)
            }, nil)
            uv_run(uvLoop, UV_RUN_DEFAULT)
        }
        if attempts > 0 {
            logger.warning("handles left open at shutdown were force-closed", metadata: ["loop": "\(name)"])
        }
        for chunk in spareChunks { chunk.deallocate() }
        spareChunks.removeAll()
    }
}

/// Close callback that frees a handle allocated with `UnsafeMutablePointer<T>.allocate(capacity: 1)`.
let freeHandleOnClose: uv_close_cb = { handle in
    guard let handle else { return }
    UnsafeMutableRawPointer(handle).deallocate()
}
