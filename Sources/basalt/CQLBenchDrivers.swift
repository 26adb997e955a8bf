import BasaltClient
import BasaltCore
import BasaltCQL
import BasaltNet
import BasaltProtocol
import Histogram
import Synchronization

/// What a bench driver sends: one request for each random number, its outcome reported with the
/// kind of operation it was (an index into the load's kinds: `basalt bench ycsb` mixes reads,
/// updates, inserts and scans and measures each kind apart).
protocol BenchLoad: Sendable {
    func send(_ random: UInt64, completion: @escaping @Sendable (CQLBenchOperation.Outcome, _ kind: Int) -> Void)
}

/// What a `basalt bench cql` run sends: one prepared statement, its values made from a random
/// number, sent with the client's callback API (completions run on the client's event loops).
struct CQLBenchOperation: BenchLoad {
    enum Outcome: Sendable {
        case ok
        /// A read that found no row.
        case missing
        case failed(ClientError)
    }

    let session: Session
    let statement: PreparedStatement
    let consistency: ConsistencyLevel
    let options: StatementOptions
    let expectsRow: Bool
    /// The partition key for a random number.
    let key: @Sendable (UInt64) -> Int64
    /// The bound values for a key.
    let values: @Sendable (Int64) -> [ProtocolValue]
    /// Told every key written or read successfully.
    let succeeded: (@Sendable (Int64) -> Void)?

    func send(_ random: UInt64, completion: @escaping @Sendable (Outcome, Int) -> Void) {
        let k = key(random)
        session.execute(statement, encoded: values(k), consistency: consistency, options: options) { [expectsRow, succeeded] result in
            let outcome = Outcome(result, expectsRow: expectsRow)
            if case .ok = outcome { succeeded?(k) }
            completion(outcome, 0)
        }
    }
}

extension CQLBenchOperation.Outcome {
    /// The outcome of a response: `.missing` when a row was expected and none came.
    init(_ result: Result<ExecutionResponse, ClientError>, expectsRow: Bool) {
        switch result {
        case let .success(response):
            guard expectsRow else {
                self = .ok
                return
            }
            do throws(ClientError) {
                if case let .rows(rows) = try response.result(), rows.rows.isEmpty {
                    self = .missing
                } else {
                    self = .ok
                }
            } catch {
                self = .failed(error)
            }
        case let .failure(error):
            self = .failed(error)
        }
    }
}

/// What a driver measured.
struct CQLBenchMeasurement: Sendable {
    var counts = CQLBenchCounts()
    var histogram = CQLBenchMeasurement.newHistogram()
    var seconds = 0.0
    var unsent = 0
    /// The same per kind of operation (only kinds seen; `basalt bench cql` has kind 0 only).
    var kinds: [Int: Kind] = [:]

    struct Kind: Sendable {
        var counts = CQLBenchCounts()
        var histogram = CQLBenchMeasurement.newHistogram()
    }

    static func newHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
    }

    mutating func record(_ outcome: CQLBenchOperation.Outcome, kind: Int, latencyNanos: UInt64) {
        counts.record(outcome)
        _ = histogram.record(latencyNanos)
        kinds[kind, default: Kind()].counts.record(outcome)
        _ = kinds[kind, default: Kind()].histogram.record(latencyNanos)
    }

    /// Runs `start` on `loop` with the continuation the driver resumes when its run is over
    /// (an empty measurement if the loop is shut down).
    static func measure(on loop: EventLoop, _ start: @escaping @Sendable (CheckedContinuation<CQLBenchMeasurement, Never>) -> Void) async -> CQLBenchMeasurement {
        await withCheckedContinuation { continuation in
            if !loop.execute({ start(continuation) }) { continuation.resume(returning: CQLBenchMeasurement()) }
        }
    }

    /// Successful requests (found or not) per second.
    var opsPerSecond: Double { seconds > 0 ? Double(counts.ok + counts.missing) / seconds : 0 }
}

/// Closed-loop load: `concurrency` requests in flight, each completion sending the next, until
/// the time or the operation count is reached. Latency here is service time (from send).
final class CQLClosedLoop: Sendable {
    private struct State {
        var rng: SplitMix64
        var issued = 0
        var outstanding = 0
        var stopped = false
        var maxOps = Int.max
        var startNanos: UInt64 = 0
        var stopAtNanos: UInt64 = 0
        var lastNanos: UInt64 = 0
        var measurement = CQLBenchMeasurement()
        var finished: CheckedContinuation<CQLBenchMeasurement, Never>?

        mutating func finishIfDone() -> (CheckedContinuation<CQLBenchMeasurement, Never>, CQLBenchMeasurement)? {
            guard stopped, outstanding == 0, let f = finished else { return nil }
            finished = nil
            measurement.seconds = Double(max(lastNanos, startNanos + 1) - startNanos) / 1e9
            return (f, measurement)
        }
    }

    private let operation: any BenchLoad
    private let state: Mutex<State>
    private let clock = SystemClock()

    init(operation: any BenchLoad, seed: UInt64) {
        self.operation = operation
        state = Mutex(State(rng: SplitMix64(seed: seed)))
    }

    func run(on loop: EventLoop, concurrency: Int, seconds: Double, maxOps: Int?) async -> CQLBenchMeasurement {
        await CQLBenchMeasurement.measure(on: loop) { continuation in
            self.state.withLock { s in
                s.finished = continuation
                s.maxOps = maxOps ?? .max
                s.startNanos = self.clock.monotonicNanos()
                s.stopAtNanos = s.startNanos + UInt64(seconds * 1e9)
            }
            for _ in 0 ..< max(1, concurrency) { self.issue() }
        }
    }

