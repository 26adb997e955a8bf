import BasaltCore
import BasaltNet
import BasaltStorage
import Logging
import Synchronization

/// A node's streaming: it serves chunks of its data to receivers (``StreamVerbs/chunk``, throttled
/// by `stream_throughput_outbound`), runs receiving sessions (``fetch(from:tasks:purpose:)``, or for a
/// peer's ``StreamVerbs/pull``), and reports what is in progress for `netstats`.
///
/// A receiving session is a ``StreamSessionStateMachine`` driven here: its requests go out over
/// messaging, its chunks are applied to the storage engine as mutations (cells keep their
/// timestamps, TTLs and tombstones), a ticker reports time. A session that fails is restarted from
/// where it stopped (at most ``Settings/restarts`` times, while the source is alive); ``fetch`` throws
/// unless every task completed.
public final class StreamService: Sendable {
    public struct Settings: Sendable {
        public var session = StreamSessionStateMachine.Settings()
        /// Restarts of a failed session before ``fetch(from:tasks:purpose:)`` gives up.
        public var restarts = 3
        /// Pause before a restart.
        public var restartDelay: Duration = .seconds(1)
        /// How often sessions are told the time.
        public var tick: Duration = .milliseconds(250)

        public init() {}
    }

    /// One session in progress or finished, as `netstats` shows it.
    public struct Progress: Hashable, Sendable, Codable {
        public var session: String
        public var direction: String
        public var peer: String
        public var purpose: String
        public var tasksTotal: Int
        public var tasksCompleted: Int
        public var bytes: Int
        public var partitions: Int
        public var retries: Int
        public var state: String
    }

    /// Chunks served to receivers.
    public struct SourceCounters: Hashable, Sendable, Codable {
        public var chunksServed = 0
        public var bytesServed = 0
        public var throttledNanos: UInt64 = 0
    }

    private let engine: @Sendable () -> StorageEngine
    private let messaging: MessagingService
    private let clock: any Clock
    private let logger: Logger
    public let settings: Settings
    private let throttle: Mutex<StreamThrottle>
    private let sourceCounters = Mutex(SourceCounters())
    private let sessions = Mutex<[UUIDValue: Progress]>([:])
    /// Whether a node is believed alive (failure detection), by internode address.
    private let isAlive: @Sendable (SocketAddress) -> Bool

    public init(engine: @escaping @Sendable () -> StorageEngine, messaging: MessagingService, throughputBytesPerSecond: Int,
                settings: Settings = Settings(), isAlive: @escaping @Sendable (SocketAddress) -> Bool = { _ in true },
                clock: any Clock, logger: Logger) {
        self.engine = engine
        self.messaging = messaging
        self.clock = clock
        self.logger = logger
        self.settings = settings
        self.isAlive = isAlive
        throttle = Mutex(StreamThrottle(bytesPerSecond: throughputBytesPerSecond))
    }

    /// The outbound rate limit in bytes per second (0: unthrottled).
    public var throughputBytesPerSecond: Int { throttle.withLock { $0.bytesPerSecond } }

    /// Changes the outbound rate limit at run time.
    public func setThroughput(bytesPerSecond: Int) {
        throttle.withLock { $0.setRate(bytesPerSecond: bytesPerSecond) }
        logger.info("stream throughput set", metadata: ["bytes_per_second": "\(bytesPerSecond)"])
    }

    public var counters: SourceCounters { sourceCounters.withLock { $0 } }

    /// Sessions in progress and the last finished ones.
    public var progress: [Progress] { sessions.withLock { Array($0.values) }.sorted { $0.session < $1.session } }

    /// Registers the streaming verbs (before messaging starts). `pullAllowed` refuses pulls while
    /// this node cannot take data (not started).
    public func register(on messaging: MessagingService) {
        messaging.register(StreamVerbs.chunk) { [self] m, reply in
            Task { await serveChunk(m, reply) }
        }
        messaging.registerAsync(StreamVerbs.pull) { [self] m in
            let request = try StreamPullRequest.decode(m.payload)
            let source = try SocketAddress(host: request.source.host, port: request.source.port)
            let summary = try await fetch(from: source, tasks: request.tasks, purpose: "pull", session: request.session)
            return summary.encoded()
        }
    }

    // MARK: - Source side

    private func serveChunk(_ m: InboundMessage, _ reply: ReplyToken) async {
        do {
            let (_, command) = try StreamVerbs.decodeChunkRequest(m.payload)
            let result = try engine().scan(command)
            let response = StreamVerbs.chunkResponse(result)
            let wait = throttle.withLock { $0.reserve(response.count, now: clock.monotonicNanos()) }
            if wait > 0 { try? await Task.sleep(for: .nanoseconds(Int64(wait))) }
            sourceCounters.withLock {
                $0.chunksServed += 1
                $0.bytesServed += response.count
                $0.throttledNanos += wait
            }
            reply.reply(response)
        } catch {
            logger.debug("refused a stream chunk", metadata: ["peer": "\(m.peer)", "error": "\(error)"])
            reply.fail("\(error)")
        }
    }

    // MARK: - Receiving side

