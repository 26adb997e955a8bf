import CLibUV
import Synchronization

/// A request awaiting its response on an ``OutboundConnection``, with its timeout timer.
///
/// Guarantees: the completion runs exactly once, on the connection's loop — with the response, or
/// with the first of timeout, connection closed, cancellation or shutdown. Whoever removes the
/// request from its connection's pending table completes it, and only one can.
final class PendingRequest: LoopHandleOwner {
    // Loop-bound; @exclusivity(unchecked) as in OutboundConnection.
    let id: UInt64
    let verb: UInt16
    let timeout: Duration
    let owner: OutboundConnection
    @exclusivity(unchecked) private var completion: ((Result<[UInt8], MessagingError>) -> Void)?
    @exclusivity(unchecked) private var timer: UnsafeMutablePointer<uv_timer_t>?

    init(
        id: UInt64, verb: UInt16, timeout: Duration, owner: OutboundConnection,
        completion: @escaping (Result<[UInt8], MessagingError>) -> Void
    ) {
        self.id = id
        self.verb = verb
        self.timeout = timeout
        self.owner = owner
        self.completion = completion
    }

    /// Arms the timeout on a pooled timer handle; the owner's table keeps this object alive while
    /// the timer is armed.
    func startTimer() {
        let handle = owner.loop.acquireTimerHandle()
        timer = handle
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_start(handle, { handle in
            guard let handle, let data = handle.pointee.data else { return }
            let request = Unmanaged<PendingRequest>.fromOpaque(data).takeUnretainedValue()
            request.owner.expire(request.id)
        }, max(1, EventLoop.millis(timeout)), 0)
    }

    /// Stops the timer and runs the completion (once).
    func finish(_ result: Result<[UInt8], MessagingError>) {
        if let timer {
            self.timer = nil
            owner.loop.releaseTimerHandle(timer)
        }
        let completion = self.completion
        self.completion = nil
        completion?(result)
    }

    /// Stops the timer now and runs the completion on a later loop turn (at once if the loop no
    /// longer takes tasks), so it never runs inside the call that refused the request.
    func finishLater(_ result: Result<[UInt8], MessagingError>) {
        if let timer {
            self.timer = nil
            owner.loop.releaseTimerHandle(timer)
        }
        if !owner.loop.enqueue({ self.finish(result) }) { finish(result) }
    }

    func closeForLoopShutdown() { owner.abandon(id, with: .shutDown) }
}

/// Lets a cancelled task withdraw its request: the flag is seen by the loop if the request has not
/// been registered yet, and the hop removes it if it has.
final class RequestCanceller: Sendable {
    let lane: OutboundConnection
    let id: UInt64
    private let cancelled = Atomic<Bool>(false)

    init(lane: OutboundConnection, id: UInt64) {
        self.lane = lane
        self.id = id
    }

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
        let lane = self.lane, id = self.id
        lane.loop.execute { lane.abandon(id, with: .cancelled) }
    }
}
