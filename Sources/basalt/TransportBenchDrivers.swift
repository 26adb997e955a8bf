import BasaltCore
import BasaltNet
import Histogram

/// Closed-loop load from one loop: `concurrency` requesters, each sending its next request when the
/// previous one is answered (redis-benchmark's `-c` clients, each pipelining `-P` requests, is
/// `concurrency = c × P`). Completions run on the client's loop, which issues the next request
/// there, so no thread hops are measured beyond the two event loops.
final class ClosedLoopDriver: @unchecked Sendable {
    // @unchecked: counters are touched only on `loop` (the lane's loop, where completions run).
    let service: MessagingService
    let peer: SocketAddress
    let verb: Verb
    let payload: [UInt8]
    let loop: EventLoop
    private var stopAtNanos: UInt64 = 0
    private var completedInWindow = 0
    private var failures = 0
    private var outstanding = 0
    private var stopped = false
    private var finished: CheckedContinuation<(completed: Int, failures: Int), Never>?
    private let clock = SystemClock()

    init(service: MessagingService, peer: SocketAddress, verb: Verb, payload: [UInt8], loop: EventLoop) {
        self.service = service
        self.peer = peer
        self.verb = verb
        self.payload = payload
        self.loop = loop
    }

    /// Runs for `seconds` and returns the requests answered in that window.
    func run(concurrency: Int, seconds: Double) async -> (completed: Int, failures: Int) {
        await withCheckedContinuation { continuation in
            loop.execute {
                self.finished = continuation
                self.stopAtNanos = self.clock.monotonicNanos() + UInt64(seconds * 1e9)
                for _ in 0 ..< concurrency { self.issue() }
            }
        }
    }

    private func issue() {
        outstanding += 1
        service.request(to: peer, verb: verb, payload: payload, timeout: .seconds(30)) { result in
            self.complete(result)
        }
    }

    private func complete(_ result: Result<[UInt8], MessagingError>) {
        outstanding -= 1
        let now = clock.monotonicNanos()
        if case .failure = result { failures += 1 } else if now <= stopAtNanos { completedInWindow += 1 }
        if now > stopAtNanos { stopped = true }
        if !stopped {
            issue()
        } else if outstanding == 0, let finished {
            self.finished = nil
            finished.resume(returning: (completedInWindow, failures))
        }
    }
}

/// Open-loop load at a fixed rate: every millisecond the client loop sends however many requests the
/// rate calls for by then, and records each one's latency from the moment it was sent.
final class OpenLoopDriver: @unchecked Sendable {
    // @unchecked: all state is touched only on `loop`.
    let service: MessagingService
    let peer: SocketAddress
    let verb: Verb
    let payload: [UInt8]
    let loop: EventLoop
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    private var sent = 0
    private var outstanding = 0
    private var failures = 0
    private var firstFailure: MessagingError?
    private var startNanos: UInt64 = 0
    private var sending = true
    private var ticker: LoopTimer?
    private var finished: CheckedContinuation<OpenLoopResult, Never>?
    private let clock = SystemClock()

    init(service: MessagingService, peer: SocketAddress, verb: Verb, payload: [UInt8], loop: EventLoop) {
        self.service = service
        self.peer = peer
        self.verb = verb
        self.payload = payload
        self.loop = loop
    }

    func run(rate: Double, seconds: Double) async -> OpenLoopResult {
        await withCheckedContinuation { continuation in
            loop.execute {
                self.finished = continuation
                self.startNanos = self.clock.monotonicNanos()
                let endNanos = self.startNanos + UInt64(seconds * 1e9)
                self.ticker = self.loop.scheduleRepeatingTimer(every: .milliseconds(1)) {
                    self.tick(rate: rate, endNanos: endNanos)
                }
            }
        }
    }

    private func tick(rate: Double, endNanos: UInt64) {
        let now = clock.monotonicNanos()
        if now >= endNanos {
            sending = false
            ticker?.cancel()
            ticker = nil
            finishIfDone()
            return
        }
        let due = Int(Double(now - startNanos) / 1e9 * rate)
        while sent < due {
            sent += 1
            outstanding += 1
            let sentAt = clock.monotonicNanos()
            service.request(to: peer, verb: verb, payload: payload, timeout: .seconds(30)) { result in
                self.outstanding -= 1
                if case let .failure(error) = result {
                    self.failures += 1
                    if self.firstFailure == nil { self.firstFailure = error }
                } else {
                    _ = self.histogram.record(self.clock.monotonicNanos() - sentAt)
                }
                self.finishIfDone()
            }
        }
    }

    private func finishIfDone() {
        guard !sending, outstanding == 0, let finished else { return }
        self.finished = nil
        finished.resume(returning: OpenLoopResult(
            histogram: histogram, sent: sent, failures: failures, firstFailure: firstFailure))
    }
}

struct OpenLoopResult {
    var histogram: Histogram<UInt64>
    var sent: Int
    var failures: Int
    var firstFailure: MessagingError?
}

/// Closed-loop load through the async API: `concurrency` tasks, each awaiting its request before
/// sending the next.
enum AsyncDriver {
    static func run(
        service: MessagingService, peer: SocketAddress, verb: Verb, payload: [UInt8], concurrency: Int, seconds: Double
    ) async -> (completed: Int, failures: Int) {
        let clock = SystemClock()
        let stopAt = clock.monotonicNanos() + UInt64(seconds * 1e9)
        return await withTaskGroup(of: (Int, Int).self) { group in
            for _ in 0 ..< concurrency {
                group.addTask {
                    var completed = 0, failures = 0
                    while clock.monotonicNanos() < stopAt {
                        do {
                            _ = try await service.request(to: peer, verb: verb, payload: payload, timeout: .seconds(30))
                            completed += 1
                        } catch {
                            failures += 1
                        }
                    }
                    return (completed, failures)
                }
            }
            return await group.reduce(into: (0, 0)) { $0.0 += $1.0; $0.1 += $1.1 }
        }
    }
}
