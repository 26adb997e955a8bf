import BasaltCore
import CSnappy

/// CRC-32C for storage files: the CPU's `crc32` instruction (SSE4.2) when present, else BasaltCore's
/// ``CRC32C``. Both give the same values; the instruction is about ten times faster, which matters
/// because every chunk read and every commit-log record is checked.
enum Checksum {
    static let hardware: Bool = basalt_cpu_has_sse42() != 0

    @inline(__always)
    static func crc32c(_ data: UnsafeRawBufferPointer) -> UInt32 {
        guard hardware else { return CRC32C.checksum(data) }
        guard let base = data.baseAddress, data.count > 0 else { return 0 }
        return ~basalt_crc32c_sse42(~0, base, data.count)
    }

    /// Continues a running checksum `crc` (start with 0) over `data`.
    @inline(__always)
    static func update(_ crc: UInt32, _ data: UnsafeRawBufferPointer) -> UInt32 {
        guard hardware else { return CRC32C.update(crc, data) }
        guard let base = data.baseAddress, data.count > 0 else { return crc }
        return ~basalt_crc32c_sse42(~crc, base, data.count)
    }

    @inline(__always)
    static func crc32c(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBytes { crc32c($0) }
    }
}
