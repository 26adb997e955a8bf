/// Slows password guessing, per client address and role, as a pure value (time comes in as
/// monotonic nanoseconds).
///
/// Every login attempt for a key reserves the next slot: the first attempt after a quiet period
/// runs at once; after `n` attempts that did not succeed, the next one waits
/// `baseDelay × 2^(n-1)`, capped at `maxDelay`, after the previous slot. Attempts made in parallel
/// queue behind each other, so opening many connections does not help. A success forgets the key;
/// so does `quietPeriod` without attempts. With the defaults (50 ms, cap 5 s) ten wrong attempts
/// take about 21 s and 1,000 take well over an hour.
public struct LoginThrottle: Sendable {
    public struct Settings: Hashable, Sendable {
        public var baseDelayNanos: UInt64 = 50_000_000
        public var maxDelayNanos: UInt64 = 5_000_000_000
        public var quietPeriodNanos: UInt64 = 300_000_000_000
        /// Keys remembered at most; beyond, the oldest are forgotten (bounded memory under a spray of addresses).
        public var maxKeys = 100_000
        public init() {}
    }

    public struct Key: Hashable, Sendable {
        public var address: String
        public var role: String
        public init(address: String, role: String) {
            self.address = address
            self.role = role
        }
    }

    struct Entry {
        /// Attempts since the last success (including ones still running).
        var attempts: Int
        /// When the most recently reserved attempt may run.
        var lastSlot: UInt64
    }

    public let settings: Settings
    var entries: [Key: Entry] = [:]

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// The delay before the attempt after `failures` unsuccessful ones.
    public func delay(afterFailures failures: Int) -> UInt64 {
        guard failures > 0 else { return 0 }
        let shift = min(failures - 1, 40)
        let (d, overflow) = settings.baseDelayNanos.multipliedReportingOverflow(by: UInt64(1) << UInt64(shift))
        return overflow ? settings.maxDelayNanos : min(d, settings.maxDelayNanos)
    }

    /// Reserves a slot for an attempt made at `now`; returns how long it must wait before its
    /// credentials are checked (0 when it may run at once).
    public mutating func admit(_ key: Key, now: UInt64) -> UInt64 {
        var e = entries[key] ?? Entry(attempts: 0, lastSlot: now)
        if e.attempts > 0, now > e.lastSlot, now - e.lastSlot > settings.quietPeriodNanos { e = Entry(attempts: 0, lastSlot: now) }
        let slot = max(now, e.lastSlot + delay(afterFailures: e.attempts))
        e.attempts += 1
        e.lastSlot = slot
        if entries[key] == nil, entries.count >= settings.maxKeys { forgetOldest(now: now) }
        entries[key] = e
        return slot - now
    }

    /// The attempt succeeded: the key starts afresh.
    public mutating func onSuccess(_ key: Key) { entries[key] = nil }

    /// Attempts counted against a key since its last success.
    public func attempts(_ key: Key) -> Int { entries[key]?.attempts ?? 0 }

    mutating func forgetOldest(now: UInt64) {
        let quiet = entries.filter { now > $0.value.lastSlot && now - $0.value.lastSlot > settings.quietPeriodNanos }.map(\.key)
        for k in quiet { entries[k] = nil }
        if entries.count >= settings.maxKeys, let oldest = entries.min(by: { $0.value.lastSlot < $1.value.lastSlot })?.key { entries[oldest] = nil }
    }
}
