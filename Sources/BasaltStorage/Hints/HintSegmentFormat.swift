import BasaltCore

/// How hint segment files are laid out on disk.
///
/// A file `<target host id>-<segment id>.hints` starts with a 36-byte header: magic "BSHT",
/// version (u8, 1), three reserved zero bytes, the target host id (16 bytes, big-endian halves),
/// the segment id (u64 BE) and a CRC32C (LE) of the first 32 bytes. Records follow back to back,
/// framed exactly as commit-log records (``CommitLogSegmentFormat``): payload length (u32 LE),
/// CRC32C of those four bytes (u32 LE), the payload, CRC32C of the payload (u32 LE). A hint's
/// payload is its creation time (i64 BE, µs since the epoch) followed by the mutation bytes.
enum HintSegmentFormat {
    static let headerSize = 36
    static let magic: [UInt8] = Array("BSHT".utf8)
    static let version: UInt8 = 1
    /// Length, length CRC and payload CRC.
    static let framingBytes = CommitLogSegmentFormat.recordOverhead
    /// The creation time at the start of every payload.
    static let timestampBytes = 8
    static let fileSuffix = ".hints"

    /// Bytes on disk of a record holding a mutation of `mutationCount` bytes.
    @inline(__always)
    static func recordBytes(mutationCount: Int) -> Int { framingBytes + timestampBytes + mutationCount }

    static func fileName(target: UUIDValue, segment: UInt64) -> String {
        "\(target)-\(segment)\(fileSuffix)"
    }

    /// The target and segment id a file name stands for; nil for any other name. Ids are positive
    /// and below 2^63 (they start near the wall clock in µs), so the next id never overflows.
    static func parse(fileName name: String) -> (target: UUIDValue, segment: UInt64)? {
        guard name.hasSuffix(fileSuffix) else { return nil }
        let stem = name.utf8.dropLast(fileSuffix.utf8.count)
        guard stem.count > 37, stem[stem.index(stem.startIndex, offsetBy: 36)] == UInt8(ascii: "-"),
              let target = UUIDValue(String(decoding: stem.prefix(36), as: UTF8.self)),
              let segment = UInt64(String(decoding: stem.dropFirst(37), as: UTF8.self)),
              segment > 0, segment < 1 << 63
        else { return nil }
        return (target, segment)
    }

    static func header(target: UUIDValue, segment: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize)
        w.writeBytes(magic)
        w.writeUInt8(version)
        w.writeBytes([0, 0, 0])
        w.writeUInt64(target.msb)
        w.writeUInt64(target.lsb)
        w.writeUInt64(segment)
        w.writeUInt32LE(Checksum.crc32c(w.bytes))
        return w.bytes
    }

    /// Checks that `bytes` (the start of the file at `path`) is the header of segment `segment` of
    /// `target`.
    static func checkHeader(_ bytes: [UInt8], path: String, target: UUIDValue, segment: UInt64) throws(StorageError) {
        func corrupt(_ offset: Int, _ reason: String) -> StorageError { .corrupt(path: path, offset: offset, reason: reason) }
        guard bytes.count >= headerSize else { throw corrupt(0, "file of \(bytes.count) bytes is shorter than the \(headerSize)-byte segment header") }
        guard Array(bytes[0 ..< 4]) == magic else { throw corrupt(0, "bad magic") }
        guard bytes[4] == version else { throw corrupt(4, "unknown segment version \(bytes[4])") }
        let (found, id, crc) = bytes.withUnsafeBytes { p in
            (UUIDValue(msb: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                       lsb: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self))),
             UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
             UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 32, as: UInt32.self)))
        }
        let actual = bytes.withUnsafeBytes { Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[0 ..< headerSize - 4])) }
        guard crc == actual else { throw corrupt(headerSize - 4, "header checksum mismatch") }
        guard found == target else { throw corrupt(8, "header names target \(found), the file name \(target)") }
        guard id == segment else { throw corrupt(24, "header names segment \(id), the file name \(segment)") }
    }

    /// Appends one framed record for a hint to `record`, using `payload` as scratch space.
    @inline(__always)
    static func appendRecord(createdAtMicros: Int64, mutation: [UInt8], payload: inout [UInt8], to record: inout [UInt8]) {
        payload.removeAll(keepingCapacity: true)
        withUnsafeBytes(of: createdAtMicros.bigEndian) { payload.append(contentsOf: $0) }
        payload.append(contentsOf: mutation)
        payload.withUnsafeBytes { CommitLogSegmentFormat.appendRecord($0, to: &record) }
    }
}
