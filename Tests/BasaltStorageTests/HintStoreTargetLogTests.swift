import BasaltCore
@testable import BasaltStorage
import Testing

/// The per-target bookkeeping alone: cursor, segment removal, damage and counts.
@Suite("HintStore target log")
struct HintStoreTargetLogTests {
    let h = HintSegmentFormat.headerSize

    /// Segments 10 (3 records of 100 bytes, sealed) and 11 (2 records, open).
    func twoSegments() -> HintTargetLog {
        var log = HintTargetLog()
        log.add(.init(id: 10, fileBytes: h + 300, end: h + 300, records: 3), open: false)
        log.add(.init(id: 11, fileBytes: h, end: h, records: 0), open: true)
        log.appended(bytes: 100)
        log.appended(bytes: 100)
        return log
    }

    @Test func countsFollowTheCursor() {
        var log = twoSegments()
        #expect(log.pendingHints == 5 && log.pendingBytes == 500 && log.diskBytes == 2 * h + 500)
        #expect(log.openEnd == h + 200)
        #expect(log.readPlan() == [.init(segment: 10, from: h, end: h + 300, recordsBefore: 0),
                                   .init(segment: 11, from: h, end: h + 200, recordsBefore: 0)])
        #expect(log.advance(to: HintCursor(segment: 10, offset: h + 100, recordsBefore: 1)) == [])
        #expect(log.pendingHints == 4 && log.pendingBytes == 400)
        #expect(log.readPlan().first == .init(segment: 10, from: h + 100, end: h + 300, recordsBefore: 1))
    }

    @Test func wholeSegmentsAreRemovedAndStaleCursorsIgnored() {
        var log = twoSegments()
        let mid = HintCursor(segment: 11, offset: h + 100, recordsBefore: 1)
        #expect(log.advance(to: mid)?.map(\.id) == [10])
        #expect(log.advance(to: mid) == nil)
        #expect(log.advance(to: HintCursor(segment: 10, offset: h + 300, recordsBefore: 3)) == nil)
        #expect(log.diskBytes == h + 200 && log.pendingHints == 1)
        // The open segment goes when delivered to its end, unless more was appended.
        log.appended(bytes: 100)
        #expect(log.advance(to: HintCursor(segment: 11, offset: h + 200, recordsBefore: 2)) == [])
        #expect(log.openSegment == 11)
        #expect(log.advance(to: HintCursor(segment: 11, offset: h + 300, recordsBefore: 3))?.map(\.id) == [11])
        #expect(log.openSegment == nil && log.openEnd == nil && log.diskBytes == 0 && log.pendingHints == 0)
    }

    @Test func damageCutsASegmentOnce() {
        var log = twoSegments()
        #expect(log.cut(segment: 10, at: h + 100, recordsBefore: 1) == .init(records: 2, bytes: 200, wasOpen: false))
        #expect(log.cut(segment: 10, at: h + 100, recordsBefore: 1) == nil)
        #expect(log.pendingHints == 3 && log.diskBytes == 2 * h + 500)
        #expect(log.cut(segment: 11, at: h, recordsBefore: 0) == .init(records: 2, bytes: 200, wasOpen: true))
        #expect(log.openSegment == nil)
        #expect(log.cut(segment: 12, at: h, recordsBefore: 0) == nil)
        // Reading to the cut ends removes both.
        #expect(log.advance(to: HintCursor(segment: 11, offset: h, recordsBefore: 0))?.map(\.id) == [10, 11])
    }

    @Test func removeAllMovesTheCursorPastEverything() {
        var log = twoSegments()
        _ = log.advance(to: HintCursor(segment: 10, offset: h + 100, recordsBefore: 1))
        let (removed, undelivered) = log.removeAll()
        #expect(removed.map(\.id) == [10, 11] && undelivered == 4)
        #expect(log.advance(to: HintCursor(segment: 11, offset: h + 200, recordsBefore: 2)) == nil)
        log.add(.init(id: 12, fileBytes: h, end: h, records: 0), open: true)
        log.appended(bytes: 50)
        #expect(log.readPlan() == [.init(segment: 12, from: h, end: h + 50, recordsBefore: 0)])
    }

    @Test func fileNamesRoundTrip() {
        let t = UUIDValue(msb: 0x1111, lsb: 0xa)
        let name = HintSegmentFormat.fileName(target: t, segment: 1_700_000_000_000_123)
        #expect(HintSegmentFormat.parse(fileName: name)! == (t, 1_700_000_000_000_123))
        for bad in ["LOCK", "x.hints", "\(t).hints", "\(t)-.hints", "\(t)-12", "\(t)-1x.hints", "\(t)-0.hints",
                    "\(t)-\(UInt64.max).hints", "tmp-\(name)"] {
            #expect(HintSegmentFormat.parse(fileName: bad) == nil, "\(bad)")
        }
    }
}
