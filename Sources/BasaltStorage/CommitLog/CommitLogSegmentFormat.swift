import BasaltCore

/// How commit-log segments are laid out on disk.
///
/// A segment file `CommitLog-<id>.log` starts with a 20-byte header: magic "BSCL", version (u8),
/// flags (u8; bit 0: written over a reused segment's file), two reserved zero bytes, the segment
/// id (u64 BE) and a CRC32C (LE) of the first 16 bytes. Records follow back to back: payload
/// length (u32 LE), a CRC32C (u32 LE) of those four bytes followed by the segment id (u64 LE), the
/// payload (a ``Mutation`` encoding), CRC32C of the payload (u32 LE). A record's position is the
/// offset of its length field. Version 1 (still read) had no flags, and its length checksum
/// covered the length alone.
///
/// A segment is usually preallocated: written over a file of its full size prepared before it is
/// used (``CommitLogPreallocator``), so appending does not grow the file and a sync writes only the
/// data, not the inode too. The file is either zero-filled or a segment no longer needed, whose
/// old records lie after the new ones. Records end where eight zero bytes (a length of 0, whose
/// checksum would not be 0), or the fewer bytes left, all zero, follow; in a reused file also where
/// a length's checksum does not match, since an old record's names another segment: the clean end
/// of the segment. A length whose checksum matches with a record cut short or damaged after it is
/// a torn record in either kind of file.
enum CommitLogSegmentFormat {
    static let headerSize = 20
    static let recordOverhead = 12
    /// Name prefix of a preallocated file not yet taken as a segment (ends in ".tmp", so it is never
    /// mistaken for a segment).
    static let preallocatedPrefix = "CommitLog-prealloc-"

    static func fileName(_ id: UInt64) -> String { "CommitLog-\(id).log" }

    static func segmentId(fileName: String) -> UInt64? {
        guard fileName.hasPrefix("CommitLog-"), fileName.hasSuffix(".log") else { return nil }
        return UInt64(fileName.dropFirst("CommitLog-".count).dropLast(".log".count))
    }

    static let version: UInt8 = 2
    static let recycledFlag: UInt8 = 1

    static func header(_ id: UInt64, recycled: Bool = false) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize)
        w.writeBytes(Array("BSCL".utf8))
        w.writeUInt8(version)
        w.writeBytes([recycled ? recycledFlag : 0, 0, 0])
        w.writeUInt64(id)
        w.writeUInt32LE(Checksum.crc32c(w.bytes))
        return w.bytes
    }

    /// The checksum of a record's length: of the length alone (`segment` nil: version 1, and hint
    /// files), or of the length and then the segment id, so that a reused file's old records do not
    /// pass for the new segment's.
    @inline(__always)
    static func lengthCRC(_ length: UInt32, segment: UInt64?) -> UInt32 {
        var len = length.littleEndian
        var crc = withUnsafeBytes(of: &len) { Checksum.crc32c($0) }
        if var id = segment?.littleEndian {
            crc = withUnsafeBytes(of: &id) { Checksum.update(crc, $0) }
        }
        return crc
    }

    /// Appends one framed record to `out`, its length checksum bound to `segment` (nil: version 1's
    /// framing, which hint files use).
    @inline(__always)
    static func appendRecord(_ payload: UnsafeRawBufferPointer, segment: UInt64? = nil, to out: inout [UInt8]) {
        var len = UInt32(payload.count).littleEndian
        let lenCRC = lengthCRC(UInt32(payload.count), segment: segment).littleEndian
        var crc = Checksum.crc32c(payload).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: lenCRC) { out.append(contentsOf: $0) }
        out.append(contentsOf: payload)
        withUnsafeBytes(of: &crc) { out.append(contentsOf: $0) }
    }
}

/// What replaying the commit log found.
public struct CommitLogReplayReport: Sendable, CustomStringConvertible {
    /// Where a segment's readable records ended before its end of file.
    public struct TornTail: Sendable, CustomStringConvertible {
        public var path: String
        public var offset: Int
        public var reason: String
        public var description: String { "\(path) at offset \(offset): \(reason)" }
    }

