import BasaltCore

/// When hints are delivered, as a pure state machine (no I/O; time comes in with each event).
///
/// A target's hints are delivered one batch at a time while the target is alive: the next batch
/// waits until the previous one's bytes have "drained" at the throttle rate
/// (`hinted_handoff_throttle_in_kb`), and after a failed batch it waits an exponential backoff
/// (from `retryDelay`, doubling up to `maxRetryDelay`). A target that goes down is left alone
/// until it is seen alive again; a batch already in flight finishes or fails on its own.
public struct HintDeliveryScheduler: Sendable {
    public struct Settings: Sendable {
        /// Bytes per second delivered to one target.
        public var throttleBytesPerSecond: Int = 1024 * 1024
        /// Bytes of hints per batch.
        public var batchBytes: Int = 256 * 1024
        public var retryDelayNanos: UInt64 = 1_000_000_000
        public var maxRetryDelayNanos: UInt64 = 60_000_000_000

        public init() {}
    }

    public enum Directive: Hashable, Sendable {
        /// Deliver the next batch (about `maxBytes`) of `target`'s hints and report the outcome.
        case deliver(target: UUIDValue, maxBytes: Int)
    }

    private struct Target {
        var alive = false
        var hasHints = false
        var inFlight = false
        var notBefore: UInt64 = 0
        var failures = 0
    }

    public let settings: Settings
    private var targets: [UUIDValue: Target] = [:]

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Targets with hints not yet delivered, as far as the scheduler knows.
    public var targetsWithHints: [UUIDValue] { targets.filter { $0.value.hasHints }.map(\.key).sorted { ($0.msb, $0.lsb) < ($1.msb, $1.lsb) } }

    /// Hints were stored for `target` (at start-up: for every target the store holds).
    public mutating func onHintsStored(for target: UUIDValue) {
        targets[target, default: Target()].hasHints = true
    }

    /// The target's hints are gone (delivered elsewhere, removed from the ring).
    public mutating func onHintsForgotten(for target: UUIDValue) {
        targets[target] = nil
    }

    /// Periodic: `alive` is every node currently up. Returns the batches to start now.
    public mutating func onTick(nowNanos: UInt64, alive: Set<UUIDValue>) -> [Directive] {
        var out: [Directive] = []
        for id in targets.keys.sorted(by: { ($0.msb, $0.lsb) < ($1.msb, $1.lsb) }) {
            var t = targets[id]!
            let wasAlive = t.alive
            t.alive = alive.contains(id)
            if t.alive && !wasAlive {
                // Back up: deliver at once, forgetting earlier failures.
                t.failures = 0
                t.notBefore = 0
            }
            if t.alive && t.hasHints && !t.inFlight && nowNanos >= t.notBefore {
                t.inFlight = true
                out.append(.deliver(target: id, maxBytes: settings.batchBytes))
            }
            targets[id] = t
        }
        return out
    }

    /// A batch of `bytes` was delivered; `more` says whether the store still holds hints for it.
    public mutating func onDelivered(target id: UUIDValue, bytes: Int, more: Bool, nowNanos: UInt64) {
        guard var t = targets[id] else { return }
        t.inFlight = false
        t.failures = 0
        t.hasHints = more
        let rate = UInt64(max(1, settings.throttleBytesPerSecond))
        t.notBefore = nowNanos + UInt64(max(0, bytes)) * 1_000_000_000 / rate
        targets[id] = t
    }

    /// A batch failed (the target did not acknowledge every hint); it is retried after a backoff.
    public mutating func onDeliveryFailed(target id: UUIDValue, nowNanos: UInt64) {
        guard var t = targets[id] else { return }
        t.inFlight = false
        t.failures += 1
        let shift = UInt64(min(t.failures - 1, 20))
        t.notBefore = nowNanos + min(settings.maxRetryDelayNanos, settings.retryDelayNanos << shift)
        targets[id] = t
    }
}