    /// Fetches every task's data from `source` into local storage; returns when all of it is applied,
    /// throws when the session failed more than ``Settings/restarts`` times or the source is down.
    public func fetch(from source: SocketAddress, tasks: [StreamTask], purpose: String,
                      session: UUIDValue = UUIDValue.random()) async throws(StreamError) -> StreamSummary {
        var remaining: [(task: StreamTask, cursor: ScanPosition?)] = tasks.map { ($0, nil) }
        var total = StreamSummary()
        var attempt = 0
        record(session, source: source, purpose: purpose, total: tasks.count, summary: total, done: 0, state: "streaming")
        while true {
            let machine = StreamSessionStateMachine(tasks: remaining.map(\.task), cursors: remaining.map(\.cursor),
                                                    settings: settings.session)
            let before = total
            let finishedBefore = tasks.count - remaining.count
            let run = StreamSessionRun(service: self, session: session, source: source, machine: machine) { [self] s, done in
                var sum = before
                sum.add(s)
                record(session, source: source, purpose: purpose, total: tasks.count, summary: sum,
                       done: finishedBefore + done, state: "streaming")
            }
            let (outcome, summary, left) = await run.run()
            total.add(summary)
            remaining = left
            switch outcome {
            case .completed:
                record(session, source: source, purpose: purpose, total: tasks.count, summary: total, done: tasks.count, state: "complete")
                logger.info("stream session complete", metadata: [
                    "session": "\(session)", "source": "\(source)", "purpose": "\(purpose)",
                    "bytes": "\(total.bytes)", "partitions": "\(total.partitions)", "retries": "\(total.retries)",
                ])
                return total
            case let .failed(reason):
                attempt += 1
                logger.warning("stream session failed", metadata: [
                    "session": "\(session)", "source": "\(source)", "reason": "\(reason)", "attempt": "\(attempt)",
                ])
                guard attempt <= settings.restarts, isAlive(source) else {
                    record(session, source: source, purpose: purpose, total: tasks.count, summary: total,
                           done: tasks.count - remaining.count, state: "failed: \(reason)")
                    throw .sessionFailed(source: "\(source)", reason: reason)
                }
                try? await Task.sleep(for: settings.restartDelay)
            case .running:
                preconditionFailure("a stream session run returned while running")
            }
        }
    }

    private func record(_ session: UUIDValue, source: SocketAddress, purpose: String, total: Int, summary: StreamSummary,
                        done: Int, state: String) {
        sessions.withLock { all in
            // A late progress report never turns a finished session back into a running one.
            if state == "streaming", let old = all[session], old.state != "streaming" { return }
            all[session] = Progress(session: session.description, direction: "receiving", peer: "\(source)", purpose: purpose,
                                    tasksTotal: total, tasksCompleted: done, bytes: summary.bytes, partitions: summary.partitions,
                                    retries: summary.retries, state: state)
            // Keep finished sessions for a while, bounded.
            if all.count > 64, let old = all.first(where: { $0.value.state != "streaming" })?.key { all[old] = nil }
        }
    }

    // MARK: - For the session runs

    func requestChunk(_ r: StreamSessionStateMachine.ChunkRequest, session: UUIDValue, from source: SocketAddress,
                      completion: @escaping @Sendable (Result<[UInt8], MessagingError>) -> Void) {
        let command = TokenScanCommand(keyspace: r.task.keyspace, table: r.task.table, tableId: r.task.tableId, range: r.task.range,
                                       after: r.after, pageSize: r.rows, nowSeconds: clock.nowSeconds())
        let timeout = Duration.nanoseconds(Int64(settings.session.chunkTimeoutNanos))
        messaging.request(to: source, verb: StreamVerbs.chunk, payload: StreamVerbs.chunkRequest(session: session, command),
                          timeout: timeout, completion: completion)
    }

    func apply(_ task: StreamTask, _ chunk: ScanResult, completion: @escaping @Sendable (StorageError?) -> Void) {
        guard !chunk.partitions.isEmpty else { return completion(nil) }
        let left = Atomic<Int>(chunk.partitions.count)
        let firstError = Mutex<StorageError?>(nil)
        let engine = engine()
        for p in chunk.partitions {
            let m = Mutation(keyspace: task.keyspace, table: task.table, tableId: task.tableId, partitionKey: p.partitionKey, update: p.update)
            engine.apply(m) { result in
                if case let .failure(e) = result { firstError.withLock { if $0 == nil { $0 = e } } }
                if left.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                    completion(firstError.withLock { $0 })
                }
            }
        }
    }

    var now: UInt64 { clock.monotonicNanos() }
    func sourceIsAlive(_ source: SocketAddress) -> Bool { isAlive(source) }
}

/// Why a stream did not complete.
public enum StreamError: Error, Sendable, CustomStringConvertible {
    case sessionFailed(source: String, reason: String)
    case noSource(range: String, keyspace: String)
    case refused(String)

    public var description: String {
        switch self {
        case let .sessionFailed(source, reason): "stream from \(source) failed: \(reason)"
        case let .noSource(range, keyspace): "no live replica to stream \(keyspace) range \(range) from"
        case let .refused(why): why
        }
    }
}

extension StreamSummary {
    mutating func add(_ o: StreamSummary) {
        chunks += o.chunks
        bytes += o.bytes
        partitions += o.partitions
        tasksCompleted += o.tasksCompleted
        retries += o.retries
        duplicates += o.duplicates
        checksumFailures += o.checksumFailures
        timeouts += o.timeouts
    }

    /// The `stream.pull` response: eight var-ints.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        w.writeUInt8(1)
        for v in [chunks, bytes, partitions, tasksCompleted, retries, duplicates, checksumFailures, timeouts] { w.writeVarUInt(UInt64(v)) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> StreamSummary {
        var r = ByteReader(bytes)
        let v = try r.readUInt8()
        guard v == 1 else { throw .invalid("unknown stream summary version \(v)", at: 0) }
        var values: [Int] = []
        for _ in 0 ..< 8 { values.append(Int(clamping: try r.readVarUInt())) }
        var s = StreamSummary()
        (s.chunks, s.bytes, s.partitions, s.tasksCompleted) = (values[0], values[1], values[2], values[3])
        (s.retries, s.duplicates, s.checksumFailures, s.timeouts) = (values[4], values[5], values[6], values[7])
        return s
    }
}