    public var segments = 0
    /// Mutations applied to memtables.
    public var replayed = 0
    /// Records skipped because an SSTable already holds them.
    public var alreadyFlushed = 0
    /// Records for tables the engine does not know (dropped, or not added before replay).
    public var unknownTable = 0
    /// Records whose checksum passed but whose content did not decode or is not a valid mutation
    /// for its table.
    public var undecodable = 0
    public var tornTails: [TornTail] = []

    public var description: String {
        var s = "replayed \(replayed) mutations from \(segments) segments (\(alreadyFlushed) already flushed, \(unknownTable) for unknown tables, \(undecodable) undecodable)"
        for t in tornTails { s += "; torn tail: \(t)" }
        return s
    }
}

/// Reads the records of one segment file, stopping cleanly at the first damaged or partial record.
struct CommitLogSegmentReader {
    let path: String
    let id: UInt64

    /// Calls `body` with each intact record's position and payload; returns the torn tail, if any.
    func forEachRecord(_ body: (CommitLogPosition, [UInt8]) throws -> Void) throws -> CommitLogReplayReport.TornTail? {
        let bytes = try FileSystem.readAll(path)
        let h = CommitLogSegmentFormat.headerSize
        // A prepared file renamed into place before its header was written (a crash right after
        // a roll-over): a segment with no records.
        if !bytes.isEmpty && bytes.prefix(h).allSatisfy({ $0 == 0 }) { return nil }
        guard bytes.count >= h else {
            return .init(path: path, offset: 0, reason: "segment shorter than its header (\(bytes.count) bytes)")
        }
        let headerCRC = bytes.withUnsafeBytes { Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[0 ..< 16])) }
        var r = ByteReader(bytes, from: 8)
        let version = bytes[4]
        guard Array(bytes[0 ..< 4]) == Array("BSCL".utf8), version == 1 || version == CommitLogSegmentFormat.version,
              let headerId = try? r.readUInt64(), (try? r.readUInt32LE()) == headerCRC else {
            return .init(path: path, offset: 0, reason: "bad segment header")
        }
        let bound = version >= 2 ? id : nil
        let recycled = version >= 2 && bytes[5] & CommitLogSegmentFormat.recycledFlag != 0
        if version >= 2 && headerId != id {
            // A reused file renamed into place before its new header was written (a crash right
            // after a roll-over) still holds an older segment's records: none of this one's.
            if headerId < id { return nil }
            return .init(path: path, offset: 0, reason: "header names segment \(headerId)")
        }
        var off = h
        while off < bytes.count {
            // The zero-filled rest of a preallocated segment (a length of 0 and its checksum 0, or
            // fewer bytes than that, all zero): its records end here.
            if bytes[off ..< min(off + 8, bytes.count)].allSatisfy({ $0 == 0 }) { return nil }
            if bytes.count - off < CommitLogSegmentFormat.recordOverhead {
                if recycled { return nil }
                return .init(path: path, offset: off, reason: "partial record header (\(bytes.count - off) bytes)")
            }
            var rr = ByteReader(bytes, from: off)
            let len = try rr.readUInt32LE()
            let lenCRC = try rr.readUInt32LE()
            if lenCRC != CommitLogSegmentFormat.lengthCRC(len, segment: bound) {
                // In a reused file the old segment's records (or pieces of them) follow the new ones.
                if recycled { return nil }
                return .init(path: path, offset: off, reason: "record length checksum mismatch")
            }
            let n = Int(len)
            if n + 4 > rr.remaining {
                return .init(path: path, offset: off, reason: "record of \(n) bytes runs past the end of the segment")
            }
            let start = rr.position
            let crc = bytes.withUnsafeBytes { Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[start ..< start + n])) }
            try rr.skip(n)
            if try rr.readUInt32LE() != crc {
                return .init(path: path, offset: off, reason: "record checksum mismatch")
            }
            try body(CommitLogPosition(segment: id, offset: UInt32(off)), Array(bytes[start ..< start + n]))
            off = rr.position
        }
        return nil
    }
}
