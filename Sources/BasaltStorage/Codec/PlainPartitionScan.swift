import BasaltCore

extension StorageCodec {
    /// The write-timestamp range of an encoded partition body that holds only plain live data (no
    /// deletion of any kind, no TTL, no tombstone cell), walking the encoding without decoding it
    /// into values; nil when the body holds anything else or is malformed.
    ///
    /// Compaction copies such a body unchanged when no other input holds the partition: there is
    /// nothing to merge and nothing it could purge, so decoding and re-encoding would give the same
    /// bytes (the encoding is canonical).
    static func plainLiveTimestampRange(_ body: ByteReader) -> (min: Int64, max: Int64)? {
        var r = body
        var lo = Int64.max, hi = Int64.min
        func see(_ ts: Int64) {
            lo = min(lo, ts)
            hi = max(hi, ts)
        }
        func skipBytes(_ r: inout ByteReader) throws(DecodeError) {
            let n = try readCount(&r)
            try r.skip(n)
        }
        func row(_ r: inout ByteReader) throws(DecodeError) -> Bool {
            let comps = try readCount(&r)
            for _ in 0 ..< comps { try skipBytes(&r) }
            let flags = try r.readUInt8()
            // Only a plain row marker: no marker TTL (2), row deletion (4), complex deletions (8).
            if flags & ~1 != 0 { return false }
            if flags & 1 != 0 { see(try r.readVarInt()) }
            let cells = try readCount(&r)
            for _ in 0 ..< cells {
                try skipBytes(&r)
                let cf = try r.readUInt8()
                // Only a path is allowed: no TTL, no local deletion time (tombstone or expiry).
                if cf & ~cellHasPath != 0 { return false }
                if cf & cellHasPath != 0 { try skipBytes(&r) }
                see(try r.readVarInt())
                try skipBytes(&r)
            }
            return true
        }
        do {
            let flags = try r.readUInt8()
            // Static row (2) allowed; partition deletion (1) and range tombstones (4) are not.
            if flags & ~2 != 0 { return nil }
            if flags & 2 != 0, !(try row(&r)) { return nil }
            let rows = try readCount(&r)
            for _ in 0 ..< rows {
                if !(try row(&r)) { return nil }
            }
            return r.isAtEnd ? (lo, hi) : nil
        } catch {
            return nil
        }
    }
}
