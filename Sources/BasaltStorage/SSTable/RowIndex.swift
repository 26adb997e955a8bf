import BasaltCore

/// The row index of a large partition: where in its encoded body each block of about
/// `blockBytes` of rows starts, with the clustering of the block's first row, so that a read of a
/// clustering slice decodes only the blocks that can hold it.
///
/// Stored in the partition's index entry. Layout: body length (var-uint), block count (var-uint),
/// per block the first row's clustering (``StorageCodec`` clustering encoding) and the block's
/// offset in the body (var-uint). The first block starts where the rows start, so the bytes before
/// it are the partition header (deletion, range tombstones, static row, row count).
struct RowIndex: Sendable {
    var bodyLength: Int
    var firstClusterings: [[[UInt8]]]
    var offsets: [Int]

    /// Builds the index of an encoded partition body, or nil when it has no rows.
    static func build(body: [UInt8], blockBytes: Int) throws(DecodeError) -> RowIndex? {
        var r = ByteReader(body)
        let flags = try r.readUInt8()
        if flags & 1 != 0 { _ = try StorageCodec.readDeletion(&r) }
        if flags & 4 != 0 {
            let n = try StorageCodec.readCount(&r)
            for _ in 0 ..< n {
                _ = try StorageCodec.readBound(&r)
                _ = try StorageCodec.readBound(&r)
                _ = try StorageCodec.readDeletion(&r)
            }
        }
        if flags & 2 != 0 { _ = try StorageCodec.readRow(&r) }
        let rows = try StorageCodec.readCount(&r)
        guard rows > 0 else { return nil }
        var index = RowIndex(bodyLength: body.count, firstClusterings: [], offsets: [])
        var blockStart = -1
        for _ in 0 ..< rows {
            let at = r.position
            let row = try StorageCodec.readRow(&r)
            if blockStart < 0 || at - blockStart >= blockBytes {
                index.firstClusterings.append(row.clustering)
                index.offsets.append(at)
                blockStart = at
            }
        }
        return index
    }

    func serialized() -> [UInt8] {
        var w = ByteWriter(capacity: 16 + offsets.count * 16)
        w.writeVarUInt(UInt64(bodyLength))
        w.writeVarUInt(UInt64(offsets.count))
        for i in offsets.indices {
            StorageCodec.writeClustering(firstClusterings[i], &w)
            w.writeVarUInt(UInt64(offsets[i]))
        }
        return w.bytes
    }

    static func deserialize(_ r: inout ByteReader) throws(DecodeError) -> RowIndex {
        let lenAt = r.position
        let len = try r.readVarUInt()
        guard len <= UInt64(UInt32.max) else { throw DecodeError.invalid("row index body length \(len) out of range", at: lenAt) }
        let n = try StorageCodec.readCount(&r)
        var index = RowIndex(bodyLength: Int(len), firstClusterings: [], offsets: [])
        var last = -1
        for _ in 0 ..< n {
            index.firstClusterings.append(try StorageCodec.readClustering(&r))
            let at = r.position
            let o = try r.readVarUInt()
            guard o < len, Int(o) > last else { throw DecodeError.invalid("row index offset \(o) out of order or past the body (\(len) bytes)", at: at) }
            last = Int(o)
            index.offsets.append(Int(o))
        }
        guard n > 0 else { throw DecodeError.invalid("empty row index", at: r.position) }
        return index
    }

    /// End offset of block `i`.
    func blockEnd(_ i: Int) -> Int { i + 1 < offsets.count ? offsets[i + 1] : bodyLength }

    /// The blocks that can hold rows of `slices`, in order.
    func blocks(for slices: [ClusteringSlice], _ cmp: ClusteringComparator) -> [Int] {
        var wanted = Set<Int>()
        for s in slices {
            var first = 0
            for b in offsets.indices {
                if cmp.isAfter(firstClusterings[b], start: s.start) { break }
                first = b
            }
            var b = first
            while b < offsets.count {
                if b > first && !cmp.isBefore(firstClusterings[b], end: s.end) { break }
                wanted.insert(b)
                b += 1
            }
        }
        return wanted.sorted()
    }
}
