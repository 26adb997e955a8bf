import BasaltCore

/// Reads an SSTable's partitions in (token, key) order, once, as compaction does: each chunk is
/// read and decompressed once for all the partitions in it (a point read would decompress it once
/// per partition), bypasses the chunk cache, and the pages read are handed back to the kernel as
/// the scan moves on, so a compaction neither evicts hot chunks nor grows the page cache with files
/// about to be deleted.
final class SSTableScanner {
    let reader: SSTableReader
    /// The current partition's token, key and stream position (valid while `hasCurrent`).
    private(set) var token: Int64 = 0
    private(set) var key: [UInt8] = []
    private(set) var position = 0
    private(set) var hasCurrent = false
    private var next = SSTableReader.firstIndexOffset
    private var window = SSTableReader.IndexWindow(readAhead: 1 << 16)
    private var chunkIndex = -1
    private var chunkBytes: [UInt8] = []
    private var droppedBelow = 0

    init(_ reader: SSTableReader) throws {
        self.reader = reader
        try advance()
    }

    /// Moves to the next partition; `hasCurrent` is false past the last one.
    func advance() throws {
        guard let e = try reader.indexEntry(at: next, &window) else {
            hasCurrent = false
            reader.dropCachedPages(below: reader.chunkCount)
            return
        }
        (token, key, position, next) = (e.token, e.key, e.position, e.next)
        hasCurrent = true
    }

    /// The current partition's encoded body.
    func body() throws -> ByteReader {
        try key.withUnsafeBytes { k in
            try reader.readRecord(at: position, expectedKey: k) { i in try chunk(i) }.body
        }
    }

    private func chunk(_ i: Int) throws -> [UInt8] {
        if i == chunkIndex { return chunkBytes }
        chunkBytes = try reader.chunk(i, useCache: false)
        chunkIndex = i
        // Every megabyte or so, drop what was read (the cost is one fadvise call).
        if reader.chunkFileOffset(i) - reader.chunkFileOffset(droppedBelow) >= 1 << 20 {
            reader.dropCachedPages(below: i)
            droppedBelow = i
        }
        return chunkBytes
    }
}
