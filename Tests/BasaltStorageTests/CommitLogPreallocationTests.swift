import BasaltCore
@testable import BasaltStorage
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Segments after the first roll-over are written over files of their full size, zero-filled or
/// reused; replay ends each one cleanly at its zero-filled rest or its old records, and still finds
/// a torn record.
@Suite("Commit-log segment preallocation")
struct CommitLogPreallocationTests {
    let schema = TestSchemas.keyValue()
    static let segmentBytes = 128 << 10

    func config(preallocate: Bool = true) -> StorageConfig {
        var c = StorageConfig()
        c.commitLogSync = .batch
        c.commitLogSegmentBytes = Self.segmentBytes
        c.commitLogPreallocation = preallocate
        c.automaticCompaction = false
        return c
    }

    /// Commit-log files by name, with their sizes.
    func logFiles(_ dir: TemporaryDirectory) throws -> [(name: String, size: Int)] {
        try FileSystem.list(dir.path + "/commitlog").sorted().map { ($0, try FileSystem.fileSize(dir.path + "/commitlog/" + $0)) }
    }

    /// Writes keys `range` with 1 KiB values (a segment holds about a hundred).
    func write(_ e: StorageEngine, _ range: Range<Int>) throws {
        for i in range { try e.apply(kvMutation(schema, i, value: [UInt8](repeating: UInt8(i & 0xFF), count: 1024))) }
    }

    func value(_ e: StorageEngine, _ i: Int) throws -> [UInt8]? { try kvValue(e, schema, i) }

