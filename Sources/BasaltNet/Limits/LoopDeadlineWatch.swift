/// Calls `expired` on the loop once the loop's time reaches `deadline()`. The deadline is read
/// again when the timer fires, so a deadline that moves later needs no re-arming (one timer per
/// watch at most); ``poke()`` arms it when a deadline appears. Loop-bound.
public final class LoopDeadlineWatch: @unchecked Sendable {
    // @unchecked: `timer` and `stopped` are touched only on `loop` (the timer body runs there).
    public let loop: EventLoop
    private let deadline: () -> UInt64?
    private let expired: () -> Void
    private var timer: LoopTimer?
    private var stopped = false

    /// `deadline` gives loop milliseconds (``EventLoop/nowMillis``); it may only move later or
    /// become nil between pokes.
    public init(loop: EventLoop, deadline: @escaping () -> UInt64?, expired: @escaping () -> Void) {
        self.loop = loop
        self.deadline = deadline
        self.expired = expired
    }

    /// Arms the timer for the current deadline if it is not armed.
    public func poke() {
        loop.assertInEventLoop()
        guard timer == nil, !stopped, let d = deadline() else { return }
        let now = loop.nowMillis
        // The body runs on the loop; the strong capture ends when the timer fires or is cancelled.
        timer = loop.scheduleTimer(after: .milliseconds(Int64(d > now ? d - now : 0))) {
            self.timer = nil
            self.check()
        }
    }

    private func check() {
        guard !stopped, let d = deadline() else { return }
        if loop.nowMillis >= d { expired() } else { poke() }
    }

    /// Cancels the timer for good (the connection closed).
    public func stop() {
        stopped = true
        timer?.cancel()
        timer = nil
    }
}
