/// Reads the records of one hint segment file in order, from an offset up to a known end, a
/// chunk at a time, stopping cleanly at the first damaged or partial record.
///
/// Never traps on file content: a bad length, a checksum mismatch, a record running past the end,
/// or a file shorter than expected all end the read with a ``StorageError/corrupt(path:offset:reason:)``
/// naming the record's offset.
struct HintSegmentReader {
    /// Where a read stopped.
    struct Outcome {
        /// Just past the last record returned (where the next read starts).
        var position: Int
        /// Records returned.
        var records = 0
        /// Why the records before `end` could not all be read.
        var damage: StorageError?
    }

    let file: HintFile
    /// Bytes read from the file at once (more when one record is larger).
    var chunkBytes = 1 << 20

    private var buffer: [UInt8] = []
    /// File offset of `buffer[0]`.
    private var bufferStart = 0

    init(file: HintFile, chunkBytes: Int = 1 << 20) {
        self.file = file
        self.chunkBytes = max(chunkBytes, 4096)
    }

    /// Calls `body` with each intact record in `[from, end)` (its creation time and mutation
    /// bytes) while it returns true.
    mutating func read(from: Int, to end: Int, _ body: (Int64, [UInt8]) -> Bool) throws(StorageError) -> Outcome {
        var out = Outcome(position: from)
        let framing = HintSegmentFormat.framingBytes
        while out.position < end {
            let pos = out.position
            func damage(_ reason: String) -> StorageError { .corrupt(path: file.path, offset: pos, reason: reason) }
            guard end - pos >= framing + HintSegmentFormat.timestampBytes else {
                out.damage = damage("partial record (\(end - pos) bytes)")
                break
            }
            guard try fill(pos, 8, end: end) else {
                out.damage = damage("the file ends before its record header")
                break
            }
            let (length, lengthCRC, actualLengthCRC) = buffer.withUnsafeBytes { p in
                let at = pos - bufferStart
                return (Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self))),
                        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)),
                        Checksum.crc32c(UnsafeRawBufferPointer(rebasing: p[at ..< at + 4])))
            }
            guard lengthCRC == actualLengthCRC else {
                out.damage = damage("record length checksum mismatch")
                break
            }
            guard length >= HintSegmentFormat.timestampBytes, length <= end - pos - framing else {
                out.damage = damage("record length \(length) does not fit the \(end - pos - framing) bytes left")
                break
            }
            guard try fill(pos, length + framing, end: end) else {
                out.damage = damage("the file ends inside a record of \(length) bytes")
                break
            }
            let at = pos - bufferStart + 8
            let (crc, actualCRC, createdAt) = buffer.withUnsafeBytes { p in
                (UInt32(littleEndian: p.loadUnaligned(fromByteOffset: at + length, as: UInt32.self)),
                 Checksum.crc32c(UnsafeRawBufferPointer(rebasing: p[at ..< at + length])),
                 Int64(bigEndian: p.loadUnaligned(fromByteOffset: at, as: Int64.self)))
            }
            guard crc == actualCRC else {
                out.damage = damage("record checksum mismatch")
                break
            }
            let mutation = Array(buffer[at + HintSegmentFormat.timestampBytes ..< at + length])
            out.position = pos + framing + length
            out.records += 1
            if !body(createdAt, mutation) { break }
        }
        return out
    }

    /// Makes `buffer` hold `[offset, offset + count)`, reading a chunk (at most up to `end`) when
    /// it does not; false when the file ends first.
    private mutating func fill(_ offset: Int, _ count: Int, end: Int) throws(StorageError) -> Bool {
        if offset >= bufferStart && offset + count <= bufferStart + buffer.count { return true }
        let want = min(max(count, chunkBytes), end - offset)
        buffer = try file.read(count: want, at: offset)
        bufferStart = offset
        return buffer.count >= count
    }
}
