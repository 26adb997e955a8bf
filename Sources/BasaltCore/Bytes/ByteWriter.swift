/// An append-only byte buffer for hand-written binary formats.
///
/// Multi-byte integers are written big-endian (network order, as the CQL native protocol and
/// Cassandra's value encodings use) unless the method says little-endian. The buffer grows
/// geometrically; reserve capacity up front on hot paths.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    @inlinable
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable
    public init(adopting bytes: [UInt8]) {
        self.bytes = bytes
    }

    @inlinable public var count: Int { bytes.count }

    @inlinable
    public mutating func reserveCapacity(_ n: Int) { bytes.reserveCapacity(n) }

    @inlinable
    public mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
    }

    @inlinable
    public mutating func writeUInt8(_ v: UInt8) { bytes.append(v) }

    @inlinable
    public mutating func writeInt8(_ v: Int8) { bytes.append(UInt8(bitPattern: v)) }

    @inlinable
    public mutating func writeBool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    @inlinable
    public mutating func writeUInt16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    @inlinable
    public mutating func writeInt16(_ v: Int16) { writeUInt16(UInt16(bitPattern: v)) }

    @inlinable
    public mutating func writeUInt32(_ v: UInt32) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func writeInt32(_ v: Int32) { writeUInt32(UInt32(bitPattern: v)) }

    @inlinable
    public mutating func writeUInt64(_ v: UInt64) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func writeInt64(_ v: Int64) { writeUInt64(UInt64(bitPattern: v)) }

    @inlinable
    public mutating func writeUInt32LE(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func writeUInt64LE(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func writeFloat(_ v: Float) { writeUInt32(v.bitPattern) }

    @inlinable
    public mutating func writeDouble(_ v: Double) { writeUInt64(v.bitPattern) }

    /// Unsigned LEB128 variable-length integer (7 bits a byte, low bits first).
    @inlinable
    public mutating func writeVarUInt(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    /// Signed variable-length integer, zig-zag encoded so small negatives stay short.
    @inlinable
    public mutating func writeVarInt(_ v: Int64) {
        writeVarUInt(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    @inlinable
    public mutating func writeBytes<C: Collection>(_ b: C) where C.Element == UInt8 {
        bytes.append(contentsOf: b)
    }

    @inlinable
    public mutating func writeBytes(_ b: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: b)
    }

    /// A byte array preceded by its length as a var-uint.
    @inlinable
    public mutating func writeVarBytes<C: Collection>(_ b: C) where C.Element == UInt8 {
        writeVarUInt(UInt64(b.count))
        bytes.append(contentsOf: b)
    }

    /// A UTF-8 string preceded by its byte length as a var-uint.
    @inlinable
    public mutating func writeVarString(_ s: String) {
        var s = s
        s.withUTF8 { writeVarBytes(UnsafeRawBufferPointer($0)) }
    }

    /// Overwrites four bytes at `offset` with `v` big-endian (for length fields written after the body).
    @inlinable
    public mutating func setUInt32(_ v: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= bytes.count, "setUInt32 at \(offset) outside \(bytes.count) bytes")
        bytes[offset] = UInt8(truncatingIfNeeded: v >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: v >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: v)
    }

    /// Overwrites four bytes at `offset` with `v` little-endian.
    @inlinable
    public mutating func setUInt32LE(_ v: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= bytes.count, "setUInt32LE at \(offset) outside \(bytes.count) bytes")
        bytes[offset] = UInt8(truncatingIfNeeded: v)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v >> 8)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: v >> 16)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: v >> 24)
    }
}
