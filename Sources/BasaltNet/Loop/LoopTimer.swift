import CLibUV

/// A one-shot or repeating timer on an ``EventLoop``, created by
/// ``EventLoop/scheduleTimer(after:_:)`` or ``EventLoop/scheduleRepeatingTimer(every:_:)``.
///
/// Guarantees: the body runs on the loop's thread; after ``cancel()`` has run on the loop the body
/// never runs again; a timer pending when the loop shuts down is dropped without running. libuv
/// timers have millisecond resolution; delays are rounded up.
public final class LoopTimer: LoopHandleOwner, @unchecked Sendable {
    // @unchecked: `handle`, `body` and `isCancelled` are touched only on `loop`'s thread (checked in
    // debug builds); cross-thread calls hop there through `execute`.
    public let loop: EventLoop
    private var handle: UnsafeMutablePointer<uv_timer_t>?
    private var body: (@Sendable () -> Void)?
    private var isCancelled = false
    private let delayMillis: UInt64
    private let repeatMillis: UInt64

    init(loop: EventLoop, delayMillis: UInt64, repeatMillis: UInt64, body: @escaping @Sendable () -> Void) {
        self.loop = loop
        self.delayMillis = delayMillis
        self.repeatMillis = repeatMillis
        self.body = body
    }

    /// Starts the timer; loop thread only.
    func arm() {
        loop.assertInEventLoop()
        guard !isCancelled, handle == nil, !loop.isShuttingDown else { return }
        let handle = loop.acquireTimerHandle()
        self.handle = handle
        // The armed handle keeps the timer alive; the reference is dropped in `disarm()`.
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_timer_start(handle, { handle in
            guard let handle, let data = handle.pointee.data else { return }
            Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue().fire()
        }, delayMillis, repeatMillis)
    }

    private func fire() {
        guard let body, !isCancelled else { return }
        if repeatMillis == 0 {
            self.body = nil
            disarm()
        }
        body()
    }

    private func disarm() {
        guard let handle else { return }
        self.handle = nil
        loop.releaseTimerHandle(handle)
        Unmanaged.passUnretained(self).release()
    }

    /// Stops the timer. Callable from any thread; takes effect on the loop (a body already running
    /// finishes).
    public func cancel() {
        if loop.inEventLoop {
            cancelOnLoop()
        } else {
            loop.execute { self.cancelOnLoop() }
        }
    }

    private func cancelOnLoop() {
        isCancelled = true
        body = nil
        disarm()
    }

    func closeForLoopShutdown() { cancelOnLoop() }
}

extension EventLoop {
    /// Runs `body` on the loop once, after `delay`. Callable from any thread.
    @discardableResult
    public func scheduleTimer(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> LoopTimer {
        startTimer(LoopTimer(loop: self, delayMillis: Self.millis(delay), repeatMillis: 0, body: body))
    }

    /// Runs `body` on the loop every `interval` (first after one interval) until cancelled. Callable
    /// from any thread.
    @discardableResult
    public func scheduleRepeatingTimer(every interval: Duration, _ body: @escaping @Sendable () -> Void) -> LoopTimer {
        let ms = max(1, Self.millis(interval))
        return startTimer(LoopTimer(loop: self, delayMillis: ms, repeatMillis: ms, body: body))
    }

    private func startTimer(_ timer: LoopTimer) -> LoopTimer {
        if inEventLoop {
            timer.arm()
        } else {
            execute { timer.arm() }
        }
        return timer
    }

    /// Whole milliseconds, rounded up; negative durations are zero.
    static func millis(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let ms = UInt64(seconds) &* 1000 &+ UInt64((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        return ms
    }
}

extension EventLoop {
    /// The loop's monotonic time in milliseconds (libuv's `uv_now`, updated once per loop turn):
    /// the clock loop timers run on. Loop thread only.
    public var nowMillis: UInt64 {
        assertInEventLoop()
        return uv_now(uvLoop)
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, as loop timers count them; zero or negative is 0.
    public var loopMillis: UInt64 { EventLoop.millis(self) }
}
