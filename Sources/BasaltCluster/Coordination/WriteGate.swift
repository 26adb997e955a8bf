import BasaltCore
import Synchronization

/// Whether this node still takes writes: open from start, closed for good by `basalt admin drain`
/// (as Cassandra's drain, only a restart opens it again). The coordinator refuses client writes and
/// the replica service refuses peers' mutations while it is closed; reads go on.
public final class WriteGate: Sendable {
    private let closed = Atomic<Bool>(false)

    public init() {}

    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Closes the gate; returns false when it was already closed.
    @discardableResult
    public func close() -> Bool {
        !closed.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// What a refused write is told.
    public static let refusal = "this node is drained (basalt admin drain): it accepts no writes until it restarts"
}

extension FailureCause {
    /// The replica was drained and takes no more writes.
    public static let drained = FailureCause("drained")
}
