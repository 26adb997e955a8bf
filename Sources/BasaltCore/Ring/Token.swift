/// A position on the Murmur3 ring: a signed 64-bit integer.
///
/// The ring runs from `Token.min` (Int64.min, which no key hashes to and which stands for "the start
/// of the ring") to `Token.max`. Ordering is signed integer order, as Cassandra's `LongToken`.
public struct Token: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: Int64

    @inlinable public init(_ value: Int64) { self.value = value }

    /// The minimum token: sorts before every key's token.
    public static let min = Token(.min)
    public static let max = Token(.max)

    @inlinable public static func < (a: Token, b: Token) -> Bool { a.value < b.value }

    public var description: String { String(value) }

    /// Parses the decimal form used in system tables and configuration.
    public init?(_ text: some StringProtocol) {
        guard let v = Int64(text) else { return nil }
        value = v
    }
}

/// A token range `(start, end]`, exclusive at the start and inclusive at the end, as Cassandra's
/// ranges. When `start >= end` the range wraps around the ring; `(t, t]` is the whole ring.
public struct TokenRange: Hashable, Sendable, CustomStringConvertible {
    public var start: Token
    public var end: Token

    @inlinable public init(start: Token, end: Token) {
        self.start = start
        self.end = end
    }

    /// Whether the range wraps past `Token.max` back to the start of the ring.
    @inlinable public var wraps: Bool { start >= end }

    @inlinable
    public func contains(_ t: Token) -> Bool {
        if start < end { return t > start && t <= end }
        return t > start || t <= end
    }

    /// The range split at the ring's end into at most two non-wrapping ranges, in token order.
    /// `(start, Token.min]` stands for "everything after `start`".
    public var unwrapped: [TokenRange] {
        guard wraps else { return [self] }
        if end == .min { return [TokenRange(start: start, end: .min)] }
        if start == .min { return [TokenRange(start: .min, end: end)] }
        return [TokenRange(start: .min, end: end), TokenRange(start: start, end: .min)]
    }

    public var description: String { "(\(start), \(end)]" }
}
