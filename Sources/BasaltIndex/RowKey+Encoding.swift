import BasaltCore

/// How index segment files store a row key.
extension RowKey {
    /// Appends the key: varint count of parts, then each part as varint length and bytes.
    func write(to w: inout ByteWriter) {
        w.writeVarUInt(UInt64(clustering.count + 1))
        w.writeVarUInt(UInt64(partitionKey.count))
        w.writeBytes(partitionKey)
        for c in clustering {
            w.writeVarUInt(UInt64(c.count))
            w.writeBytes(c)
        }
    }

    static func read(from r: inout ByteReader) throws(DecodeError) -> RowKey {
        let parts = Int(try r.readVarUInt())
        guard parts >= 1, parts <= 1 << 16 else { throw DecodeError.invalid("row key with \(parts) parts", at: 0) }
        var all: [[UInt8]] = []
        for _ in 0 ..< parts {
            let n = Int(try r.readVarUInt())
            all.append(try r.readBytes(n))
        }
        return RowKey(partitionKey: all[0], clustering: Array(all.dropFirst()))
    }
}
