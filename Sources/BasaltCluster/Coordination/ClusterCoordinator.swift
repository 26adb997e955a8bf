import BasaltCore
import BasaltNet
import BasaltStorage
import Logging
import Synchronization

/// Where the coordinator keeps hints for replicas that missed a write.
public protocol HintSink: Sendable {
    /// Keeps a hint for `replica` (the mutation's encoding); false when it is not kept (hinted
    /// handoff off, the replica down longer than the hint window, the store full).
    func storeHint(_ mutation: [UInt8], for replica: Replica) -> Bool
}

/// The cluster's ``RequestCoordinator``: any node coordinates any request over internode
/// messaging, with the replicas of the ring and the keyspace's replication strategy. The protocol
/// logic is in the pure ``WriteCoordination``, ``ReadCoordination`` and ``ScanCoordination``;
/// this shell sends what they ask for (the local replica directly on the storage engine), feeds
/// back responses, failures and timers, and answers the caller.
public final class ClusterCoordinator: RequestCoordinator, Sendable {
    public struct Settings: Sendable {
        public var writeTimeout: Duration = .seconds(2)
        public var readTimeout: Duration = .seconds(5)
        public var rangeTimeout: Duration = .seconds(10)
        /// Reads ask one more replica when the contacted ones have not answered within this long:
        /// the 99th percentile of recent replica read latencies, at least `minimumSpeculationDelay`
        /// (`initialSpeculationDelay` until enough reads were measured); nil turns speculation off.
        public var speculativeRetry: SpeculativeRetry? = .percentile99
        public var minimumSpeculationDelay: Duration = .milliseconds(2)
        public var initialSpeculationDelay: Duration = .milliseconds(50)
        /// How index queries are sent to replicas.
        public var indexQueryRouting: IndexQueryRouting = .perReplica
        /// Largest mutation accepted (encoded bytes): half a commit-log segment, as Cassandra's
        /// `max_mutation_size`. A larger one is refused as invalid before any replica is contacted.
        public var maxMutationSize = 16 << 20

        public enum SpeculativeRetry: Sendable, Equatable {
            case percentile99
            case fixed(Duration)
        }

        public init() {}
    }

    /// What the coordinator did, for metrics.
    public struct Counters: Hashable, Sendable {
        public var writes = 0
        public var reads = 0
        public var scanPages = 0
        public var unavailables = 0
        public var writeTimeouts = 0
        public var writeFailures = 0
        public var readTimeouts = 0
        public var readFailures = 0
        /// Reads whose replicas disagreed (a data round followed).
        public var digestMismatches = 0
        /// Repair mutations sent to stale replicas (reads and scans).
        public var readRepairsSent = 0
        public var speculativeRetries = 0
        public var hintsRequested = 0
        public var hintsNotStored = 0
        public var localFastReads = 0
        /// Writes refused as invalid for a mutation over the maximum mutation size.
        public var mutationsTooLarge = 0
    }

    let engine: StorageEngine
    let messaging: MessagingService
    let topology: ClusterTopology
    let schema: any SchemaSource
    let hints: (any HintSink)?
    /// This node's vector indexes, for ANN requests it serves as a replica to itself.
    let vectorSearch: (any LocalVectorSearch)?
    /// This node's term indexes, for index queries it serves as a replica to itself.
    let indexQuery: (any LocalIndexQuery)?
    let settings: Settings
    let clock: any Clock
    let logger: Logger
    let counts = Mutex(Counters())
    /// Write and read failures by cause (shared with the node's replica service when given).
    public let failures: RequestFailures
    let readLatency = LatencyWindow(capacity: 1024)
    /// Latency of coordinated reads, writes and range reads by consistency level (metrics, `basalt admin proxyhistograms`).
    public let latencies = CoordinatorLatencies()
    /// Every request's timeouts and speculation timers.
    let deadlines: DeadlineQueue
    /// Closed by a drain: client writes are refused from then on.
    public let writeGate: WriteGate

    public init(engine: StorageEngine, messaging: MessagingService, topology: ClusterTopology, schema: any SchemaSource,
                hints: (any HintSink)?, vectorSearch: (any LocalVectorSearch)? = nil, indexQuery: (any LocalIndexQuery)? = nil,
                settings: Settings = Settings(), failures: RequestFailures? = nil, writeGate: WriteGate = WriteGate(),
                clock: any Clock, logger: Logger) {
        self.failures = failures ?? RequestFailures(clock: clock, logger: logger)
        self.writeGate = writeGate
        self.vectorSearch = vectorSearch
        self.indexQuery = indexQuery
        self.engine = engine
        self.messaging = messaging
        self.topology = topology
        self.schema = schema
        self.hints = hints
        self.settings = settings
        self.clock = clock
        self.logger = logger
        deadlines = DeadlineQueue(loop: messaging.group.next(), clock: clock)
    }

    /// Stops the request timers (call when the node stops; requests still running then end with
    /// their replicas' answers or messaging's own timeouts).
    public func stop() { deadlines.stop() }

    public var counters: Counters { counts.withLock { $0 } }

