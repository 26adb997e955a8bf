import BasaltCore

/// One stored hint: when it was written (µs since the epoch, coordinator clock) and the encoded
/// `Mutation` (its `encoded()` bytes), kept for a replica that did not acknowledge it.
public struct Hint: Hashable, Sendable {
    public var createdAtMicros: Int64
    public var mutation: [UInt8]

    public init(createdAtMicros: Int64, mutation: [UInt8]) {
        self.createdAtMicros = createdAtMicros
        self.mutation = mutation
    }
}

/// A place in one target's hints: a segment and the offset of the next record in it. Opaque to
/// callers; cursors of one target are ordered by write order.
public struct HintCursor: Hashable, Comparable, Sendable, CustomStringConvertible {
    let segment: UInt64
    let offset: Int
    /// How many records of `segment` lie before `offset`.
    let recordsBefore: Int

    init(segment: UInt64, offset: Int, recordsBefore: Int) {
        self.segment = segment
        self.offset = offset
        self.recordsBefore = recordsBefore
    }

    /// Before every segment.
    static let start = HintCursor(segment: 0, offset: 0, recordsBefore: 0)

    public static func < (a: HintCursor, b: HintCursor) -> Bool {
        a.segment != b.segment ? a.segment < b.segment : a.offset < b.offset
    }

    // `recordsBefore` follows from the place, so equality is the place alone.
    public static func == (a: HintCursor, b: HintCursor) -> Bool {
        a.segment == b.segment && a.offset == b.offset
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(segment)
        hasher.combine(offset)
    }

    public var description: String { "\(segment):\(offset)" }
}

/// A run of hints for one target, in write order, read after the target's delivery cursor, and
/// where it ends. Hand it back to ``HintStore/markDelivered(_:)`` once every hint in it was
/// delivered.
public struct HintBatch: Hashable, Sendable {
    public let target: UUIDValue
    public let hints: [Hint]
    /// Just past the last hint (opaque).
    public let end: HintCursor
    /// Bytes of the hints' mutations.
    public var byteCount: Int
}
