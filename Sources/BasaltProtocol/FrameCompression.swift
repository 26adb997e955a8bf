import BasaltCore
import CLZ4
import CSnappy

/// Why a compressed frame body could not be inflated.
public struct FrameCompressionError: Error, Hashable, Sendable, CustomStringConvertible {
    public var algorithm: FrameCompression
    public var reason: String
    public var description: String { "cannot decompress \(algorithm.name) frame body: \(reason)" }
}

/// The frame-body compression algorithms of v4 spec §5, chosen by STARTUP's COMPRESSION option.
///
/// lz4: a 4-byte big-endian uncompressed length, then one raw LZ4 block (the layout the Python
/// driver's `lz4.block` with `store_size=False` and Cassandra use). snappy: one raw Snappy block.
/// Decompression never trusts the input: sizes are bounded by `maxLength` and the libraries'
/// safe decoders are used.
public enum FrameCompression: String, Hashable, Sendable, CaseIterable {
    case lz4
    case snappy

    /// The name as STARTUP and SUPPORTED spell it.
    public var name: String { rawValue }

    /// Parses STARTUP's COMPRESSION value (case-insensitive); nil if unsupported.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }

    public func compress(_ input: [UInt8]) -> [UInt8] {
        switch self {
        case .lz4: Self.lz4Compress(input)
        case .snappy: Self.snappyCompress(input)
        }
    }

    public func decompress(_ input: [UInt8], maxLength: Int = FrameDecoder.defaultMaxBodyLength) throws(FrameCompressionError) -> [UInt8] {
        switch self {
        case .lz4: try Self.lz4Decompress(input, maxLength: maxLength)
        case .snappy: try Self.snappyDecompress(input, maxLength: maxLength)
        }
    }

    /// Calls `body` with a C pointer to `bytes` (never nil: an empty array lends a dummy byte).
    static func withCChars<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>, Int) -> R) -> R {
        let source = bytes.isEmpty ? [0] : bytes
        return source.withUnsafeBytes { raw in
            body(raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: CChar.self), bytes.count)
        }
    }

    /// Calls `body` with a mutable C pointer to `count` zeroed bytes and returns them.
    static func withOutput(count: Int, _ body: (UnsafeMutablePointer<CChar>) -> Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(count, 1))
        let used = out.withUnsafeMutableBytes { raw in body(raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: CChar.self)) }
        out.removeLast(out.count - min(max(used, 0), out.count))
        return out
    }

    static func lz4Compress(_ input: [UInt8]) -> [UInt8] {
        let block = lz4CompressBlock(input)
        var w = ByteWriter(capacity: 4 + block.count)
        w.writeUInt32(UInt32(truncatingIfNeeded: input.count))
        w.writeBytes(block)
        return w.bytes
    }

    /// One raw LZ4 block, no length prefix (what a v5 segment carries).
    static func lz4CompressBlock(_ input: [UInt8]) -> [UInt8] {
        let bound = Int(LZ4_compressBound(Int32(clamping: input.count)))
        return withCChars(input) { src, n in
            withOutput(count: bound) { dst in Int(LZ4_compress_default(src, dst, Int32(n), Int32(bound))) }
        }
    }

    static func lz4Decompress(_ input: [UInt8], maxLength: Int) throws(FrameCompressionError) -> [UInt8] {
        var r = ByteReader(input)
        guard let declared = try? r.readUInt32() else {
            throw FrameCompressionError(algorithm: .lz4, reason: "body shorter than its 4-byte length")
        }
        let length = Int(declared)
        guard length <= maxLength, length <= Int(Int32.max) else {
            throw FrameCompressionError(algorithm: .lz4, reason: "uncompressed length \(length) exceeds \(maxLength)")
        }
        return try lz4DecompressBlock(Array(input.dropFirst(4)), exactLength: length)
    }

    /// Inflates one raw LZ4 block that must produce exactly `length` bytes.
    static func lz4DecompressBlock(_ block: [UInt8], exactLength length: Int) throws(FrameCompressionError) -> [UInt8] {
        var produced = 0
        let out = withCChars(block) { src, n in
            withOutput(count: length) { dst in
                produced = Int(LZ4_decompress_safe(src, dst, Int32(n), Int32(length)))
                return produced
            }
        }
        guard produced == length else {
            throw FrameCompressionError(algorithm: .lz4, reason: produced < 0 ? "malformed LZ4 block" : "inflated to \(produced) bytes, header said \(length)")
        }
        return out
    }

    static func snappyCompress(_ input: [UInt8]) -> [UInt8] {
        let bound = snappy_max_compressed_length(input.count)
        return withCChars(input) { src, n in
            withOutput(count: bound) { dst in
                var outLength = bound
                return snappy_compress(src, n, dst, &outLength) == SNAPPY_OK ? outLength : 0
            }
        }
    }

    static func snappyDecompress(_ input: [UInt8], maxLength: Int) throws(FrameCompressionError) -> [UInt8] {
        var length = 0
        let ok = withCChars(input) { src, n in snappy_uncompressed_length(src, n, &length) }
        guard ok == SNAPPY_OK else { throw FrameCompressionError(algorithm: .snappy, reason: "malformed length preamble") }
        guard length <= maxLength else {
            throw FrameCompressionError(algorithm: .snappy, reason: "uncompressed length \(length) exceeds \(maxLength)")
        }
        var status = SNAPPY_OK
        var produced = 0
        let out = withCChars(input) { src, n in
            withOutput(count: length) { dst in
                produced = length
                status = snappy_uncompress(src, n, dst, &produced)
                return produced
            }
        }
        guard status == SNAPPY_OK, produced == length else { throw FrameCompressionError(algorithm: .snappy, reason: "malformed snappy block") }
        return out
    }
}

extension Frame {
    /// The body, inflated when the compressed flag is set. A compressed frame without an agreed
    /// algorithm, or one that does not inflate, is a protocol error.
    public func uncompressedBody(_ compression: FrameCompression?, maxBodyLength: Int) throws(CQLError) -> [UInt8] {
        guard header.flags.contains(.compressed) else { return body }
        let name = header.opcode.map(\.description) ?? "0x" + String(header.rawOpcode, radix: 16)
        guard let compression else { throw .protocolError("Received a compressed \(name) frame but no compression was negotiated") }
        do { return try compression.decompress(body, maxLength: maxBodyLength) } catch { throw .protocolError(error.description) }
    }
}
