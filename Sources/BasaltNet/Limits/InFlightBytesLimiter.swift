import Synchronization

/// A quantity a server holds — bytes of requests, connections — counted in total and per client
/// host against two limits. A pure value: no I/O, no clock. A limit of 0 or less is no limit.
public struct PerHostTally: Sendable, Equatable {
    public var limit: Int
    public var limitPerHost: Int
    public private(set) var total = 0
    public private(set) var perHost: [String: Int] = [:]

    public init(limit: Int, limitPerHost: Int) {
        self.limit = limit
        self.limitPerHost = limitPerHost
    }

    /// Counts `n` more for `host`.
    public mutating func add(_ n: Int, host: String) {
        guard n > 0 else { return }
        total += n
        perHost[host, default: 0] += n
    }

    /// Stops counting `n` for `host` (never below zero).
    public mutating func remove(_ n: Int, host: String) {
        guard n > 0 else { return }
        let held = perHost[host] ?? 0
        let taken = min(n, held)
        total -= taken
        if held - taken == 0 { perHost.removeValue(forKey: host) } else { perHost[host] = held - taken }
    }

    /// Whether `host` may not add more: the total or its own share is at or past its limit, leaving
    /// out `excluding` of what it holds (a connection's own bytes, when it asks for more).
    public func isOver(host: String, excluding: Int = 0) -> Bool {
        if limitPerHost > 0 && (perHost[host] ?? 0) - excluding >= limitPerHost { return true }
        return limit > 0 && total - excluding >= limit
    }

    /// Which limit `host` is at or past (its own first), for refusals and messages; nil when none.
    public func breach(host: String) -> (held: Int, limit: Int, perHost: Bool)? {
        if limitPerHost > 0, let held = perHost[host], held >= limitPerHost { return (held, limitPerHost, true) }
        if limit > 0 && total >= limit { return (total, limit, false) }
        return nil
    }
}

/// The bytes of requests a server holds — received but unanswered, including frames still arriving.
/// Bytes are counted when they arrive (a connection cannot refuse what the socket already gave it),
/// so a total may pass its limit by what one read delivers; ``PerHostTally/isOver(host:)`` then
/// tells the connection to stop reading (or to answer Overloaded).
public typealias InFlightBytes = PerHostTally

/// A server's ``InFlightBytes`` shared by its connections on every loop, with the connections
/// waiting for room.
///
/// Guarantees: a connection that stopped reading because its host was over a limit
/// (``pauseIfOver(host:waiter:wake:)``) is woken exactly once, after bytes were released and its host
/// is under both limits again (or at once if that happened before it registered). Wake callbacks run
/// on the releasing thread outside the lock; they should hop to their connection's loop.
public final class InFlightBytesLimiter: Sendable {
    private struct Waiter {
        let host: String
        let wake: @Sendable () -> Void
    }

    private struct State {
        var bytes: InFlightBytes
        var waiters: [ObjectIdentifier: Waiter] = [:]
    }

    private let state: Mutex<State>
    private let pausesCount = Atomic<Int>(0)

    public init(limit: Int, limitPerHost: Int) {
        state = Mutex(State(bytes: InFlightBytes(limit: limit, limitPerHost: limitPerHost)))
    }

    /// The accounting now (for metrics and tests).
    public var snapshot: InFlightBytes { state.withLock { $0.bytes } }
    /// Times a connection stopped reading because of these limits.
    public var pauses: Int { pausesCount.load(ordering: .relaxed) }

    public func add(_ n: Int, host: String) {
        guard n > 0 else { return }
        state.withLock { $0.bytes.add(n, host: host) }
    }

    /// Counts `n` more bytes for `host` only if, leaving out the `own` bytes the asking connection
    /// already holds, it is under both limits (checked and counted under one lock); the count may
    /// then pass a limit by up to `n + own`. How a connection reserves a whole frame when its header
    /// arrives, so that a frame once begun is never paused half-way, and a frame larger than a
    /// limit can still be received when nothing else is held.
    public func tryAdd(_ n: Int, host: String, own: Int) -> Bool {
        state.withLock { s in
            guard !s.bytes.isOver(host: host, excluding: own) else { return false }
            s.bytes.add(n, host: host)
            return true
        }
    }

    /// Releases `n` bytes and wakes the waiters whose hosts are under both limits now.
    public func remove(_ n: Int, host: String) {
        guard n > 0 else { return }
        let woken = state.withLock { s -> [@Sendable () -> Void] in
            s.bytes.remove(n, host: host)
            return Self.takeWaiters(&s)
        }
        for wake in woken { wake() }
    }

    public func isOver(host: String) -> Bool { state.withLock { $0.bytes.isOver(host: host) } }

    public func breach(host: String) -> (held: Int, limit: Int, perHost: Bool)? { state.withLock { $0.bytes.breach(host: host) } }

    /// If `host` is over a limit, registers `waiter` to be woken when it is not and returns true (the
    /// caller stops reading); else returns false. Checked and registered under one lock, so a
    /// release in between cannot be missed.
    public func pauseIfOver(host: String, waiter: AnyObject, wake: @escaping @Sendable () -> Void) -> Bool {
        let paused = state.withLock { s -> Bool in
            guard s.bytes.isOver(host: host) else { return false }
            s.waiters[ObjectIdentifier(waiter)] = Waiter(host: host, wake: wake)
            return true
        }
        if paused { pausesCount.wrappingAdd(1, ordering: .relaxed) }
        return paused
    }

    /// Forgets a waiter (its connection closed).
    public func cancelWait(_ waiter: AnyObject) {
        state.withLock { _ = $0.waiters.removeValue(forKey: ObjectIdentifier(waiter)) }
    }

    private static func takeWaiters(_ s: inout State) -> [@Sendable () -> Void] {
        guard !s.waiters.isEmpty else { return [] }
        var woken: [@Sendable () -> Void] = []
        for (id, w) in s.waiters where !s.bytes.isOver(host: w.host) {
            woken.append(w.wake)
            s.waiters.removeValue(forKey: id)
        }
        return woken
    }
}
