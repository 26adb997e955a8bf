import BasaltCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file written by ``IndexFileWriter``: the whole file is read into memory (or mapped, with
/// `mapped: true`) and its magic, version and checksum are verified before any field is parsed;
/// every read is bounds-checked and a short or inconsistent file is
/// ``VectorError/damagedFile(path:reason:)``, never a crash.
///
/// A mapped reader lets its owner keep large sections where they are (``borrow(_:count:_:)``)
/// instead of copying them: the checksum pass reads every page once, after which they are clean
/// file pages the kernel may drop and read again.
public final class IndexFileReader {
    public let path: String
    public let version: UInt16
    /// The file's bytes; a graph that borrows from a mapped file keeps them.
    public let contents: IndexFileBytes
    private let bytes: UnsafeRawPointer
    /// End of the body (the checksum follows).
    private let end: Int
    private var offset = 0

    public init(path: String, magic: String, supportedVersions: ClosedRange<UInt16>, mapped: Bool = false) throws(VectorError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        let size = Int(st.st_size)
        let magicBytes = Array(magic.utf8)
        guard size >= magicBytes.count + 2 + 4 else { throw .damagedFile(path: path, reason: "only \(size) bytes") }
        contents = mapped ? try IndexFileBytes(mapping: fd, count: size, path: path) : try IndexFileBytes(reading: fd, count: size, path: path)
        bytes = contents.base
        end = size - 4
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: end, as: UInt32.self))
        let computed = CRC32C.update(0, UnsafeRawBufferPointer(start: bytes, count: end))
        guard stored == computed else {
            throw .damagedFile(path: path, reason: "checksum mismatch (stored \(stored), computed \(computed))")
        }
        guard Array(UnsafeRawBufferPointer(start: bytes, count: magicBytes.count)) == magicBytes else {
            throw .damagedFile(path: path, reason: "not a \(magic) file")
        }
        offset = magicBytes.count
        version = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        offset += 2
        guard supportedVersions.contains(version) else {
            throw .damagedFile(path: path, reason: "format version \(version) is not one of \(supportedVersions)")
        }
    }

    /// Whether the file is mapped rather than copied into the heap.
    public var isMapped: Bool { contents.isMapped }

    /// Bytes not yet read before the checksum.
    public var remaining: Int { end - offset }

    private func need(_ n: Int, _ what: String) throws(VectorError) {
        guard n >= 0, n <= end - offset else {
            throw .damagedFile(path: path, reason: "\(what) runs past the end at byte \(offset)")
        }
    }

    public func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(VectorError) -> T {
        try need(MemoryLayout<T>.size, what)
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Copies `count` values into `destination`.
    public func read<T: BitwiseCopyable>(into destination: UnsafeMutablePointer<T>, count: Int, _ what: String) throws(VectorError) {
        let n = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !n.overflow else { throw .damagedFile(path: path, reason: "\(what) is too large") }
        try need(n.partialValue, what)
        UnsafeMutableRawPointer(destination).copyMemory(from: bytes + offset, byteCount: n.partialValue)
        offset += n.partialValue
    }

    public func readBytes(_ count: Int, _ what: String) throws(VectorError) -> [UInt8] {
        try need(count, what)
        defer { offset += count }
        return Array(UnsafeRawBufferPointer(start: bytes + offset, count: count))
    }

    /// A pointer to the next `count` values where they lie in ``contents``, without copying; valid
    /// while ``contents`` lives. The values must start at a multiple of their alignment in the file.
    public func borrow<T: BitwiseCopyable>(_: T.Type, count: Int, _ what: String) throws(VectorError) -> UnsafePointer<T> {
        let n = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !n.overflow else { throw .damagedFile(path: path, reason: "\(what) is too large") }
        try need(n.partialValue, what)
        guard offset % MemoryLayout<T>.alignment == 0 else {
            throw .damagedFile(path: path, reason: "\(what) at byte \(offset) is not aligned")
        }
        defer { offset += n.partialValue }
        return (bytes + offset).assumingMemoryBound(to: T.self)
    }

    /// Skips the zero bytes ``IndexFileWriter/pad(toMultipleOf:)`` wrote to reach a multiple of
    /// `alignment`.
    public func skipPadding(toMultipleOf alignment: Int, _ what: String) throws(VectorError) {
        let pad = (alignment - offset % alignment) % alignment
        try need(pad, what)
        offset += pad
    }

    public func damaged(_ reason: String) -> VectorError { .damagedFile(path: path, reason: reason) }
}
