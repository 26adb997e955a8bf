import BasaltCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file written by ``IndexFileWriter``: the whole file is read into memory and its magic,
/// version and checksum are verified before any field is parsed; every read is bounds-checked and
/// a short or inconsistent file is ``VectorError/damagedFile(path:reason:)``, never a crash.
public final class IndexFileReader {
    public let path: String
    public let version: UInt16
    private let bytes: UnsafeMutableRawBufferPointer
    /// End of the body (the checksum follows).
    private let end: Int
    private var offset = 0

    public init(path: String, magic: String, supportedVersions: ClosedRange<UInt16>) throws(VectorError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        let size = Int(st.st_size)
        let magicBytes = Array(magic.utf8)
        guard size >= magicBytes.count + 2 + 4 else { throw .damagedFile(path: path, reason: "only \(size) bytes") }
        bytes = .allocate(byteCount: size, alignment: 64)
        var done = 0
        while done < size {
            let n = Glibc.read(fd, bytes.baseAddress! + done, size - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                bytes.deallocate()
                throw n == 0 ? .damagedFile(path: path, reason: "truncated while reading") : .io(path: path, operation: "read", errno: errno)
            }
            done += n
        }
        end = size - 4
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: end, as: UInt32.self))
        let computed = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: bytes[0 ..< end]))
        guard stored == computed else {
            bytes.deallocate()
            throw .damagedFile(path: path, reason: "checksum mismatch (stored \(stored), computed \(computed))")
        }
        guard Array(bytes[0 ..< magicBytes.count]) == magicBytes else {
            bytes.deallocate()
            throw .damagedFile(path: path, reason: "not a \(magic) file")
        }
        offset = magicBytes.count
        version = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        offset += 2
        guard supportedVersions.contains(version) else {
            bytes.deallocate()
            throw .damagedFile(path: path, reason: "format version \(version) is not one of \(supportedVersions)")
        }
    }

    deinit { bytes.deallocate() }

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
        UnsafeMutableRawPointer(destination).copyMemory(from: bytes.baseAddress! + offset, byteCount: n.partialValue)
        offset += n.partialValue
    }

    public func readBytes(_ count: Int, _ what: String) throws(VectorError) -> [UInt8] {
        try need(count, what)
        defer { offset += count }
        return Array(bytes[offset ..< offset + count])
    }

    public func damaged(_ reason: String) -> VectorError { .damagedFile(path: path, reason: reason) }
}
