/// What the store knows about one target's segment files and how far delivery has come: pure
/// bookkeeping, no I/O (``HintTarget`` does the file work and keeps this in step with it).
///
/// Invariants: segments are in ascending id order; only the last one can be open for appending;
/// every segment is at or after the delivery cursor (segments wholly before it are removed by
/// ``advance(to:)``); `diskBytes` is the sum of the segments' file sizes.
struct HintTargetLog {
    struct Segment: Equatable {
        let id: UInt64
        /// Bytes of the file, header included: what it costs against the limits.
        var fileBytes: Int
        /// Where its readable records end: the end of the last complete write, or where damage
        /// was found.
        var end: Int
        /// Records in `[header, end)`.
        var records: Int
    }

    /// One segment's part of a read: records in `[from, end)`, `recordsBefore` of them before
    /// `from`.
    struct ReadStep: Equatable {
        let segment: UInt64
        let from: Int
        let end: Int
        let recordsBefore: Int
    }

    /// What cutting a segment short at damage dropped.
    struct Cut: Equatable {
        var records: Int
        var bytes: Int
        /// The segment was open: the next write starts a new one.
        var wasOpen: Bool
    }

    private(set) var segments: [Segment] = []
    /// The segment being appended to (the last one), if any.
    private(set) var openSegment: UInt64?
    private(set) var cursor = HintCursor.start
    private(set) var diskBytes = 0

    /// Where the open segment's records end, nil when none is open.
    var openEnd: Int? { openSegment == nil ? nil : segments.last?.end }

    /// Hints after the cursor.
    var pendingHints: Int {
        segments.reduce(0) { $0 + $1.records } - (segments.first?.id == cursor.segment ? cursor.recordsBefore : 0)
    }

    /// Bytes of the records after the cursor, framing included.
    var pendingBytes: Int {
        let all = segments.reduce(0) { $0 + $1.end - HintSegmentFormat.headerSize }
        guard segments.first?.id == cursor.segment else { return all }
        return all - (cursor.offset - HintSegmentFormat.headerSize)
    }

    /// Adds a segment after every other one (found at start-up, or just created and `open`).
    mutating func add(_ segment: Segment, open: Bool) {
        precondition(segment.id > segments.last?.id ?? 0 && segment.id > cursor.segment,
                     "hint segment \(segment.id) added out of order after \(segments.map(\.id)), cursor \(cursor)")
        segments.append(segment)
        diskBytes += segment.fileBytes
        openSegment = open ? segment.id : nil
    }

    /// One record of `bytes` was written at the end of the open segment.
    mutating func appended(bytes: Int) {
        precondition(openSegment != nil && openSegment == segments.last?.id, "append without an open hint segment: \(segments.map(\.id))")
        segments[segments.count - 1].fileBytes += bytes
        segments[segments.count - 1].end += bytes
        segments[segments.count - 1].records += 1
        diskBytes += bytes
    }

    /// No more appends to the open segment.
    mutating func sealOpen() { openSegment = nil }

    /// Moves the cursor forward to `end` and removes the segments wholly before it (an open one
    /// too, when nothing was appended after `end`). Returns the removed segments, or nil when
    /// `end` is not after the cursor (a stale or repeated batch), which changes nothing.
    mutating func advance(to end: HintCursor) -> [Segment]? {
        guard cursor < end else { return nil }
        cursor = end
        var removed: [Segment] = []
        while let first = segments.first, first.id < end.segment || (first.id == end.segment && end.offset >= first.end) {
            segments.removeFirst()
            diskBytes -= first.fileBytes
            if openSegment == first.id { openSegment = nil }
            removed.append(first)
        }
        return removed
    }

    /// The reads that return every hint after the cursor, as things stand.
    func readPlan() -> [ReadStep] {
        segments.map { s in
            s.id == cursor.segment
                ? ReadStep(segment: s.id, from: cursor.offset, end: s.end, recordsBefore: cursor.recordsBefore)
                : ReadStep(segment: s.id, from: HintSegmentFormat.headerSize, end: s.end, recordsBefore: 0)
        }
    }

    /// Damage was found in `segment` at `offset`, after `recordsBefore` of its records: the rest of
    /// it is unreadable. Nil when that part was already cut (or the segment is gone).
    mutating func cut(segment id: UInt64, at offset: Int, recordsBefore: Int) -> Cut? {
        guard let i = segments.firstIndex(where: { $0.id == id }), segments[i].end > offset else { return nil }
        let cut = Cut(records: max(0, segments[i].records - recordsBefore), bytes: segments[i].end - offset, wasOpen: openSegment == id)
        segments[i].end = offset
        segments[i].records = recordsBefore
        if cut.wasOpen { openSegment = nil }
        return cut
    }

    /// Forgets every segment; returns them and how many hints in them were undelivered. The cursor
    /// moves past them, so a batch read before is ignored by ``advance(to:)``.
    mutating func removeAll() -> (removed: [Segment], undelivered: Int) {
        let undelivered = pendingHints
        let removed = segments
        if let last = removed.last { cursor = HintCursor(segment: last.id, offset: Int.max, recordsBefore: 0) }
        segments = []
        openSegment = nil
        diskBytes = 0
        return (removed, undelivered)
    }
}
