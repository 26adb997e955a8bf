/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every Basalt binary
/// format: commit-log records, SSTable chunks, hint files, internode frames.
///
/// Slicing-by-8 over precomputed tables. `CRC32C.checksum("123456789")` is 0xE3069283.
public enum CRC32C {
    @usableFromInline
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0 ..< 256 {
            var c = UInt32(i)
            for _ in 0 ..< 8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for i in 0 ..< 256 {
            for k in 1 ..< 8 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xff)]
            }
        }
        return t
    }()

    /// Continues a running checksum `crc` (start with 0) over `data`.
    @inlinable
    public static func update(_ crc: UInt32, _ data: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        var i = 0
        let n = data.count
        tables.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let lo = UInt32(littleEndian: data.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: data.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(data[i])) & 0xff)] ^ (c >> 8)
                i += 1
            }
        }
        return ~c
    }

    @inlinable
    public static func checksum(_ data: UnsafeRawBufferPointer) -> UInt32 { update(0, data) }

    @inlinable
    public static func checksum<C: Collection>(_ data: C) -> UInt32 where C.Element == UInt8 {
        if let r = data.withContiguousStorageIfAvailable({ update(0, UnsafeRawBufferPointer($0)) }) { return r }
        return Array(data).withUnsafeBytes { update(0, $0) }
    }
}
