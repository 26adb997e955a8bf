/// A write timestamp: microseconds since the Unix epoch, as CQL's `USING TIMESTAMP` and the
/// driver's default timestamps. Reconciliation compares these: the higher one wins.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var micros: Int64

    @inlinable public init(micros: Int64) { self.micros = micros }

    /// Sorts before every real timestamp; "no timestamp".
    public static let none = Timestamp(micros: .min)

    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.micros < b.micros }

    @inlinable public var millis: Int64 { micros / 1000 }
    @inlinable public var seconds: Int64 { micros / 1_000_000 }

    public var description: String { String(micros) }
}

/// Hands out strictly increasing microsecond timestamps, even when several writes arrive within
/// the same microsecond or the wall clock steps back, as a coordinator must.
public final class TimestampGenerator: @unchecked Sendable {
    // @unchecked: `last` is only read and written under `lock`.
    private let lock = Lock()
    private var last: Int64 = .min
    private let clock: any Clock

    public init(clock: any Clock) { self.clock = clock }

    public func next() -> Timestamp {
        let now = clock.now().micros
        return lock.withLock {
            last = max(now, last &+ 1)
            return Timestamp(micros: last)
        }
    }
}
