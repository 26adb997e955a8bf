import BasaltCore
import Synchronization

/// An open, immutable SSTable: its data file read with `pread` (through the chunk cache), its
/// index read with `pread` between summary entries, summary, bloom filter and statistics in memory. Thread-safe (nothing in it changes after opening
/// but the bloom filter and seek index, each set once).
///
/// Every chunk read checks the chunk's CRC32C; a mismatch or any decoding failure is reported as
/// ``StorageError/corrupt(path:offset:reason:)`` naming the file and offset.
final class SSTableReader: @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init; the chunk cache synchronises itself.
    let descriptor: SSTableDescriptor
    let uid: Int
    let stats: SSTableStatistics
    /// Bytes of the SSTable's files, its Filter component counted once it exists.
    var sizeOnDisk: Int { sizeWithoutFilter + filterBytes.load(ordering: .relaxed) }
    private let sizeWithoutFilter: Int
    private let filterBytes = Atomic<Int>(0)
    private let data: ReadOnlyFile
    private let info: CompressionInfo
    private let indexFile: ReadOnlyFile
    /// Offset of the index's trailing checksum: entries lie in `[firstIndexOffset, indexEnd)`.
    let indexEnd: Int
    private let summary: IndexSummary
    /// The bloom filter, once loaded; until then every key may be present.
    private let filter = AtomicLazyReference<LoadedFilter>()
    private let cache: ChunkCache?
    /// Every partition's token prefix, once loaded and when the budget allowed it (seeks without
    /// index reads).
    var prefixIndex: TokenPrefixIndex? { seekIndex.load()?.index }
    private let seekIndex = AtomicLazyReference<LoadedSeekIndex>()
    private let seekBudget: SeekIndexBudget?
    /// Whether a seek asked for the seek index (see ``requestSeekIndex()``).
    private let seekIndexRequested = Atomic<Bool>(false)
    /// Held while deferred parts are built, so two callers never build (and write) them at once.
    private let loading = Mutex<Void>(())

    private final class LoadedFilter: Sendable {
        let filter: BloomFilter
        init(_ filter: BloomFilter) { self.filter = filter }
    }

    private final class LoadedSeekIndex: Sendable {
        let index: TokenPrefixIndex
        init(_ index: TokenPrefixIndex) { self.index = index }
    }

    private static let nextUID = Atomic<Int>(1)

    /// Rate a bloom filter built from the index is sized for (the table's `bloom_filter_fp_chance`).
    private let filterFalsePositiveRate: Double
    /// Whether a bloom filter built from the index is written to the SSTable's Filter component.
    private let persistsBuiltFilter: Bool

    /// With a `seekBudget`, the token prefixes of the partitions can be kept in memory while it
    /// lasts: built here when `withSeekIndex`, else once a seek asks (``requestSeekIndex()``).
    /// The bloom filter and the seek index are loaded here, or with `deferred` by
    /// ``loadDeferredParts(withSeekIndex:)``: a compaction loads its outputs' once its inputs are
    /// gone, so the two are not held at once; meanwhile reads and seeks read the index.
    ///
    /// An SSTable without a Filter component (a compaction output, see ``SSTableWriter``) gets its
    /// filter built from the index, for `filterFalsePositiveRate`, and written beside it unless
    /// `persistsBuiltFilter` is false (inspection).
    init(descriptor d: SSTableDescriptor, cache: ChunkCache?, seekBudget: SeekIndexBudget? = nil, deferred: Bool = false,
         withSeekIndex: Bool = false, filterFalsePositiveRate: Double = 0.01, persistsBuiltFilter: Bool = true) throws {
        descriptor = d
        self.filterFalsePositiveRate = filterFalsePositiveRate
        self.persistsBuiltFilter = persistsBuiltFilter
        uid = Self.nextUID.add(1, ordering: .relaxed).oldValue
        self.cache = cache
        stats = try SSTableStatistics.deserialize(FileSystem.readAll(d.path(.statistics)), path: d.path(.statistics))
        info = try CompressionInfo.deserialize(FileSystem.readAll(d.path(.compressionInfo)), path: d.path(.compressionInfo))
        summary = try IndexSummary.deserialize(FileSystem.readAll(d.path(.summary)), path: d.path(.summary))
        // The index stays on disk (the page cache keeps the hot parts); it is checked once here,
        // a megabyte at a time.
        let indexFile = try ReadOnlyFile(path: d.path(.index))
        self.indexFile = indexFile
        guard indexFile.size >= 9 else { throw StorageError.corrupt(path: d.path(.index), offset: 0, reason: "file too short (\(indexFile.size) bytes)") }
        let end = indexFile.size - 4
        var front = [UInt8](repeating: 0, count: 5)
        try front.withUnsafeMutableBytes { try indexFile.read(at: 0, 5, into: $0) }
        try front.withUnsafeBytes { try SSTableMetadata.checkMagic($0, magic: "BSIX", path: d.path(.index)) }
        var crc: UInt32 = 0
        try indexFile.forEachPiece(to: end) { crc = Checksum.update(crc, $0) }
        try SSTableMetadata.checkCRC(stored: SSTableMetadata.storedCRC(indexFile), computed: crc, path: d.path(.index), at: end)
        indexEnd = end
        self.seekBudget = seekBudget
        data = try ReadOnlyFile(path: d.path(.data))
        if let last = info.offsets.last, Int(last) + 4 > data.size {
            throw StorageError.corrupt(path: d.path(.data), offset: data.size, reason: "data file truncated: last chunk starts at \(last)")
        }
        var total = indexFile.size + data.size
        for c in [SSTableDescriptor.Component.compressionInfo, .summary, .statistics, .toc] {
            total += (try? FileSystem.fileSize(d.path(c))) ?? 0
        }
        sizeWithoutFilter = total
        filterBytes.store((try? FileSystem.fileSize(d.path(.filter))) ?? 0, ordering: .relaxed)
        if !deferred { try loadDeferredParts(withSeekIndex: withSeekIndex) }
    }

    deinit {
        if let seekBudget, let prefixIndex { seekBudget.release(prefixIndex.memoryBytes) }
    }

    /// True the first time it is called on an SSTable that could keep a seek index and has none:
    /// the caller then has ``loadDeferredParts(withSeekIndex:)`` build it.
    func requestSeekIndex() -> Bool {
        guard seekBudget != nil, seekIndex.load() == nil, !seekIndexRequested.load(ordering: .relaxed) else { return false }
        return !seekIndexRequested.exchange(true, ordering: .relaxed)
    }

    /// Loads the bloom filter (or builds it from the index when the SSTable has none) and, with
    /// `withSeekIndex`, builds the seek index (if there is a budget with room for it), unless they
    /// are loaded. Both built parts come from one pass over the index. Returns the bytes of a
    /// filter it built and wrote (0 when none).
    @discardableResult
    func loadDeferredParts(withSeekIndex: Bool) throws -> Int {
        try loading.withLock { _ in try loadMissingParts(withSeekIndex: withSeekIndex) }
    }

    private func loadMissingParts(withSeekIndex: Bool) throws -> Int {
        var buildsFilter = false
        if filter.load() == nil {
            if FileSystem.exists(descriptor.path(.filter)) {
                _ = filter.storeIfNil(LoadedFilter(try BloomFilter.read(from: descriptor.path(.filter))))
            } else {
                buildsFilter = true
            }
        }
        let expected = partitionCountBound
        var reserved = 0
        if withSeekIndex, let seekBudget, seekIndex.load() == nil {
            let want = TokenPrefixIndex.memoryBytes(forPartitions: expected)
            if seekBudget.reserve(want) { reserved = want }
        }
        guard buildsFilter || reserved > 0 else { return 0 }
        var prefixes = reserved > 0 ? TokenPrefixIndex.Builder(expectedPartitions: expected) : nil
        var bloom = buildsFilter ? BloomFilter(expectedKeys: expected, falsePositiveRate: filterFalsePositiveRate) : nil
        let path = descriptor.path(.index)
        do {
            try Self.walkIndex(indexFile, end: indexEnd, path: path) { offset, token, key in
                if prefixes != nil, !prefixes!.append(token) {
                    throw StorageError.corrupt(path: path, offset: offset, reason: "index tokens out of order")
                }
                bloom?.add(Murmur3.hash128(key))
            }
        } catch {
            if reserved > 0 { seekBudget?.release(reserved) }
            throw error
        }
        if var prefixes, let seekBudget {
            let index = prefixes.finish()
            let loaded = LoadedSeekIndex(index)
            if seekIndex.storeIfNil(loaded) === loaded {
                seekBudget.adjust(index.memoryBytes - reserved)
            } else {
                seekBudget.release(reserved)
            }
        }
        var written = 0
        if let bloom {
            if persistsBuiltFilter { written = persist(bloom) }
            _ = filter.storeIfNil(LoadedFilter(bloom))
        }
        return written
    }

    /// Writes a filter built from the index as the SSTable's Filter component; returns its bytes
    /// (0 when it could not be written). A failure (a full disk) only costs building it again at
    /// the next start; the filter in memory serves meanwhile.
    private func persist(_ bloom: BloomFilter) -> Int {
        let d = descriptor
        do {
            try bloom.write(to: d.temporaryPath(.filter))
            try FileSystem.rename(d.temporaryPath(.filter), d.path(.filter))
            try FileSystem.syncDirectory(d.directory)
            let bytes = try FileSystem.fileSize(d.path(.filter))
            filterBytes.store(bytes, ordering: .relaxed)
            // Compacted away meanwhile: its other files are gone, so this one goes too.
            if !FileSystem.exists(d.path(.toc)) { try FileSystem.remove(d.path(.filter)) }
            return bytes
        } catch {
            try? FileSystem.remove(d.temporaryPath(.filter))
            return 0
        }
    }

    /// Calls `body` with each index entry's offset, token and key, in index order (a pass over the
    /// index after its checksum was verified; entries are walked, not decoded).
    private static func walkIndex(_ file: ReadOnlyFile, end: Int, path: String,
                                  _ body: (_ offset: Int, _ token: Int64, _ key: UnsafeRawBufferPointer) throws -> Void) throws {
        var window = [UInt8](repeating: 0, count: min(end, 1 << 20))
        var base = 0, count = 0
        var off = firstIndexOffset
        // Makes the window hold [at, at + n).
        func need(_ at: Int, _ n: Int) throws {
            if at >= base && at + n <= base + count { return }
            guard at + n <= end else { throw StorageError.corrupt(path: path, offset: at, reason: "index entry past the end") }
            if n > window.count { window = [UInt8](repeating: 0, count: n) }
            count = min(window.count, end - at)
            try window.withUnsafeMutableBytes { try file.read(at: at, count, into: UnsafeMutableRawBufferPointer(rebasing: $0[0 ..< count])) }
            base = at
        }
        while off < end {
            try need(off, 10)
            let (token, klen): (Int64, Int) = window.withUnsafeBytes { p in
                (Int64(bigEndian: p.loadUnaligned(fromByteOffset: off - base, as: Int64.self)),
                 Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off - base + 8, as: UInt16.self))))
            }
            let ri = off + 10 + klen + 8
            try need(off, ri + 4 - off)
            let riLength = try window.withUnsafeBytes { p in
                try body(off, token, UnsafeRawBufferPointer(rebasing: p[off - base + 10 ..< off - base + 10 + klen]))
                return Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: ri - base, as: UInt32.self)))
            }
            off = ri + 4 + riLength
        }
    }

    /// Partition count, bounded by what the index can hold (an entry takes at least 22 bytes), so a
    /// damaged statistics file cannot make a caller size buffers absurdly.
    var partitionCountBound: Int { min(max(0, stats.partitionCount), indexEnd / 22) }

    @inline(__always)
    func mightContain(_ hash: (UInt64, UInt64)) -> Bool { filter.load()?.filter.mightContain(hash) ?? true }

    var hasBloomFilter: Bool { filter.load() != nil }

    private func corrupt(_ c: SSTableDescriptor.Component, _ offset: Int, _ reason: String) -> StorageError {
        .corrupt(path: descriptor.path(c), offset: offset, reason: reason)
    }

    // MARK: index

    /// A piece of the index file in memory: `bytes` holds the file's bytes from `base`.
    struct IndexWindow {
        var base = 0
        var bytes: [UInt8] = []
        /// How much to read when the window has to move.
        var readAhead: Int
    }

    /// An index entry: token, key (at `keyStart` in the window it was read through), data
    /// position, row index (file offsets; empty for none), offset of the next entry.
    typealias IndexEntry = (token: Int64, keyStart: Int, keyLength: Int, position: Int, rowIndex: Range<Int>, next: Int)

    /// Makes `w` hold the index bytes `[offset, offset + count)`, reading from `offset` when it
    /// does not already.
    private func fill(_ w: inout IndexWindow, _ offset: Int, _ count: Int) throws {
        if offset >= w.base && offset + count <= w.base + w.bytes.count { return }
        let n = min(indexEnd - offset, max(count, w.readAhead))
        w.bytes = try [UInt8](unsafeUninitializedCapacity: n) { buf, k in
            try indexFile.read(at: offset, n, into: UnsafeMutableRawBufferPointer(buf))
            k = n
        }
        w.base = offset
    }

    /// Reads the index entry at `offset` through `w` (moving it as needed).
    private func entry(at offset: Int, _ w: inout IndexWindow) throws -> IndexEntry {
        let end = indexEnd
        guard offset >= Self.firstIndexOffset, offset + 10 <= end else { throw corrupt(.index, offset, "index entry header past the end") }
        try fill(&w, offset, 10)
        let (token, klen): (Int64, Int) = w.bytes.withUnsafeBytes { p in
            let o = offset - w.base
            return (Int64(bigEndian: p.loadUnaligned(fromByteOffset: o, as: Int64.self)),
                    Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: o + 8, as: UInt16.self))))
        }
        let pos = offset + 10 + klen
        guard pos + 12 <= end else { throw corrupt(.index, offset, "index entry past the end") }
        try fill(&w, offset, 10 + klen + 12)
        let (dataPos, riLength): (UInt64, Int) = w.bytes.withUnsafeBytes { p in
            let o = pos - w.base
            return (UInt64(bigEndian: p.loadUnaligned(fromByteOffset: o, as: UInt64.self)),
                    Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: o + 8, as: UInt32.self))))
        }
        guard dataPos < UInt64(info.dataLength) else { throw corrupt(.index, pos, "data position \(dataPos) past the data length \(info.dataLength)") }
        let riStart = pos + 12
        guard riLength <= end - riStart else { throw corrupt(.index, pos + 8, "row index of \(riLength) bytes past the end") }
        return (token, offset + 10 - w.base, klen, Int(dataPos), riStart ..< riStart + riLength, riStart + riLength)
    }

    /// The row index stored at `range` of the index file.
    private func rowIndex(_ range: Range<Int>) throws -> RowIndex {
        var w = IndexWindow(readAhead: 0)
        try fill(&w, range.lowerBound, range.count)
        var r = ByteReader(w.bytes, from: 0, to: range.count)
        do {
            let ri = try RowIndex.deserialize(&r)
            if !r.isAtEnd { throw DecodeError.invalid("trailing bytes in row index", at: r.position) }
            return ri
        } catch let e as DecodeError {
            throw corrupt(.index, range.lowerBound + e.offset, "row index: \(e)")
        }
    }

    @inline(__always)
    private func compareKey(_ e: IndexEntry, _ w: IndexWindow, _ probeToken: Int64, _ probe: UnsafeRawBufferPointer) -> Int {
        if e.token != probeToken { return e.token < probeToken ? -1 : 1 }
        return w.bytes.withUnsafeBytes { CQLType.compareUnsigned(UnsafeRawBufferPointer(rebasing: $0[e.keyStart ..< e.keyStart + e.keyLength]), probe) }
    }

    private func key(_ e: IndexEntry, _ w: IndexWindow) -> [UInt8] { Array(w.bytes[e.keyStart ..< e.keyStart + e.keyLength]) }

    /// Index offset of the last summary entry at or before the probe (the first entry when none is).
    private func summaryStart(_ token: Int64, _ key: UnsafeRawBufferPointer) -> (offset: Int, next: Int) {
        var lo = 0, hi = summary.tokens.count - 1, best = 0
        while lo <= hi {
            let mid = (lo + hi) >> 1
            let t = summary.tokens[mid]
            let c: Int = t != token ? (t < token ? -1 : 1) : summary.withKey(mid) { CQLType.compareUnsigned($0, key) }
            if c <= 0 { best = mid; lo = mid + 1 } else { hi = mid - 1 }
        }
        if summary.offsets.isEmpty { return (Self.firstIndexOffset, indexEnd) }
        return (summary.offsets[best], best + 1 < summary.offsets.count ? summary.offsets[best + 1] : indexEnd)
    }

    /// The data position (and row index range) of the partition, or nil when the SSTable does not
    /// hold it.
    func find(token: Int64, key: UnsafeRawBufferPointer) throws -> (position: Int, rowIndex: Range<Int>)? {
        if token < stats.minToken || token > stats.maxToken { return nil }
        let (start, next) = summaryStart(token, key)
        var off = start
        // One read for the entries up to the next summary entry (and the one after it).
        var w = IndexWindow(readAhead: max(64, min(1 << 16, next - start + 256)))
        var scanned = 0
        while off < indexEnd && scanned <= summary.interval {
            let e = try entry(at: off, &w)
            let c = compareKey(e, w, token, key)
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
            let (start, next) = after == nil ? (Self.firstIndexOffset, Self.firstIndexOffset + 4096) : summaryStart(probeToken, probe)
            var off = start
            // The first read covers the probe's summary interval; later ones read further ahead.
            var w = IndexWindow(readAhead: max(64, min(1 << 16, next - start + 256)))
            while off < indexEnd && out.count < limit {
                let e = try entry(at: off, &w)
                off = e.next
                w.readAhead = max(w.readAhead, 64 * min(1 << 10, limit - out.count))
                if after != nil {
                    let c = compareKey(e, w, probeToken, probe)
                    if c < 0 || (c == 0 && !inclusive) { continue }
                }
                if let end = endToken, e.token > end { break }
                out.append((e.token, key(e, w)))
            }
        }
        return out
    }

    /// Offset of the first index entry.
    static let firstIndexOffset = 5

    /// The index entry at `offset` (token, key, data position, offset of the next entry); nil at
    /// the end of the index.
    func indexEntry(at offset: Int, _ w: inout IndexWindow) throws -> (token: Int64, key: [UInt8], position: Int, next: Int)? {
        guard offset < indexEnd else { return nil }
        let e = try entry(at: offset, &w)
        return (e.token, key(e, w), e.position, e.next)
    }

    /// Visits every index entry in order: token, key, data position, row index (if any).
    func forEachEntry(_ body: (Int64, [UInt8], Int, RowIndex?) throws -> Void) throws {
        var off = Self.firstIndexOffset
        var w = IndexWindow(readAhead: 1 << 16)
        while off < indexEnd {
            let e = try entry(at: off, &w)
            try body(e.token, key(e, w), e.position, e.rowIndex.isEmpty ? nil : try rowIndex(e.rowIndex))
            off = e.next
        }
    }

    // MARK: data

    var chunkCount: Int { info.offsets.count }

    /// The file offset where chunk `i` starts (the data file's size past the last chunk).
    func chunkFileOffset(_ i: Int) -> Int { i < info.offsets.count ? Int(info.offsets[i]) : data.size }

    /// Lets the kernel drop the cached pages of the data file below chunk `i` (read once by
    /// compaction, never again: the file is deleted after it).
    func dropCachedPages(below i: Int) { data.dropCachedPages(0, chunkFileOffset(i)) }

    /// The uncompressed bytes of chunk `i`, checked against its CRC.
    func chunk(_ i: Int, useCache: Bool = true) throws -> [UInt8] {
        if useCache, let cache, let hit = cache.get(ChunkCache.Key(reader: uid, chunk: i)) { return hit }
        guard i >= 0, i < info.offsets.count else { throw corrupt(.data, 0, "chunk \(i) out of range (\(info.offsets.count) chunks)") }
        let start = Int(info.offsets[i])
        let end = i + 1 < info.offsets.count ? Int(info.offsets[i + 1]) : data.size
        guard start <= end - 4, end <= data.size else { throw corrupt(.data, start, "chunk \(i) bounds invalid or file truncated") }
        let raw = try [UInt8](unsafeUninitializedCapacity: end - start) { buf, n in
            try data.read(at: start, end - start, into: UnsafeMutableRawBufferPointer(buf))
            n = end - start
        }
        return try raw.withUnsafeBytes { all in try decodeChunk(i, start: start, all, useCache: useCache) }
    }

    /// Checks and decompresses chunk `i` read from file offset `start` (`all`: its block and CRC).
    private func decodeChunk(_ i: Int, start: Int, _ all: UnsafeRawBufferPointer, useCache: Bool) throws -> [UInt8] {
        let block = UnsafeRawBufferPointer(rebasing: all[0 ..< all.count - 4])
        let stored = UInt32(littleEndian: all.loadUnaligned(fromByteOffset: all.count - 4, as: UInt32.self))
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
        try streamBytes(position, count) { try chunk($0, useCache: useCache) }
    }

    /// The stream bytes `[position, position + count)`, with chunks from `chunkAt`.
    func streamBytes(_ position: Int, _ count: Int, chunkAt: (Int) throws -> [UInt8]) throws -> [UInt8] {
        guard position >= 0, count >= 0, position + count <= info.dataLength else {
            throw corrupt(.data, position, "record of \(count) bytes at stream position \(position) runs past the data (\(info.dataLength))")
        }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var pos = position
        while out.count < count {
            let c = try chunkAt(pos / info.chunkLength)
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
        try readRecord(at: position, expectedKey: expectedKey) { try chunk($0, useCache: useCache) }
    }

    /// ``readRecord(at:expectedKey:useCache:)`` with chunks from `chunkAt` (a sequential reader
    /// keeps its current chunk instead of decompressing it again for every partition in it).
    func readRecord(at position: Int, expectedKey: UnsafeRawBufferPointer?, chunkAt: (Int) throws -> [UInt8]) throws -> (key: [UInt8], body: ByteReader) {
        let ci = position / info.chunkLength
        let off = position % info.chunkLength
        let first = try chunkAt(ci)
        var head: [UInt8]
        var headStart: Int
        if off + 6 <= first.count {
            head = first
            headStart = off
        } else {
            head = try streamBytes(position, min(6, info.dataLength - position), chunkAt: chunkAt)
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
            buf = try streamBytes(position, total, chunkAt: chunkAt)
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
        let body = try streamBytes(bodyPos, blen, chunkAt: chunkAt)
        return (key, ByteReader(body))
    }

    /// Decodes the partition at `position` (whose key the index gave).
    func readPartition(at position: Int, key: UnsafeRawBufferPointer?, useCache: Bool = true) throws -> PartitionUpdate {
        try decodePartition(try readRecord(at: position, expectedKey: key, useCache: useCache).body, at: position)
    }

    /// Decodes a partition body read from stream position `position`.
    func decodePartition(_ body: ByteReader, at position: Int) throws -> PartitionUpdate {
        var r = body
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
    func read(token: Int64, key: [UInt8], slices: [ClusteringSlice]? = nil, _ cmp: ClusteringComparator? = nil,
              rowLimit: Int = .max) throws -> PartitionUpdate? {
        try key.withUnsafeBytes { k in
            guard let (pos, ri) = try find(token: token, key: k) else { return nil }
            if let slices, let cmp, !ri.isEmpty, !(slices.count == 1 && slices[0] == .all && rowLimit == .max) {
                return try readSlices(at: pos, key: k, rowIndex: try rowIndex(ri), slices: slices, cmp, rowLimit: rowLimit)
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

    /// Decodes the partition header and the row blocks that can hold `slices`, stopping once it
    /// has `rowLimit` of their rows.
    func readSlices(at position: Int, key: UnsafeRawBufferPointer, rowIndex ri: RowIndex, slices: [ClusteringSlice], _ cmp: ClusteringComparator,
                    rowLimit: Int = .max, useCache: Bool = true) throws -> PartitionUpdate {
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
            // With a row limit, runs start at one block and double, so a read that needs a few
            // rows does not decode the rest of a wide partition.
            var runLimit = rowLimit == .max ? Int.max : 1
            while let first = blocks.first, p.rows.count < rowLimit {
                // Decode a run of consecutive blocks in one read.
                var last = first
                blocks = blocks.dropFirst()
                while let n = blocks.first, n == last + 1, n - first < runLimit { last = n; blocks = blocks.dropFirst() }
                runLimit = runLimit.multipliedReportingOverflow(by: 2).overflow ? .max : runLimit * 2
                var rr = ByteReader(try streamBytes(bodyPos + ri.offsets[first], ri.blockEnd(last) - ri.offsets[first], useCache: useCache))
                while !rr.isAtEnd && p.rows.count < rowLimit {
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
