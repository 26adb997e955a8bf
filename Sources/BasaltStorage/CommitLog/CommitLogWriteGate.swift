/// What the commit log does when it cannot write or sync a segment (Cassandra's
/// `commit_failure_policy`, adapted: see docs/storage.md, "Disk failures").
public enum CommitFailurePolicy: String, Sendable, CaseIterable {
    /// Exit the process at once; a supervisor restarts it and replay recovers what was acknowledged.
    case die
    /// Refuse writes with a clear error, go on serving reads, and try the commit log again every
    /// ``CommitLogWriteGate/probeIntervalNanos``; writes resume by themselves once it can be
    /// written (the default).
    case stop
    /// Refuse writes until the node restarts (the commit log is shut); reads go on.
    case stopCommit = "stop_commit"
    /// Fail the writes whose records were lost and accept the next ones at once (no refusal window).
    case ignore
}

/// Whether the commit log accepts writes, as a pure state machine driven by the sync thread:
/// write failures and probe results in, actions out; time is given by the caller (monotonic
/// nanoseconds). It does no I/O and logs nothing itself: the ``Action``s say what to log, once
/// per transition.
///
/// States: `open` (writes accepted); `refusing` (writes fail with ``refusal``; under `stop` a probe
/// is due every `probeIntervalNanos`, under `die` and `stop_commit` never). Under `ignore` a
/// failure never leaves `open`.
public struct CommitLogWriteGate: Sendable {
    public enum State: Sendable, Equatable {
        case open
        case refusing(Refusal)
    }

    /// Why and since when writes are refused.
    public struct Refusal: Sendable, Equatable {
        public var error: StorageError
        public var sinceNanos: UInt64
        /// When the next probe is due; nil when writes stay refused until a restart.
        public var nextProbeNanos: UInt64?
        public var failedProbes: Int
    }

    public enum Action: Sendable, Equatable {
        /// Log once: writes are refused from now on.
        case logRefusing(StorageError)
        /// Log once: writes are accepted again after `refusedNanos` and `probes` probes.
        case logResumed(refusedNanos: UInt64, probes: Int)
        /// Log (rate-limited by the gate): a failure was ignored per policy.
        case logIgnored(StorageError)
        /// Exit the process (policy `die`).
        case exitProcess(StorageError)
    }

    public let policy: CommitFailurePolicy
    public let probeIntervalNanos: UInt64
    public private(set) var state: State = .open
    /// Failures seen (write or sync errors, failed probes not counted).
    public private(set) var failures = 0
    private var lastIgnoredLogNanos: UInt64?

    public init(policy: CommitFailurePolicy, probeIntervalNanos: UInt64 = 1_000_000_000) {
        self.policy = policy
        self.probeIntervalNanos = probeIntervalNanos
    }

    /// The error a writer gets while writes are refused; nil while they are accepted.
    public var refusal: StorageError? {
        if case let .refusing(r) = state { return .commitLogUnavailable(r.error.summary) }
        return nil
    }

    /// A write or sync of the commit log failed.
    public mutating func onWriteFailure(_ error: StorageError, nowNanos: UInt64) -> [Action] {
        failures += 1
        switch state {
        case .refusing:
            // A write that was already under way when the gate closed: nothing new to say.
            return []
        case .open:
            switch policy {
            case .ignore:
                // Log at most every 10 s so a dead disk does not flood the log.
                if let last = lastIgnoredLogNanos, nowNanos &- last < 10_000_000_000 { return [] }
                lastIgnoredLogNanos = nowNanos
                return [.logIgnored(error)]
            case .die:
                state = .refusing(Refusal(error: error, sinceNanos: nowNanos, nextProbeNanos: nil, failedProbes: 0))
                return [.logRefusing(error), .exitProcess(error)]
            case .stopCommit:
                state = .refusing(Refusal(error: error, sinceNanos: nowNanos, nextProbeNanos: nil, failedProbes: 0))
                return [.logRefusing(error)]
            case .stop:
                state = .refusing(Refusal(error: error, sinceNanos: nowNanos, nextProbeNanos: nowNanos &+ probeIntervalNanos, failedProbes: 0))
                return [.logRefusing(error)]
            }
        }
    }

    /// Whether the sync thread should try the commit log now.
    public func isProbeDue(nowNanos: UInt64) -> Bool {
        guard case let .refusing(r) = state, let due = r.nextProbeNanos else { return false }
        return nowNanos >= due
    }

    /// How long the sync thread may sleep before the next probe is due (nil: no probe pending).
    public func nanosUntilProbe(nowNanos: UInt64) -> UInt64? {
        guard case let .refusing(r) = state, let due = r.nextProbeNanos else { return nil }
        return due > nowNanos ? due - nowNanos : 0
    }

    /// A probe (writing and syncing a fresh segment's header) succeeded or failed.
    public mutating func onProbe(_ result: Result<Void, StorageError>, nowNanos: UInt64) -> [Action] {
        guard case var .refusing(r) = state, r.nextProbeNanos != nil else {
            assertionFailure("CommitLogWriteGate.onProbe in a state that probes nothing: \(self)")
            return []
        }
        switch result {
        case .success:
            state = .open
            return [.logResumed(refusedNanos: nowNanos &- r.sinceNanos, probes: r.failedProbes + 1)]
        case let .failure(e):
            r.failedProbes += 1
            r.error = e
            r.nextProbeNanos = nowNanos &+ probeIntervalNanos
            state = .refusing(r)
            return []
        }
    }
}
