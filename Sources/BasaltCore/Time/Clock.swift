#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The time source every Basalt component reads, injected so that tests and simulations drive time.
///
/// Two kinds of time: `now()` is wall-clock time in microseconds since the Unix epoch (write
/// timestamps, TTL expiry, generations); `monotonicNanos()` never goes backwards and is for
/// measuring intervals (timeouts, failure detection, throttling).
public protocol Clock: Sendable {
    func now() -> Timestamp
    func monotonicNanos() -> UInt64
}

extension Clock {
    /// Wall-clock seconds since the epoch, the unit of TTL expiry and local deletion times.
    @inlinable public func nowSeconds() -> Int64 { now().micros / 1_000_000 }
}

/// The operating system's clocks (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`).
public struct SystemClock: Clock {
    public init() {}

    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(micros: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }

    public func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// A clock that moves only when told to; both kinds of time advance together.
public final class ManualClock: Clock, @unchecked Sendable {
    // @unchecked: every access to the two fields goes through `lock`.
    private let lock = Lock()
    private var wallMicros: Int64
    private var monoNanos: UInt64

    public init(wallMicros: Int64 = 1_700_000_000_000_000, monotonicNanos: UInt64 = 1_000_000_000) {
        self.wallMicros = wallMicros
        self.monoNanos = monotonicNanos
    }

    public func now() -> Timestamp { lock.withLock { Timestamp(micros: wallMicros) } }
    public func monotonicNanos() -> UInt64 { lock.withLock { monoNanos } }

    /// Moves both clocks forward.
    public func advance(nanos: UInt64) {
        lock.withLock {
            monoNanos += nanos
            wallMicros += Int64(nanos / 1000)
        }
    }

    public func advance(seconds: Double) { advance(nanos: UInt64(seconds * 1e9)) }

    /// Sets wall time only (a node whose wall clock jumps).
    public func setWall(micros: Int64) { lock.withLock { wallMicros = micros } }
}
