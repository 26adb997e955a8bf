import BasaltCore
import Logging
import Synchronization

/// Request failures counted by kind, side and cause (``FailureCause``), each logged with its cause:
/// on a replica every one, on a coordinator at most one line per 10 s per kind (with how many were
/// held back). One instance per node, shared by its coordinator and replica service, read by the
/// metrics endpoint (`basalt_write_failures_total{cause=…,side=…}`).
public final class RequestFailures: Sendable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case write, read
    }

    public enum Side: String, Sendable, Hashable, CaseIterable {
        /// The node coordinating the request answered the client with a failure.
        case coordinator
        /// The node serving as a replica refused its part.
        case replica
    }

    public struct Key: Hashable, Sendable {
        public var kind: Kind
        public var side: Side
        public var cause: FailureCause
    }

    private let counts = Mutex<[Key: Int]>([:])
    private let coordinatorLogs: [Kind: LogThrottle] = [.write: LogThrottle(), .read: LogThrottle()]
    private let clock: any Clock
    private let logger: Logger

    public init(clock: any Clock = SystemClock(), logger: Logger) {
        self.clock = clock
        self.logger = logger
    }

    /// Counts one failure and logs it with its cause; `detail` says what failed (the error text, the
    /// peer, the table).
    public func record(_ kind: Kind, side: Side, cause: FailureCause, detail: String) {
        counts.withLock { $0[Key(kind: kind, side: side, cause: cause), default: 0] += 1 }
        switch side {
        case .replica:
            logger.warning("\(kind) failed on this replica (\(cause)): \(detail)", metadata: ["cause": "\(cause)"])
        case .coordinator:
            guard let held = coordinatorLogs[kind]?.admit(nowNanos: clock.monotonicNanos()) else { return }
            logger.warning("\(kind) failed (\(cause)): \(detail)", metadata: [
                "cause": "\(cause)", "similar_failures_not_logged": "\(held)",
            ])
        }
    }

    /// Every count so far.
    public var snapshot: [Key: Int] { counts.withLock { $0 } }
}
