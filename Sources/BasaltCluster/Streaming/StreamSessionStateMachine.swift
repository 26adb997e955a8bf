import BasaltCore
import BasaltStorage

/// One part of a stream session: one table's data in one token range, fetched in order.
public struct StreamTask: Hashable, Sendable, CustomStringConvertible {
    public var keyspace: String
    public var table: String
    public var tableId: UUIDValue
    public var range: TokenRange

    public init(keyspace: String, table: String, tableId: UUIDValue, range: TokenRange) {
        self.keyspace = keyspace
        self.table = table
        self.tableId = tableId
        self.range = range
    }

    public var description: String { "\(keyspace).\(table) \(range)" }
}

/// The receiving side of a stream session as a pure state machine: it pulls every task's data from
/// one source node in chunks (token-ordered pages of a range scan), at most `window` chunks in flight
/// or being applied, each chunk checksummed by the source and checked here before it is applied.
///
/// Rules:
/// - Each task has at most one chunk outstanding; its cursor moves only after the chunk was applied
///   (``onApplied(_:now:)``), so a lost, failed or corrupt chunk is asked for again from the same
///   cursor (applying a chunk twice is harmless: cells keep their timestamps).
/// - A chunk whose request id is not outstanding (a duplicate, or a late answer to a request that
///   already timed out and was retried) is ignored.
/// - A failed request is retried after `retryDelayNanos × attempt`; after `maxAttempts` attempts of
///   the same chunk, or when the source is reported dead, the session fails.
/// - ``Action/complete(_:)`` is emitted once, only after every task reached the end of its range and
///   every chunk was applied; ``Action/fail(_:)`` at most once and never after `complete`. After
///   either, events produce nothing. ``remainingTasks`` says what a restarted session must still
///   fetch (a task's cursor survives, so a restart against another source continues where this one
///   stopped).
public struct StreamSessionStateMachine: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Chunks requested or being applied at once (the session's memory bound).
        public var window = 4
        /// Rows per chunk (the source's scan page size).
        public var rowsPerChunk = 512
        /// A chunk request not answered within this long is asked again.
        public var chunkTimeoutNanos: UInt64 = 30_000_000_000
        /// Attempts of one chunk before the session fails.
        public var maxAttempts = 5
        /// Delay before the n-th retry is `n ×` this.
        public var retryDelayNanos: UInt64 = 500_000_000

        public init() {}
    }

    /// A chunk to ask the source for.
    public struct ChunkRequest: Hashable, Sendable {
        public var id: UInt64
        public var taskIndex: Int
        public var task: StreamTask
        public var after: ScanPosition?
        public var rows: Int
        public var attempt: Int
    }

    public enum Action: Hashable, Sendable {
        /// Ask the source for this chunk (its answer comes back to ``onChunk(id:payload:checksum:now:)``,
        /// a failure to ``onChunkFailed(id:reason:now:)``).
        case request(ChunkRequest)
        /// Apply this chunk's partitions to local storage, then report ``onApplied(_:now:)`` (or
        /// ``onApplyFailed(_:reason:now:)``).
        case apply(id: UInt64, task: StreamTask, chunk: ScanResult)
        /// Every task's data is here.
        case complete(StreamSummary)
        /// The session gave up; nothing after this.
        case fail(String)
    }

    enum TaskState: Hashable, Sendable {
        case idle
        case requested(id: UInt64, sentAt: UInt64, attempt: Int)
        case waitingRetry(until: UInt64, attempt: Int)
        case applying(id: UInt64, next: ScanPosition?)
        case done
    }

    public let settings: Settings
    public let tasks: [StreamTask]
    private(set) var states: [TaskState]
    private(set) var cursors: [ScanPosition?]
    private var nextId: UInt64 = 1
    public private(set) var summary = StreamSummary()
    public private(set) var outcome: Outcome = .running

    public enum Outcome: Hashable, Sendable {
        case running, completed, failed(String)
    }

    /// A session over `tasks`; `cursors` (one per task, nil for the start) resume a restarted session.
    public init(tasks: [StreamTask], cursors: [ScanPosition?]? = nil, settings: Settings = Settings()) {
        precondition(settings.window > 0 && settings.maxAttempts > 0 && settings.rowsPerChunk > 0, "bad stream settings: \(settings)")
        self.tasks = tasks
        self.settings = settings
        states = Array(repeating: .idle, count: tasks.count)
        self.cursors = cursors ?? Array(repeating: nil, count: tasks.count)
        precondition(self.cursors.count == tasks.count, "one cursor per task")
    }

    /// Tasks not finished, with where each must continue: what a restarted session is given.
    public var remainingTasks: [(task: StreamTask, cursor: ScanPosition?)] {
        tasks.indices.filter { states[$0] != .done }.map { (tasks[$0], cursors[$0]) }
    }

    /// Tasks finished so far.
    public var completedTasks: Int { states.count { $0 == .done } }

    /// Chunks requested or being applied.
    public var inFlight: Int {
        states.count {
            switch $0 {
            case .requested, .applying: true
            default: false
            }
        }
    }

    public mutating func start(now: UInt64) -> [Action] {
        guard outcome == .running else { return [] }
        return fill(now: now)
    }

    /// A chunk arrived for request `id`: `payload` is the source's `ScanResult` encoding, `checksum`
    /// its CRC-32C as the source computed it.
    public mutating func onChunk(id: UInt64, payload: [UInt8], checksum: UInt32, now: UInt64) -> [Action] {
        guard outcome == .running else { return [] }
        guard let i = taskIndex(requested: id), case let .requested(_, _, attempt) = states[i] else {
            summary.duplicates += 1
            return []
        }
        guard CRC32C.checksum(payload) == checksum else {
            summary.checksumFailures += 1
            return retry(i, attempt: attempt, reason: "chunk of \(tasks[i]) failed its checksum", now: now)
        }
        let chunk: ScanResult
        do { chunk = try ScanResult.decode(payload) } catch {
            return retry(i, attempt: attempt, reason: "chunk of \(tasks[i]) is malformed: \(error)", now: now)
        }
        if let next = chunk.next, let cursor = cursors[i], !Self.advances(from: cursor, to: next) {
            return failSession("source \(tasks[i]) returned a chunk that does not advance (cursor \(next.token))")
        }
        summary.chunks += 1
        summary.bytes += payload.count
        summary.partitions += chunk.partitions.count
        states[i] = .applying(id: id, next: chunk.next)
        return [.apply(id: id, task: tasks[i], chunk: chunk)]
    }

    /// The request for chunk `id` failed (timed out, refused, connection lost).
    public mutating func onChunkFailed(id: UInt64, reason: String, now: UInt64) -> [Action] {
        guard outcome == .running, let i = taskIndex(requested: id), case let .requested(_, _, attempt) = states[i] else { return [] }
        return retry(i, attempt: attempt, reason: reason, now: now)
    }

    /// Chunk `id` is in local storage.
    public mutating func onApplied(_ id: UInt64, now: UInt64) -> [Action] {
        guard outcome == .running else { return [] }
        guard let i = states.firstIndex(where: { if case let .applying(a, _) = $0 { a == id } else { false } }),
              case let .applying(_, next) = states[i] else {
            assertionFailure("onApplied(\(id)) for a chunk that is not being applied: \(self)")
            return []
        }
        if let next {
            cursors[i] = next
            states[i] = .idle
        } else {
            states[i] = .done
            summary.tasksCompleted += 1
        }
        return fill(now: now)
    }

    /// Chunk `id` could not be applied (storage refused it): the session fails.
    public mutating func onApplyFailed(_ id: UInt64, reason: String, now: UInt64) -> [Action] {
        guard outcome == .running else { return [] }
        return failSession("applying a chunk failed: \(reason)")
    }

    /// The source was marked dead by failure detection.
    public mutating func onSourceDown(now: UInt64) -> [Action] {
        guard outcome == .running else { return [] }
        return failSession("the source went down")
    }

    /// Periodic check: chunks outstanding past the timeout are asked again, due retries are sent.
    public mutating func onTick(now: UInt64) -> [Action] {
        guard outcome == .running else { return [] }
        var out: [Action] = []
        for i in states.indices {
            if case let .requested(_, sentAt, attempt) = states[i], now >= sentAt &+ settings.chunkTimeoutNanos {
                summary.timeouts += 1
                out += retry(i, attempt: attempt, reason: "chunk of \(tasks[i]) not answered in time", now: now)
                if outcome != .running { return out }
            }
        }
        return out + fill(now: now)
    }

    /// Cancels the session (operator request, shutdown).
    public mutating func cancel(reason: String) -> [Action] {
        guard outcome == .running else { return [] }
        return failSession(reason)
    }

    // MARK: - Internals

    private func taskIndex(requested id: UInt64) -> Int? {
        states.firstIndex { if case let .requested(r, _, _) = $0 { r == id } else { false } }
    }

    private mutating func retry(_ i: Int, attempt: Int, reason: String, now: UInt64) -> [Action] {
        summary.retries += 1
        if attempt >= settings.maxAttempts {
            return failSession("\(reason); gave up after \(attempt) attempts")
        }
        states[i] = .waitingRetry(until: now &+ settings.retryDelayNanos &* UInt64(attempt), attempt: attempt + 1)
        return fill(now: now)
    }

    private mutating func failSession(_ reason: String) -> [Action] {
        outcome = .failed(reason)
        return [.fail(reason)]
    }

    /// Sends requests for idle tasks and due retries while the window has room; completes when done.
    private mutating func fill(now: UInt64) -> [Action] {
        var out: [Action] = []
        var busy = inFlight
        for i in states.indices where busy < settings.window {
            let attempt: Int
            switch states[i] {
            case .idle: attempt = 1
            case let .waitingRetry(until, a) where now >= until: attempt = a
            default: continue
            }
            let id = nextId
            nextId += 1
            states[i] = .requested(id: id, sentAt: now, attempt: attempt)
            busy += 1
            out.append(.request(ChunkRequest(id: id, taskIndex: i, task: tasks[i], after: cursors[i],
                                             rows: settings.rowsPerChunk, attempt: attempt)))
        }
        if states.allSatisfy({ $0 == .done }) {
            outcome = .completed
            out.append(.complete(summary))
        }
        return out
    }

    /// Whether the source moved past `cursor` (a page that repeats its cursor would loop forever).
    static func advances(from cursor: ScanPosition, to next: ScanPosition) -> Bool { next != cursor }
}

/// What a stream session moved.
public struct StreamSummary: Hashable, Sendable, Codable {
    public var chunks = 0
    public var bytes = 0
    public var partitions = 0
    public var tasksCompleted = 0
    public var retries = 0
    public var duplicates = 0
    public var checksumFailures = 0
    public var timeouts = 0

    public init() {}
}

extension StreamSessionStateMachine: CustomStringConvertible {
    public var description: String {
        "StreamSessionStateMachine(outcome: \(outcome), tasks: \(tasks.count), states: \(states), summary: \(summary))"
    }
}
