import CSnappy

/// Snappy block compression (the system libsnappy through its C API).
enum Snappy {
    static func maxCompressedLength(_ n: Int) -> Int { snappy_max_compressed_length(n) }

    /// Compresses `input` into `output` (at least `maxCompressedLength(input.count)` bytes);
    /// returns the compressed length.
    static func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        var outLen = output.count
        let status = snappy_compress(input.baseAddress?.assumingMemoryBound(to: CChar.self), input.count,
                                     output.baseAddress!.assumingMemoryBound(to: CChar.self), &outLen)
        precondition(status == SNAPPY_OK, "snappy_compress with a large enough buffer failed: \(status)")
        return outLen
    }

    /// The uncompressed length a compressed block declares, or nil when the header is malformed.
    static func uncompressedLength(_ input: UnsafeRawBufferPointer) -> Int? {
        var n = 0
        guard let base = input.baseAddress,
              snappy_uncompressed_length(base.assumingMemoryBound(to: CChar.self), input.count, &n) == SNAPPY_OK else { return nil }
        return n
    }

    /// Decompresses into `output`, which must be exactly the declared length; false on bad input.
    static func uncompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard let base = input.baseAddress, let out = output.baseAddress else { return input.count == 0 && output.count == 0 }
        var outLen = output.count
        let status = snappy_uncompress(base.assumingMemoryBound(to: CChar.self), input.count, out.assumingMemoryBound(to: CChar.self), &outLen)
        return status == SNAPPY_OK && outLen == output.count
    }
}
