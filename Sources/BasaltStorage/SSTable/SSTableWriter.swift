import BasaltCore

/// Writes one SSTable from partitions given in (token, key) order.
///
/// Data stream: per partition `[key length u16 BE][key][body length u32 BE][body]` where the body is
/// the ``StorageCodec`` partition encoding. The stream is cut into chunks of `chunkLength`
/// uncompressed bytes; each chunk is written as its Snappy block (or raw bytes when compression is
/// off) followed by a CRC32C (LE) of those bytes. Index entries are `[token i64 BE][key length u16
/// BE][key][data position u64 BE][row index length u32 BE][row index]` after a 5-byte header
/// ("BSIX", version) and before a CRC32C trailer; partitions whose body exceeds `rowIndexBlockBytes`
/// carry a ``RowIndex``. Every component is written under a temporary name, fsynced, then renamed; the TOC last.
final class SSTableWriter {
    let descriptor: SSTableDescriptor
    let chunkLength: Int
    let compress: Bool
    private let data: WritableFile
    private var chunk: [UInt8]
    private var compressedBuffer: [UInt8]
    /// Each chunk's file offset (u64 BE), spooled to disk.
    private let offsets: ComponentSpool
    private var streamPosition = 0
    /// Index entries not yet written to `indexFile` (the index is streamed to its temporary file
    /// as it grows, so a large compaction does not hold it all in memory).
    private var index = ByteWriter(capacity: 1 << 16)
    private let indexFile: WritableFile
    private var indexCRC: UInt32 = 0
    /// Every `summaryInterval`-th index entry, spooled to disk.
    private let summary: ComponentSpool
    /// Nil when the filter is left to the reader, which builds it from the index (see `init`).
    private var filter: BloomFilter?
    private(set) var stats = SSTableStatistics()
    private var header = ByteWriter(capacity: 16)
    private var finished = false
    /// Called with the number of bytes each time a chunk is written (compaction throttling).
    var onChunkWritten: ((Int) -> Void)?

    /// Every this many partitions the summary (in memory once the SSTable is open) keeps an index
    /// entry's token, key and offset; a point read then reads at most this many index entries
    /// (about 2.4 KiB with 16-byte keys) in one `pread`. 64 keeps the summary near 0.6 bytes a
    /// partition (16 took 2.3).
    static let summaryInterval = 64
    /// Data and index files reach the disk every this many bytes as they are written (Cassandra's
    /// trickle fsync), not in one burst when the SSTable is finished.
    static let trickleSyncBytes = 1 << 20
    let rowIndexBlockBytes: Int

    /// Every key is added to `filter`, written as the Filter component. With none, no Filter
    /// component is written: ``SSTableReader`` builds the filter from the index when it loads its
    /// deferred parts. A compaction's outputs are written so, because their filters would
    /// otherwise take memory (megabytes at millions of partitions) beside their inputs' filters.
    init(descriptor: SSTableDescriptor, chunkLength: Int, compress: Bool, filter: BloomFilter?, rowIndexBlockBytes: Int = 64 << 10) throws {
        self.descriptor = descriptor
        self.rowIndexBlockBytes = max(64, rowIndexBlockBytes)
        self.chunkLength = max(1024, chunkLength)
        self.compress = compress
        data = try WritableFile(path: descriptor.temporaryPath(.data), trickleSyncBytes: Self.trickleSyncBytes)
        indexFile = try WritableFile(path: descriptor.temporaryPath(.index), trickleSyncBytes: Self.trickleSyncBytes)
        chunk = []
        chunk.reserveCapacity(self.chunkLength + 64)
        compressedBuffer = [UInt8](repeating: 0, count: Snappy.maxCompressedLength(self.chunkLength))
        offsets = try ComponentSpool(path: descriptor.temporaryPath(.compressionInfo))
        summary = try ComponentSpool(path: descriptor.temporaryPath(.summary))
        self.filter = filter
        index.writeBytes(Array("BSIX".utf8))
        index.writeUInt8(1)
    }

    /// Appends a partition whose body is already encoded (canonical form).
    func append(token: Int64, key: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) throws {
        precondition(key.count <= Int(UInt16.max), "partition key longer than 65535 bytes reached the SSTable writer")
        let indexOffset = indexFile.size + index.count
        if stats.partitionCount % Self.summaryInterval == 0 {
            try summary.append { IndexSummary.writeEntry(&$0, token: token, key: key, offset: indexOffset) }
        }
        index.writeInt64(token)
        index.writeUInt16(UInt16(key.count))
        index.writeBytes(key)
        index.writeUInt64(UInt64(streamPosition))
        if body.count > rowIndexBlockBytes, let ri = try RowIndex.build(body: Array(body), blockBytes: rowIndexBlockBytes) {
            let bytes = ri.serialized()
            index.writeUInt32(UInt32(bytes.count))
            index.writeBytes(bytes)
        } else {
            index.writeUInt32(0)
        }
        if index.count >= 1 << 16 { try writeIndexBuffer() }
        filter?.add(Murmur3.hash128(key))
        stats.partitionCount += 1
        stats.minToken = min(stats.minToken, token)
        stats.maxToken = max(stats.maxToken, token)

        header.removeAll()
        header.writeUInt16(UInt16(key.count))
        try header.bytes.withUnsafeBytes { try appendStream($0) }
        try appendStream(key)
        header.removeAll()
        header.writeUInt32(UInt32(body.count))
        try header.bytes.withUnsafeBytes { try appendStream($0) }
        try appendStream(body)
    }