    @Test func laterSegmentsArePreallocatedAndReplayStopsCleanlyAtTheirZeros() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        // Until the first roll-over nothing is prepared: a short-lived engine writes no zeros.
        try write(e, 0 ..< 10)
        #expect(try logFiles(dir).allSatisfy { !$0.name.hasPrefix(CommitLogSegmentFormat.preallocatedPrefix) })
        // Segments roll over (at the segment size, or sooner while they grow) and later ones are
        // taken from prepared files: full-sized though only partly written.
        var rounds = 0
        while try logFiles(dir).filter({ $0.name.hasSuffix(".log") && $0.size == Self.segmentBytes }).count < 2 && rounds < 200 {
            try write(e, 10 + rounds * 50 ..< 10 + (rounds + 1) * 50)
            rounds += 1
            if rounds % 4 == 0 { usleep(20_000) } // let the preparing thread run on a loaded machine
        }
        let written = 10 + rounds * 50
        let full = try logFiles(dir).filter { $0.name.hasSuffix(".log") && $0.size == Self.segmentBytes }
        // Every prepared file is counted, whether taken yet or not.
        #expect(e.counters.commitLogPreallocatedBytes >= full.count * Self.segmentBytes)
        #expect(e.counters.commitLogPreallocatedBytes % Self.segmentBytes == 0)
        let listing = try logFiles(dir)
        #expect(full.count >= 2, "segments: \(listing)")
        e.close(flush: false)
        // A clean close leaves no prepared file behind.
        #expect(try logFiles(dir).allSatisfy { !$0.name.hasPrefix(CommitLogSegmentFormat.preallocatedPrefix) })
        let report: CommitLogReplayReport
        (e, report) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(report.tornTails.isEmpty, "\(report)")
        #expect(report.replayed == written)
        for i in [0, 9, 10, written / 2, written - 1] {
            #expect(try value(e, i) == [UInt8](repeating: UInt8(i & 0xFF), count: 1024))
        }
        #expect(try value(e, written) == nil)
    }

    /// A crash in the middle of a record in a preallocated segment: the record is torn, the
    /// records before it are replayed, and the zeros after it are not mistaken for its end.
    @Test func aTornRecordInAPreallocatedSegmentIsFound() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        var written = 0
        while try logFiles(dir).filter({ $0.name.hasSuffix(".log") && $0.size == Self.segmentBytes }).isEmpty && written < 10_000 {
            try write(e, written ..< written + 50)
            written += 50
            usleep(5_000)
        }
        // A few records in the preallocated segment, then its tail.
        try write(e, written ..< written + 5)
        written += 5
        e.close(flush: false)
        let (name, _) = try #require(try logFiles(dir).filter { $0.name.hasSuffix(".log") && $0.size == Self.segmentBytes }.last)
        let path = dir.path + "/commitlog/" + name
        var bytes = try FileSystem.readAll(path)
        // The last record ends at the last byte that is not zero (or up to three bytes after it,
        // when its checksum ends in zeros): zeroing the five bytes before that end damages it.
        let end = try #require(bytes.lastIndex { $0 != 0 }) + 1
        for i in end - 5 ..< end { bytes[i] = 0 }
        let f = try WritableFile(path: path)
        try f.write(bytes)
        try f.close()
        let report: CommitLogReplayReport
        (e, report) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(report.tornTails.count == 1)
        #expect(report.tornTails.first?.path == path)
        #expect(report.replayed == written - 1)
        #expect(try value(e, written - 2) != nil)
        #expect(try value(e, written - 1) == nil)
    }

    /// A segment's records end cleanly at zeros, however few are left after the last record, and
    /// not at bytes that are not all zero.
    @Test func theZeroFilledRestEndsASegmentWhateverItsLength() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir.path)
        var records = CommitLogSegmentFormat.header(5)
        for payload in [[UInt8](repeating: 7, count: 40), [1, 2, 3]] {
            payload.withUnsafeBytes { CommitLogSegmentFormat.appendRecord($0, segment: 5, to: &records) }
        }
        for (tail, torn) in [([UInt8](), false), ([0], false), (Array(repeating: 0, count: 9), false),
                             (Array(repeating: 0, count: 4096), false), ([0, 0, 0, 0, 0, 0, 0, 1], true),
                             (Array(repeating: 0xFF, count: 12), true)] {
            let path = dir.path + "/CommitLog-5.log"
            try FileSystem.writeFile(path, records + tail)
            var payloads: [[UInt8]] = []
            let found = try CommitLogSegmentReader(path: path, id: 5).forEachRecord { _, p in payloads.append(p) }
            #expect(payloads == [[UInt8](repeating: 7, count: 40), [1, 2, 3]])
            #expect((found != nil) == torn, "tail of \(tail.count) bytes: \(String(describing: found))")
        }
        // A prepared file renamed into place before its header was written holds no records; a
        // header that is not all zeros and not a segment's is still reported.
        let path = dir.path + "/CommitLog-6.log"
        try FileSystem.writeFile(path, [UInt8](repeating: 0, count: 8192))
        var none = 0
        #expect(try CommitLogSegmentReader(path: path, id: 6).forEachRecord { _, _ in none += 1 } == nil)
        #expect(none == 0)
        try FileSystem.writeFile(path, [1] + [UInt8](repeating: 0, count: 8191))
        #expect(try CommitLogSegmentReader(path: path, id: 6).forEachRecord { _, _ in none += 1 }?.reason == "bad segment header")
    }

    /// Files prepared by a process that did not close cleanly are removed at the next start.
    @Test func leftoverPreparedFilesAreRemoved() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir.path + "/commitlog")
        let leftover = dir.path + "/commitlog/" + CommitLogSegmentFormat.preallocatedPrefix + "7.tmp"
        try FileSystem.writeFile(leftover, [UInt8](repeating: 0, count: 4096))
        let (e, report) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(report.segments == 0)
        #expect(!FileSystem.exists(leftover))
    }

    /// Segment files of `(id, records)`: the header (reused or not) and each payload framed for `id`.
    func segment(_ id: UInt64, reused: Bool = false, _ payloads: [[UInt8]]) -> [UInt8] {
        var bytes = CommitLogSegmentFormat.header(id, recycled: reused)
        for p in payloads { p.withUnsafeBytes { CommitLogSegmentFormat.appendRecord($0, segment: id, to: &bytes) } }
        return bytes
    }

    func records(_ path: String, _ id: UInt64) throws -> (payloads: [[UInt8]], torn: CommitLogReplayReport.TornTail?) {
        var payloads: [[UInt8]] = []
        let torn = try CommitLogSegmentReader(path: path, id: id).forEachRecord { _, p in payloads.append(p) }
        return (payloads, torn)
    }

    /// A reused file holds the old segment's records behind the new ones: they end the new
    /// segment cleanly, while the same bytes in a file that was not reused are a damaged tail.
    @Test func anOldSegmentsRecordsEndAReusedOne() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir.path)
        let old = (0 ..< 40).map { [UInt8](repeating: UInt8($0), count: 30 + $0) }
        let new: [[UInt8]] = [[9, 9, 9], [UInt8](repeating: 8, count: 100)]
        var bytes = segment(5, old)
        let fresh = segment(9, reused: true, new)
        bytes.replaceSubrange(0 ..< fresh.count, with: fresh)
        let path = dir.path + "/CommitLog-9.log"
        try FileSystem.writeFile(path, bytes)
        var found = try records(path, 9)
        #expect(found.payloads == new)
        #expect(found.torn == nil)
        // Not marked reused: the old records are damage.
        bytes.replaceSubrange(0 ..< CommitLogSegmentFormat.headerSize, with: CommitLogSegmentFormat.header(9))
        try FileSystem.writeFile(path, bytes)
        found = try records(path, 9)
        #expect(found.payloads == new)
        #expect(found.torn?.reason == "record length checksum mismatch")
        // A new record cut short in a reused file is still torn.
        let cut = segment(9, reused: true, new + [[UInt8](repeating: 7, count: 500)])
        try FileSystem.writeFile(path, Array(cut.prefix(cut.count - 10)) + Array(repeating: 0x55, count: 10) + bytes.suffix(from: cut.count))
        found = try records(path, 9)
        #expect(found.payloads == new)
        #expect(found.torn?.reason == "record checksum mismatch")
    }

    /// A reused file renamed into place before its new header was written still carries the old
    /// segment's header: it holds none of the new segment's records. A header naming a later
    /// segment is damage.
    @Test func aReusedFileWithItsOldHeaderHoldsNoRecords() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir.path)
        let path = dir.path + "/CommitLog-9.log"
        try FileSystem.writeFile(path, segment(5, [[1, 2, 3], [4, 5]]))
        var found = try records(path, 9)
        #expect(found.payloads.isEmpty)
        #expect(found.torn == nil)
        try FileSystem.writeFile(path, segment(12, [[1, 2, 3]]))
        found = try records(path, 9)
        #expect(found.payloads.isEmpty)
        #expect(found.torn?.reason == "header names segment 12")
    }

    /// Segments written before record framing named its segment (version 1) are still replayed.
    @Test func versionOneSegmentsAreStillRead() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir.path)
        var header: [UInt8] = Array("BSCL".utf8) + [1, 0, 0, 0] + withUnsafeBytes(of: UInt64(5).bigEndian, Array.init)
        header += withUnsafeBytes(of: Checksum.crc32c(header).littleEndian, Array.init)
        var bytes = header
        for p in [[UInt8](repeating: 3, count: 50), [1]] { p.withUnsafeBytes { CommitLogSegmentFormat.appendRecord($0, to: &bytes) } }
        let path = dir.path + "/CommitLog-5.log"
        try FileSystem.writeFile(path, bytes + [UInt8](repeating: 0, count: 100))
        let found = try records(path, 5)
        #expect(found.payloads == [[UInt8](repeating: 3, count: 50), [1]])
        #expect(found.torn == nil)
    }

    /// Segments whose tables flushed are kept and written over as later segments instead of new
    /// zero-filled files; after a crash only the records written since are replayed, none of the
    /// old ones left in the reused files.
    @Test func flushedSegmentsAreReusedAndTheirOldRecordsNeverReplayed() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        // Several full-sized segments, then a flush that frees them.
        var written = 0
        while try logFiles(dir).filter({ $0.name.hasSuffix(".log") && $0.size == Self.segmentBytes }).count < 3 && written < 20_000 {
            try write(e, written ..< written + 50)
            written += 50
            if written % 200 == 0 { usleep(20_000) } // let the preparing thread run on a loaded machine
        }
        let live = e.commitLogSegmentIds.count
        try e.flush(tableId: schema.id)
        #expect(e.counters.commitLogSegmentsReused >= 1)
        // As many kept as the log had live segments, besides a zero-filled one perhaps under way.
        let kept = try logFiles(dir).filter { $0.name.hasPrefix(CommitLogSegmentFormat.preallocatedPrefix) }
        #expect(kept.count >= 1 && kept.count <= max(2, live) + 1, "\(kept)")
        // Fewer records than the old segments held, in segments taken from the kept files: their
        // old records lie right behind the new ones.
        let zeroed = e.counters.commitLogPreallocatedBytes
        let base = 100_000
        var again = 0
        var reused: [String] = []
        while reused.isEmpty && again < 2_000 {
            try write(e, base + again ..< base + again + 20)
            again += 20
            reused = try logFiles(dir).filter { f in
                guard f.name.hasSuffix(".log") else { return false }
                let h = try FileSystem.readAll(dir.path + "/commitlog/" + f.name).prefix(CommitLogSegmentFormat.headerSize)
                return h.count == CommitLogSegmentFormat.headerSize && h[h.startIndex + 5] & CommitLogSegmentFormat.recycledFlag != 0
            }.map(\.name)
        }
        #expect(!reused.isEmpty)
        // Kept files were at hand: none was zero-filled but one that may have been under way.
        #expect(e.counters.commitLogPreallocatedBytes <= zeroed + Self.segmentBytes)
        try write(e, base + again ..< base + again + 7)
        again += 7
        e.close(flush: false)
        let report: CommitLogReplayReport
        (e, report) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        #expect(report.tornTails.isEmpty, "\(report)")
        #expect(report.replayed == again, "\(report)")
        for i in [0, written - 1, base, base + again - 1] {
            #expect(try value(e, i) == [UInt8](repeating: UInt8(i & 0xFF), count: 1024))
        }
    }

    /// Without preallocation every segment grows as it is written and rolls over at its size.
    @Test func withoutPreallocationSegmentsGrow() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(preallocate: false), tables: [schema], logger: .test)
        defer { e.close() }
        try write(e, 0 ..< 400)
        let files = try logFiles(dir)
        #expect(files.count >= 3)
        #expect(files.allSatisfy { $0.name.hasSuffix(".log") && $0.size <= Self.segmentBytes })
        #expect(files.dropLast().allSatisfy { $0.size > Self.segmentBytes / 2 })
    }
}