    func count(_ key: WritableKeyPath<Counters, Int>, _ n: Int = 1) {
        counts.withLock { $0[keyPath: key] += n }
    }

    /// Counts a failed request by kind.
    func count(_ error: CoordinatorError) {
        switch error {
        case .unavailable: count(\.unavailables)
        case .writeTimeout: count(\.writeTimeouts)
        case .writeFailure: count(\.writeFailures)
        case .readTimeout: count(\.readTimeouts)
        case .readFailure: count(\.readFailures)
        case .overloaded, .invalid: break
        }
    }

    func keyspace(_ name: String) throws(CoordinatorError) -> KeyspaceSchema {
        guard let ks = schema.keyspace(named: name) else { throw .invalid("Keyspace '\(name)' does not exist") }
        return ks
    }

    func table(_ id: UUIDValue, _ keyspace: String, _ name: String) throws(CoordinatorError) -> TableSchema {
        guard let t = schema.table(id: id) else { throw .invalid("unconfigured table \(name) in keyspace \(keyspace)") }
        return t
    }

    /// How long a read waits before asking one more replica; nil for never.
    var speculationDelay: Duration? {
        switch settings.speculativeRetry {
        case nil: return nil
        case let .fixed(d): return d
        case .percentile99:
            guard let p99 = readLatency.percentile99Nanos() else { return settings.initialSpeculationDelay }
            let d = Duration.nanoseconds(Int64(p99))
            return d < settings.minimumSpeculationDelay ? settings.minimumSpeculationDelay : d
        }
    }

    /// Why a replica failed, from a messaging failure; nil for what is not a refusal (timeouts,
    /// unreachable peers).
    static func failureCause(_ error: MessagingError) -> FailureCause? {
        switch error {
        case let .remoteFailure(_, message): FailureCause(taggedMessage: message)
        case .frameTooLarge: .messageTooLarge
        default: nil
        }
    }

    /// Counts and logs a request that failed with WriteFailure or ReadFailure (``RequestFailures``).
    func recordFailure(_ error: CoordinatorError, cause: FailureCause?) {
        switch error {
        case .writeFailure: failures.record(.write, side: .coordinator, cause: cause ?? .unknown, detail: error.description)
        case .readFailure: failures.record(.read, side: .coordinator, cause: cause ?? .unknown, detail: error.description)
        default: break
        }
    }

    /// How a messaging failure counts for a replica: nil for a timeout (the request's own timer
    /// decides), `.rejected` when the replica answered with a failure or the message cannot be
    /// sent at all, else `.unreachable`.
    static func replicaFailure(_ error: MessagingError) -> ReplicaFailure? {
        switch error {
        case .timeout: nil
        case .remoteFailure, .frameTooLarge: .rejected
        case .peerUnreachable, .connectionClosed, .overloaded, .cancelled, .shutDown: .unreachable
        }
    }
}

/// One state machine and its timers, driven from any thread: events are applied under a lock and
/// the directives they return are executed by the caller outside it.
final class MachineBox<Machine: Sendable>: @unchecked Sendable {
    // @unchecked: `machine` and `timers` are only touched under `lock`.
    private let lock = Lock()
    private var machine: Machine
    private var timers: [DeadlineQueue.Token] = []
    private let deadlines: DeadlineQueue

    init(_ machine: Machine, deadlines: DeadlineQueue) {
        self.machine = machine
        self.deadlines = deadlines
    }

    func step<D>(_ event: (inout Machine) -> [D]) -> [D] { lock.withLock { event(&machine) } }

    func read<R>(_ body: (Machine) -> R) -> R { lock.withLock { body(machine) } }

    /// Runs `body` after `delay` unless ``cancelTimers()`` comes first.
    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        let token = deadlines.schedule(after: delay, body)
        lock.withLock { timers.append(token) }
    }

    func cancelTimers() {
        let all = lock.withLock { () -> [DeadlineQueue.Token] in defer { timers.removeAll() }; return timers }
        for t in all { deadlines.cancel(t) }
    }
}

/// The most recent latencies of one kind of request, for percentile estimates.
final class LatencyWindow: Sendable {
    private struct State {
        var samples: [UInt64]
        var next = 0
        var filled = false
        var sinceEstimate = 0
        var p99: UInt64?
    }

    private let state: Mutex<State>
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        state = Mutex(State(samples: [UInt64](repeating: 0, count: capacity)))
    }

    func record(_ elapsed: Duration) {
        let nanos = elapsed.wholeNanoseconds
        state.withLock { s in
            s.samples[s.next] = nanos
            s.next += 1
            if s.next == capacity { s.next = 0; s.filled = true }
            s.sinceEstimate += 1
            // A first estimate after 32 samples, then one every quarter window.
            if s.sinceEstimate >= capacity / 4 || (s.p99 == nil && s.sinceEstimate >= 32) {
                s.sinceEstimate = 0
                let n = s.filled ? capacity : s.next
                let sorted = s.samples[0 ..< n].sorted()
                s.p99 = sorted[min(n - 1, n * 99 / 100)]
            }
        }
    }

    func percentile99Nanos() -> UInt64? { state.withLock { $0.p99 } }
}