    /// Appends a decoded partition, counting its timestamps and tombstones into the statistics.
    func append(token: Int64, key: [UInt8], partition: PartitionUpdate) throws {
        var w = ByteWriter(capacity: 256)
        StorageCodec.writePartition(partition, &w)
        stats.see(timestampRange: partition.timestampRange)
        stats.tombstoneCount += partition.tombstoneCount
        try key.withUnsafeBytes { k in try w.bytes.withUnsafeBytes { try append(token: token, key: k, body: $0) } }
    }

    /// Adds statistics known to the caller (a memtable's timestamp range and tombstone count).
    func addStatistics(minTimestamp: Int64, maxTimestamp: Int64, tombstones: Int) {
        if minTimestamp <= maxTimestamp { stats.see(timestampRange: (minTimestamp, maxTimestamp)) }
        stats.tombstoneCount += tombstones
    }

    private func appendStream(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            let n = min(rest.count, chunkLength - chunk.count)
            chunk.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0 ..< n]))
            streamPosition += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if chunk.count == chunkLength { try flushChunk() }
        }
    }

    private func flushChunk() throws {
        guard !chunk.isEmpty else { return }
        let at = UInt64(data.size)
        try offsets.append { $0.writeUInt64(at) }
        var crc: UInt32 = 0
        if compress {
            let n = chunk.withUnsafeBytes { src in compressedBuffer.withUnsafeMutableBytes { Snappy.compress(src, into: $0) } }
            try compressedBuffer.withUnsafeBytes { b in
                let block = UnsafeRawBufferPointer(rebasing: b[0 ..< n])
                crc = Checksum.crc32c(block)
                try data.write(block)
            }
        } else {
            crc = chunk.withUnsafeBytes { Checksum.crc32c($0) }
            try data.write(chunk)
        }
        var le = crc.littleEndian
        try withUnsafeBytes(of: &le) { try data.write($0) }
        let written = chunk.count
        chunk.removeAll(keepingCapacity: true)
        onChunkWritten?(written)
    }

    /// Bytes written to the data file so far.
    var dataFileSize: Int { data.size }

    /// Writes the remaining components, fsyncs everything, renames into place (TOC last) and syncs
    /// the directory. Returns the total bytes on disk.
    @discardableResult
    func finish(commitLogIntervals: [CommitLogInterval], createdAt: Int64, level: Int) throws -> Int {
        try flushChunk()
        try data.sync()
        try data.close()
        stats.uncompressedSize = streamPosition
        stats.commitLogIntervals = commitLogIntervals
        stats.createdAt = createdAt
        stats.level = level
        try writeIndexBuffer()
        index.writeUInt32LE(indexCRC)
        try writeIndexBuffer()
        try indexFile.sync()
        try indexFile.close()
        let d = descriptor
        try offsets.finish(header: CompressionInfo.header(compressed: compress, chunkLength: chunkLength, dataLength: streamPosition, chunks: offsets.count))
        try summary.finish(header: IndexSummary.header(interval: Self.summaryInterval, count: summary.count))
        var components = SSTableDescriptor.Component.allCases
        if let f = filter {
            try f.write(to: d.temporaryPath(.filter))
            // The reader opened next loads its own copy: this one is not kept beside it.
            filter = nil
        } else {
            components.removeAll { $0 == .filter }
        }
        try FileSystem.writeFile(d.temporaryPath(.statistics), stats.serialized())
        let toc = components.map(\.rawValue).joined(separator: "\n") + "\n"
        try FileSystem.writeFile(d.temporaryPath(.toc), Array(toc.utf8))
        var total = 0
        for c in components {
            total += try FileSystem.fileSize(d.temporaryPath(c))
            try FileSystem.rename(d.temporaryPath(c), d.path(c))
        }
        try FileSystem.syncDirectory(d.directory)
        finished = true
        return total
    }

    /// Appends the buffered index bytes to the index file, extending its checksum.
    private func writeIndexBuffer() throws {
        try index.bytes.withUnsafeBytes { b in
            indexCRC = Checksum.update(indexCRC, b)
            try indexFile.write(b)
        }
        index.removeAll(keepingCapacity: true)
    }

    /// Removes the temporary files of an unfinished write.
    func abort() {
        try? data.close()
        try? indexFile.close()
        offsets.abort()
        summary.abort()
        for c in SSTableDescriptor.Component.allCases { try? FileSystem.remove(descriptor.temporaryPath(c)) }
    }
}
