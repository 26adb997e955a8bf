import BasaltCore
import BasaltNet
import Histogram

/// Where the benchmark's requests go, and the loop that owns the lane they use (completions run
/// there, and the drivers keep their state on it).
struct EchoTarget: Sendable {
    let service: MessagingService
    let peer: SocketAddress
    let verb: Verb
    let payload: [UInt8]
    let loop: EventLoop

    func send(_ completion: @escaping @Sendable (Result<[UInt8], MessagingError>) -> Void) {
        service.request(to: peer, verb: verb, payload: payload, timeout: .seconds(30), completion: completion)
    }
}

/// Closed-loop load from one loop: `concurrency` requesters, each sending its next request when the
/// previous one is answered (redis-benchmark's `-c` clients, each pipelining `-P` requests, is
/// `concurrency = c × P`). Completions run on the client's loop, which issues the next request
/// there, so no thread hops are measured beyond the two event loops.
final class ClosedLoopDriver: @unchecked Sendable {
    // @unchecked: counters are touched only on `loop` (the lane's loop, where completions run).
    let target: EchoTarget
    private var stopAtNanos: UInt64 = 0
    private var completedInWindow = 0
    private var failures = 0
    private var outstanding = 0
    private var stopped = false
    private var finished: CheckedContinuation<(completed: Int, failures: Int), Never>?
    private let clock = SystemClock()

    init(target: EchoTarget) { self.target = target }

    /// Runs for `seconds` and returns the requests answered in that window.
    func run(concurrency: Int, seconds: Double) async -> (completed: Int, failures: Int) {
        await withCheckedContinuation { continuation in
            target.loop.execute {
                self.finished = continuation
                self.stopAtNanos = self.clock.monotonicNanos() + UInt64(seconds * 1e9)
                for _ in 0 ..< concurrency { self.issue() }
            }
        }
    }

    private func issue() {
        outstanding += 1
        target.send { result in self.complete(result) }
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

/// Open-loop load at a fixed rate. Requests are sent when due — checked on every completion and
/// every millisecond — and each one's latency runs from the moment it was due, not the moment it
/// went out, so a stalled sender cannot hide queueing (no coordinated omission).
final class OpenLoopDriver: @unchecked Sendable {
    // @unchecked: all state is touched only on `target.loop`.
    let target: EchoTarget
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    private var sent = 0
    private var outstanding = 0
    private var failures = 0
    private var firstFailure: MessagingError?
    private var startNanos: UInt64 = 0
    private var endNanos: UInt64 = 0
    private var rate = 0.0
    private var sending = true
    private var ticker: LoopTimer?
    private var finished: CheckedContinuation<OpenLoopResult, Never>?
    private let clock = SystemClock()

    init(target: EchoTarget) { self.target = target }

    func run(rate: Double, seconds: Double) async -> OpenLoopResult {
        await withCheckedContinuation { continuation in
            target.loop.execute {
                self.finished = continuation
                self.rate = rate
                self.startNanos = self.clock.monotonicNanos()
                self.endNanos = self.startNanos + UInt64(seconds * 1e9)
                self.ticker = self.target.loop.scheduleRepeatingTimer(every: .milliseconds(1)) { self.sendDue() }
            }
        }
    }

    private func sendDue() {
        guard sending else { return }
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
            let dueAt = startNanos + UInt64(Double(sent) / rate * 1e9)
            sent += 1
            outstanding += 1
            target.send { result in
                self.outstanding -= 1
                if case let .failure(error) = result {
                    self.failures += 1
                    if self.firstFailure == nil { self.firstFailure = error }
                } else {
                    _ = self.histogram.record(self.clock.monotonicNanos() - dueAt)
                }
                self.sendDue()
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
    static func run(target: EchoTarget, concurrency: Int, seconds: Double) async -> (completed: Int, failures: Int) {
        let clock = SystemClock()
        let stopAt = clock.monotonicNanos() + UInt64(seconds * 1e9)
        return await withTaskGroup(of: (Int, Int).self) { group in
            for _ in 0 ..< concurrency {
                group.addTask {
                    var completed = 0, failures = 0
                    while clock.monotonicNanos() < stopAt {
                        do {
                            _ = try await target.service.request(
                                to: target.peer, verb: target.verb, payload: target.payload, timeout: .seconds(30))
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