    private func issue() {
        let now = clock.monotonicNanos()
        let next: UInt64? = state.withLock { s in
            if now >= s.stopAtNanos || s.issued >= s.maxOps { s.stopped = true }
            guard !s.stopped else { return nil }
            s.issued += 1
            s.outstanding += 1
            return s.rng.next()
        }
        guard let next else {
            if let (f, m) = state.withLock({ $0.finishIfDone() }) { f.resume(returning: m) }
            return
        }
        operation.send(next) { outcome, kind in self.complete(outcome, kind, sentAt: now) }
    }

    /// Requests completed so far, and how many of them failed (for a progress line).
    func progress() -> (completed: Int, errors: Int) {
        state.withLock { ($0.measurement.counts.completed, $0.measurement.counts.errors) }
    }

    private func complete(_ outcome: CQLBenchOperation.Outcome, _ kind: Int, sentAt: UInt64) {
        let now = clock.monotonicNanos()
        let stopped = state.withLock { s in
            s.outstanding -= 1
            s.lastNanos = now
            s.measurement.record(outcome, kind: kind, latencyNanos: now &- sentAt)
            return s.stopped
        }
        if !stopped { issue() }
        if let (f, m) = state.withLock({ $0.finishIfDone() }) { f.resume(returning: m) }
    }
}

/// Open-loop load at a fixed rate: requests are issued when due (checked every millisecond and
/// on every completion) and each latency counts from the due time, so a backlog — the server
/// or the client falling behind — shows in the percentiles instead of being omitted
/// (coordinated omission). At most `maxOutstanding` are in flight; requests still unsent when
/// the run ends are recorded with the time they waited.
final class CQLOpenLoop: Sendable {
    private struct State {
        var rng: SplitMix64
        var sent = 0
        var outstanding = 0
        var sending = true
        var rate = 1.0
        var maxOps = Int.max
        var maxOutstanding = 1
        var startNanos: UInt64 = 0
        var endNanos: UInt64 = 0
        var lastNanos: UInt64 = 0
        var ticker: LoopTimer?
        var measurement = CQLBenchMeasurement()
        var finished: CheckedContinuation<CQLBenchMeasurement, Never>?

        func dueAt(_ n: Int) -> UInt64 { startNanos + UInt64(Double(n) / rate * 1e9) }
    }

    private let operation: any BenchLoad
    private let state: Mutex<State>
    private let clock = SystemClock()

    init(operation: any BenchLoad, seed: UInt64) {
        self.operation = operation
        state = Mutex(State(rng: SplitMix64(seed: seed)))
    }

    func run(on loop: EventLoop, rate: Double, seconds: Double, maxOps: Int?, maxOutstanding: Int) async -> CQLBenchMeasurement {
        await CQLBenchMeasurement.measure(on: loop) { continuation in
            self.state.withLock { s in
                s.finished = continuation
                s.rate = max(rate, 1)
                s.maxOps = maxOps ?? .max
                s.maxOutstanding = max(1, maxOutstanding)
                s.startNanos = self.clock.monotonicNanos()
                s.endNanos = s.startNanos + UInt64(seconds * 1e9)
                s.ticker = loop.scheduleRepeatingTimer(every: .milliseconds(1)) { self.sendDue() }
            }
        }
    }

    private func sendDue() {
        let now = clock.monotonicNanos()
        var ticker: LoopTimer?
        let batch: [(UInt64, UInt64)] = state.withLock { s in
            guard s.sending else { return [] }
            let ended = now >= s.endNanos || s.sent >= s.maxOps
            let until = ended ? s.endNanos : now
            let due = min(Int(Double(until - s.startNanos) / 1e9 * s.rate), s.maxOps)
            var out = [(UInt64, UInt64)]()
            while s.sent < due && s.outstanding < s.maxOutstanding {
                out.append((s.rng.next(), s.dueAt(s.sent)))
                s.sent += 1
                s.outstanding += 1
            }
            if ended {
                s.sending = false
                ticker = s.ticker
                s.ticker = nil
                // What fell due but could not be sent (the in-flight cap was reached) waited at
                // least this long.
                for n in s.sent ..< max(s.sent, due) {
                    _ = s.measurement.histogram.record(now &- s.dueAt(n))
                    s.measurement.unsent += 1
                }
            }
            return out
        }
        ticker?.cancel()
        for (random, dueAt) in batch {
            operation.send(random) { outcome, kind in self.complete(outcome, kind, dueAt: dueAt) }
        }
        finishIfDone()
    }

    /// Requests completed so far, and how many of them failed (for a progress line).
    func progress() -> (completed: Int, errors: Int) {
        state.withLock { ($0.measurement.counts.completed, $0.measurement.counts.errors) }
    }

    private func complete(_ outcome: CQLBenchOperation.Outcome, _ kind: Int, dueAt: UInt64) {
        let now = clock.monotonicNanos()
        state.withLock { s in
            s.outstanding -= 1
            s.lastNanos = now
            s.measurement.record(outcome, kind: kind, latencyNanos: now &- dueAt)
        }
        sendDue()
    }

    private func finishIfDone() {
        let done: (CheckedContinuation<CQLBenchMeasurement, Never>, CQLBenchMeasurement)? = state.withLock { s in
            guard !s.sending, s.outstanding == 0, let f = s.finished else { return nil }
            s.finished = nil
            s.measurement.seconds = Double(max(s.lastNanos, s.endNanos) - s.startNanos) / 1e9
            return (f, s.measurement)
        }
        if let (f, m) = done { f.resume(returning: m) }
    }
}
