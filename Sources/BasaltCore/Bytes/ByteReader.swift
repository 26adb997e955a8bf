/// A bounds-checked cursor over a byte array.
///
/// Every read either returns a value or throws ``DecodeError/truncated(needed:available:at:)``; no
/// input, however malformed, makes it trap. Use it for anything that came from outside the process.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    /// Offset of the next byte to read.
    public var position: Int
    /// One past the last readable byte.
    public let end: Int

    @inlinable
    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    @inlinable public var remaining: Int { end - position }
    @inlinable public var isAtEnd: Bool { position >= end }

    @inlinable
    func require(_ n: Int) throws(DecodeError) {
        if n < 0 || n > end - position {
            throw DecodeError.truncated(needed: n, available: end - position, at: position)
        }
    }

    @inlinable
    public mutating func skip(_ n: Int) throws(DecodeError) {
        try require(n)
        position += n
    }

    @inlinable
    public mutating func readUInt8() throws(DecodeError) -> UInt8 {
        try require(1)
        defer { position += 1 }
        return bytes[position]
    }

    @inlinable
    public mutating func readInt8() throws(DecodeError) -> Int8 { Int8(bitPattern: try readUInt8()) }

    @inlinable
    public mutating func readBool() throws(DecodeError) -> Bool { try readUInt8() != 0 }

    @inlinable
    public mutating func readUInt16() throws(DecodeError) -> UInt16 {
        try require(2)
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    @inlinable
    public mutating func readInt16() throws(DecodeError) -> Int16 { Int16(bitPattern: try readUInt16()) }

    @inlinable
    public mutating func readUInt32() throws(DecodeError) -> UInt32 {
        try require(4)
        defer { position += 4 }
        return bytes.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: position, as: UInt32.self)) }
    }

    @inlinable
    public mutating func readInt32() throws(DecodeError) -> Int32 { Int32(bitPattern: try readUInt32()) }

    @inlinable
    public mutating func readUInt64() throws(DecodeError) -> UInt64 {
        try require(8)
        defer { position += 8 }
        return bytes.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: position, as: UInt64.self)) }
    }

    @inlinable
    public mutating func readInt64() throws(DecodeError) -> Int64 { Int64(bitPattern: try readUInt64()) }

    @inlinable
    public mutating func readUInt32LE() throws(DecodeError) -> UInt32 {
        try require(4)
        defer { position += 4 }
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: UInt32.self)) }
    }

    @inlinable
    public mutating func readUInt64LE() throws(DecodeError) -> UInt64 {
        try require(8)
        defer { position += 8 }
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: UInt64.self)) }
    }

    @inlinable
    public mutating func readFloat() throws(DecodeError) -> Float { Float(bitPattern: try readUInt32()) }

    @inlinable
    public mutating func readDouble() throws(DecodeError) -> Double { Double(bitPattern: try readUInt64()) }

    /// Unsigned LEB128; at most ten bytes.
    @inlinable
    public mutating func readVarUInt() throws(DecodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let start = position
            let b = try readUInt8()
            if shift == 63 && b > 1 { throw DecodeError.invalid("var-int overflows 64 bits", at: start) }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw DecodeError.invalid("var-int longer than 10 bytes", at: start) }
        }
    }

    @inlinable
    public mutating func readVarInt() throws(DecodeError) -> Int64 {
        let z = try readVarUInt()
        return Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
    }

    /// A var-uint length that must fit in what is left of the input.
    @inlinable
    public mutating func readVarLength() throws(DecodeError) -> Int {
        let start = position
        let n = try readVarUInt()
        if n > UInt64(remaining) {
            throw DecodeError.truncated(needed: Int(clamping: n), available: remaining, at: start)
        }
        return Int(n)
    }

    @inlinable
    public mutating func readBytes(_ n: Int) throws(DecodeError) -> [UInt8] {
        try require(n)
        defer { position += n }
        return Array(bytes[position ..< position + n])
    }

    @inlinable
    public mutating func readVarBytes() throws(DecodeError) -> [UInt8] {
        try readBytes(try readVarLength())
    }

    @inlinable
    public mutating func readVarString() throws(DecodeError) -> String {
        let start = position
        let n = try readVarLength()
        return try readUTF8(n, at: start)
    }

    /// `n` bytes that must be valid UTF-8.
    @inlinable
    public mutating func readUTF8(_ n: Int, at fieldStart: Int? = nil) throws(DecodeError) -> String {
        try require(n)
        let s = position
        position += n
        return try bytes.withUnsafeBufferPointer { buf throws(DecodeError) -> String in
            let slice = UnsafeBufferPointer(rebasing: buf[s ..< s + n])
            guard let str = String(validating: slice, as: UTF8.self) else {
                throw DecodeError.invalid("invalid UTF-8", at: fieldStart ?? s)
            }
            return str
        }
    }
}
