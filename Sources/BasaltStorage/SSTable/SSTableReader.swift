import BasaltCore
import Synchronization

/// An open, immutable SSTable: its data file memory-mapped, its index, summary, bloom filter and
/// statistics in memory. Thread-safe (nothing in it changes after opening).
///
/// Every chunk read checks the chunk's CRC32C; a mismatch or any decoding failure is reported as
/// ``StorageError/corrupt(path:offset:reason:)`` naming the file and offset.
final class SSTableReader: @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init; the chunk cache synchronises itself.
    let descriptor: SSTableDescriptor
    let uid: Int
    let stats: SSTableStatistics
    let sizeOnDisk: Int
    private let data: MappedFile
    private let info: CompressionInfo
    private let index: [UInt8]
    private let summary: IndexSummary
    private let filter: BloomFilter
    private let cache: ChunkCache?

    private static let nextUID = Atomic<Int>(1)

    init(descriptor d: SSTableDescriptor, cache: ChunkCache?) throws {
        descriptor = d
        uid = Self.nextUID.add(1, ordering: .relaxed).oldValue
        self.cache = cache
        stats = try SSTableStatistics.deserialize(FileSystem.readAll(d.path(.statistics)), path: d.path(.statistics))
        info = try CompressionInfo.deserialize(FileSystem.readAll(d.path(.compressionInfo)), path: d.path(.compressionInfo))
        summary = try IndexSummary.deserialize(FileSystem.readAll(d.path(.summary)), path: d.path(.summary))
        filter = try BloomFilter.deserialize(FileSystem.readAll(d.path(.filter)), path: d.path(.filter))
        let idx = try FileSystem.readAll(d.path(.index))
        guard idx.count >= 9, Array(idx[0 ..< 4]) == Array("BSIX".utf8), idx[4] == 1 else {
            throw StorageError.corrupt(path: d.path(.index), offset: 0, reason: "bad index header")
        }
        let end = idx.count - 4
        let stored = UInt32(idx[end]) | UInt32(idx[end + 1]) << 8 | UInt32(idx[end + 2]) << 16 | UInt32(idx[end + 3]) << 24
        let actual = idx.withUnsafeBytes { Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[0 ..< end])) }
        if stored != actual { throw StorageError.corrupt(path: d.path(.index), offset: end, reason: "index checksum mismatch") }
        index = idx
        data = try MappedFile(path: d.path(.data))
        if let last = info.offsets.last, Int(last) + 4 > data.bytes.count {
            throw StorageError.corrupt(path: d.path(.data), offset: data.bytes.count, reason: "data file truncated: last chunk starts at \(last)")
        }
        var total = idx.count + data.bytes.count
        for c in [SSTableDescriptor.Component.compressionInfo, .summary, .filter, .statistics, .toc] {
            total += (try? FileSystem.fileSize(d.path(c))) ?? 0
        }
        sizeOnDisk = total
    }

    var indexEnd: Int { index.count - 4 }

    /// Partition count, bounded by what the index can hold (an entry takes at least 22 bytes), so a
    /// damaged statistics file cannot make a caller size buffers absurdly.
    var partitionCountBound: Int { min(max(0, stats.partitionCount), index.count / 22) }

    @inline(__always)
    func mightContain(_ hash: (UInt64, UInt64)) -> Bool { filter.mightContain(hash) }

    private func corrupt(_ c: SSTableDescriptor.Component, _ offset: Int, _ reason: String) -> StorageError {
        .corrupt(path: descriptor.path(c), offset: offset, reason: reason)
    }

    // MARK: index

    /// Reads the index entry at `offset`: token, key range in `index`, data position, row index
    /// range (length 0 for none), next offset.
    @inline(__always)
    private func entry(at offset: Int) throws -> (token: Int64, keyStart: Int, keyLength: Int, position: Int, rowIndex: Range<Int>, next: Int) {
        let end = indexEnd
        guard offset + 10 <= end else { throw corrupt(.index, offset, "index entry header past the end") }
        return try index.withUnsafeBytes { p in
            let token = Int64(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: Int64.self))
            let klen = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: offset + 8, as: UInt16.self)))
            let pos = offset + 10 + klen
            guard pos + 12 <= end else { throw corrupt(.index, offset, "index entry past the end") }
            let dataPos = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
            guard dataPos < UInt64(info.dataLength) else { throw corrupt(.index, pos, "data position \(dataPos) past the data length \(info.dataLength)") }
            let riLength = Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: pos + 8, as: UInt32.self)))
            let riStart = pos + 12
            guard riLength <= end - riStart else { throw corrupt(.index, pos + 8, "row index of \(riLength) bytes past the end") }
            return (token, offset + 10, klen, Int(dataPos), riStart ..< riStart + riLength, riStart + riLength)
        }
    }

    /// The row index stored at `range` of the index file.
    private func rowIndex(_ range: Range<Int>) throws -> RowIndex {
        var r = ByteReader(index, from: range.lowerBound, to: range.upperBound)
        do {
            let ri = try RowIndex.deserialize(&r)
            if !r.isAtEnd { throw DecodeError.invalid("trailing bytes in row index", at: r.position) }
            return ri
        } catch let e as DecodeError {
            throw corrupt(.index, e.offset, "row index: \(e)")
        }
    }

    @inline(__always)
    private func compareKey(_ token: Int64, _ keyStart: Int, _ keyLength: Int, _ probeToken: Int64, _ probe: UnsafeRawBufferPointer) -> Int {
        if token != probeToken { return token < probeToken ? -1 : 1 }
        return index.withUnsafeBytes { CQLType.compareUnsigned(UnsafeRawBufferPointer(rebasing: $0[keyStart ..< keyStart + keyLength]), probe) }
    }

    /// Index offset of the last summary entry at or before the probe (the first entry when none is).
    private func summaryStart(_ token: Int64, _ key: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = summary.tokens.count - 1, best = 0
        while lo <= hi {
            let mid = (lo + hi) >> 1
            let t = summary.tokens[mid]
            let c: Int = t != token ? (t < token ? -1 : 1) : summary.keys[mid].withUnsafeBytes { CQLType.compareUnsigned($0, key) }
            if c <= 0 { best = mid; lo = mid + 1 } else { hi = mid - 1 }
        }
        return summary.offsets.isEmpty ? 5 : summary.offsets[best]
    }

    /// The data position (and row index range) of the partition, or nil when the SSTable does not
    /// hold it.
    func find(token: Int64, key: UnsafeRawBufferPointer) throws -> (position: Int, rowIndex: Range<Int>)? {
        if token < stats.minToken || token > stats.maxToken { return nil }
        var off = summaryStart(token, key)
        var scanned = 0
        while off < indexEnd && scanned <= summary.interval {
            let e = try entry(at: off)
            let c = compareKey(e.token, e.keyStart, e.keyLength, token, key)
            if c == 0 { return (e.position, e.rowIndex) }
            if c > 0 { return nil }
            off = e.next
            scanned += 1
        }
        return nil
    }

    /// Up to `limit` keys in order from `after` (strictly after it unless `inclusive`; from the
    /// start when nil), with token at most `endToken` when given.
    func keys(after: (Int64, [UInt8])?, inclusive: Bool = false, endToken: Int64?, limit: Int) throws -> [(Int64, [UInt8])] {
        var out: [(Int64, [UInt8])] = []
        let probeToken = after?.0 ?? .min
        let probeKey = after?.1 ?? []
        if after != nil && probeToken > stats.maxToken { return [] }
        try probeKey.withUnsafeBytes { probe in
            var off = after == nil ? Self.firstIndexOffset : summaryStart(probeToken, probe)
            while off < indexEnd && out.count < limit {
                let e = try entry(at: off)
                off = e.next
                if after != nil {
                    let c = compareKey(e.token, e.keyStart, e.keyLength, probeToken, probe)
                    if c < 0 || (c == 0 && !inclusive) { continue }
                }
                if let end = endToken, e.token > end { break }
                out.append((e.token, Array(index[e.keyStart ..< e.keyStart + e.keyLength])))
            }
        }
        return out
    }

    /// Offset of the first index entry.
    static let firstIndexOffset = 5

    /// The index entry at `offset` (token, key, data position, offset of the next entry); nil at
    /// the end of the index.
    func indexEntry(at offset: Int) throws -> (token: Int64, key: [UInt8], position: Int, next: Int)? {
        guard offset < indexEnd else { return nil }
        let e = try entry(at: offset)
        return (e.token, Array(index[e.keyStart ..< e.keyStart + e.keyLength]), e.position, e.next)
    }

    /// Visits every index entry in order: token, key, data position, row index (if any).
    func forEachEntry(_ body: (Int64, [UInt8], Int, RowIndex?) throws -> Void) throws {
        var off = 5
        while off < indexEnd {
            let e = try entry(at: off)
            try body(e.token, Array(index[e.keyStart ..< e.keyStart + e.keyLength]), e.position, e.rowIndex.isEmpty ? nil : try rowIndex(e.rowIndex))
            off = e.next
        }
    }

    // MARK: data

    var chunkCount: Int { info.offsets.count }

    /// The uncompressed bytes of chunk `i`, checked against its CRC.
    func chunk(_ i: Int, useCache: Bool = true) throws -> [UInt8] {
        if useCache, let cache, let hit = cache.get(ChunkCache.Key(reader: uid, chunk: i)) { return hit }
        guard i >= 0, i < info.offsets.count else { throw corrupt(.data, 0, "chunk \(i) out of range (\(info.offsets.count) chunks)") }
        let start = Int(info.offsets[i])
        let end = i + 1 < info.offsets.count ? Int(info.offsets[i + 1]) : data.bytes.count
        guard start <= end - 4, end <= data.bytes.count else { throw corrupt(.data, start, "chunk \(i) bounds invalid or file truncated") }
        let block = UnsafeRawBufferPointer(rebasing: data.bytes[start ..< end - 4])
        let stored = UInt32(littleEndian: data.bytes.loadUnaligned(fromByteOffset: end - 4, as: UInt32.self))
        let actual = Checksum.crc32c(block)
        if stored != actual { throw corrupt(.data, start, "chunk \(i) checksum mismatch (stored \(stored), computed \(actual))") }
        let expected = i + 1 < info.offsets.count ? info.chunkLength : info.dataLength - i * info.chunkLength
        var out: [UInt8]
        if info.compressed {
            guard Snappy.uncompressedLength(block) == expected else { throw corrupt(.data, start, "chunk \(i) declares a wrong uncompressed length") }
            var ok = false
            out = [UInt8](unsafeUninitializedCapacity: expected) { buf, n in
                ok = Snappy.uncompress(block, into: UnsafeMutableRawBufferPointer(buf))
                n = ok ? expected : 0
            }
            if !ok { throw corrupt(.data, start, "chunk \(i) does not decompress") }
        } else {
            guard block.count == expected else { throw corrupt(.data, start, "chunk \(i) has \(block.count) bytes, expected \(expected)") }
            out = Array(block)
        }
        if useCache, let cache { cache.put(ChunkCache.Key(reader: uid, chunk: i), out) }
        return out
    }

    /// The stream bytes `[position, position + count)`, gathered across chunks.
    func streamBytes(_ position: Int, _ count: Int, useCache: Bool) throws -> [UInt8] {
        guard position >= 0, count >= 0, position + count <= info.dataLength else {
            throw corrupt(.data, position, "record of \(count) bytes at stream position \(position) runs past the data (\(info.dataLength))")
        }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var pos = position
        while out.count < count {
            let c = try chunk(pos / info.chunkLength, useCache: useCache)
            let off = pos % info.chunkLength
            let n = min(count - out.count, c.count - off)
            out.append(contentsOf: c[off ..< off + n])
            pos += n
        }
        return out
    }

    /// Reads the partition record at a stream position: checks that its key is `expectedKey`, and
    /// returns its encoded body with a reader positioned on it.
    func readRecord(at position: Int, expectedKey: UnsafeRawBufferPointer?, useCache: Bool = true) throws -> (key: [UInt8], body: ByteReader) {
        let ci = position / info.chunkLength
        let off = position % info.chunkLength
        let first = try chunk(ci, useCache: useCache)
        var head: [UInt8]
        var headStart: Int
        if off + 6 <= first.count {
            head = first
            headStart = off
        } else {
            head = try streamBytes(position, min(6, info.dataLength - position), useCache: useCache)
            headStart = 0
        }
        guard headStart + 6 <= head.count else { throw corrupt(.data, position, "partition header truncated") }
        let klen = Int(UInt16(head[headStart]) << 8 | UInt16(head[headStart + 1]))
        let total = 2 + klen + 4
        var buf: [UInt8]
        var base: Int
        if off + total <= first.count {
            buf = first
            base = off
        } else {
            buf = try streamBytes(position, total, useCache: useCache)
            base = 0
        }
        let key = Array(buf[base + 2 ..< base + 2 + klen])
        if let expectedKey, key.withUnsafeBytes({ CQLType.compareUnsigned($0, expectedKey) }) != 0 {
            throw corrupt(.data, position, "partition at stream position \(position) has key \(key.hexString), index says \(Array(expectedKey).hexString)")
        }
        let b = base + 2 + klen
        let blen = Int(UInt32(buf[b]) << 24 | UInt32(buf[b + 1]) << 16 | UInt32(buf[b + 2]) << 8 | UInt32(buf[b + 3]))
        let bodyPos = position + total
        if off + total + blen <= first.count {
            return (key, ByteReader(first, from: off + total, to: off + total + blen))
        }
        let body = try streamBytes(bodyPos, blen, useCache: useCache)
        return (key, ByteReader(body))
    }

    /// Decodes the partition at `position` (whose key the index gave).
    func readPartition(at position: Int, key: UnsafeRawBufferPointer?, useCache: Bool = true) throws -> PartitionUpdate {
        var (_, r) = try readRecord(at: position, expectedKey: key, useCache: useCache)
        let start = r.position
        do {
            let p = try StorageCodec.readPartition(&r)
            if !r.isAtEnd { throw DecodeError.invalid("\(r.remaining) trailing bytes in partition body", at: r.position) }
            return p
        } catch let e as DecodeError {
            throw corrupt(.data, position, "partition body does not decode (\(e) from body start \(start))")
        }
    }

    /// The partition for a key, or nil when absent (the caller checked the bloom filter). With
    /// `slices` (and a row index) only the row blocks that can hold them are decoded; rows outside
    /// the slices may still be returned.
    func read(token: Int64, key: [UInt8], slices: [ClusteringSlice]? = nil, _ cmp: ClusteringComparator? = nil) throws -> PartitionUpdate? {
        try key.withUnsafeBytes { k in
            guard let (pos, ri) = try find(token: token, key: k) else { return nil }
            if let slices, let cmp, !ri.isEmpty, !(slices.count == 1 && slices[0] == .all) {
                return try readSlices(at: pos, key: k, rowIndex: try rowIndex(ri), slices: slices, cmp)
            }
            return try readPartition(at: pos, key: k)
        }
    }

    /// The row index of a partition, when it has one.
    func rowIndex(token: Int64, key: [UInt8]) throws -> RowIndex? {
        try key.withUnsafeBytes { k in
            guard let (_, ri) = try find(token: token, key: k), !ri.isEmpty else { return nil }
            return try rowIndex(ri)
        }
    }

    /// Decodes the partition header and the row blocks that can hold `slices`.
    func readSlices(at position: Int, key: UnsafeRawBufferPointer, rowIndex ri: RowIndex, slices: [ClusteringSlice], _ cmp: ClusteringComparator, useCache: Bool = true) throws -> PartitionUpdate {
        let head = try streamBytes(position, min(6 + key.count, info.dataLength - position), useCache: useCache)
        guard head.count >= 6 + key.count else { throw corrupt(.data, position, "partition header truncated") }
        let klen = Int(UInt16(head[0]) << 8 | UInt16(head[1]))
        guard klen == key.count, head[2 ..< 2 + klen].elementsEqual(key) else { throw corrupt(.data, position, "partition key differs from the index") }
        let b = 2 + klen
        let blen = Int(UInt32(head[b]) << 24 | UInt32(head[b + 1]) << 16 | UInt32(head[b + 2]) << 8 | UInt32(head[b + 3]))
        guard blen == ri.bodyLength else { throw corrupt(.data, position, "body length \(blen) differs from the row index (\(ri.bodyLength))") }
        let bodyPos = position + b + 4
        do {
            var r = ByteReader(try streamBytes(bodyPos, ri.offsets[0], useCache: useCache))
            let flags = try r.readUInt8()
            var p = PartitionUpdate()
            if flags & 1 != 0 { p.partitionDeletion = try StorageCodec.readDeletion(&r) }
            if flags & 4 != 0 {
                let n = try StorageCodec.readCount(&r)
                for _ in 0 ..< n {
                    let s = try StorageCodec.readBound(&r)
                    let e = try StorageCodec.readBound(&r)
                    p.rangeTombstones.append(RangeTombstone(start: s, end: e, deletion: try StorageCodec.readDeletion(&r)))
                }
            }
            if flags & 2 != 0 { p.staticRow = try StorageCodec.readRow(&r) }
            _ = try r.readVarUInt()
            if !r.isAtEnd { throw DecodeError.invalid("partition header longer than the row index says", at: r.position) }
            var blocks = ri.blocks(for: slices, cmp)[...]
            while let first = blocks.first {
                // Decode a run of consecutive blocks in one read.
                var last = first
                blocks = blocks.dropFirst()
                while let n = blocks.first, n == last + 1 { last = n; blocks = blocks.dropFirst() }
                var rr = ByteReader(try streamBytes(bodyPos + ri.offsets[first], ri.blockEnd(last) - ri.offsets[first], useCache: useCache))
                while !rr.isAtEnd {
                    let row = try StorageCodec.readRow(&rr)
                    if slices.contains(where: { cmp.contains($0, row.clustering) }) { p.rows.append(row) }
                }
            }
            return p
        } catch let e as DecodeError {
            throw corrupt(.data, position, "partition does not decode through its row index (\(e))")
        }
    }
}
