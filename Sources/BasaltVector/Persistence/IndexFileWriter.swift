import BasaltCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a vector index file crash-safely: bytes go through a buffer to `path.tmp` with a running
/// CRC-32C; ``finish()`` appends the checksum, fsyncs, renames over `path` and fsyncs the
/// directory, so `path` holds either nothing, the old file, or the whole new one.
///
/// Layout of every index file: 4-byte magic, UInt16 format version, the body (little-endian
/// numbers, written by the file's owner), then the CRC-32C of everything before it (UInt32 LE).
public final class IndexFileWriter {
    public let path: String
    /// The format version in the file's header: the owner writes the layout of that version.
    public let version: UInt16
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var crc: UInt32 = 0
    public private(set) var bytesWritten = 0

    public init(path: String, magic: String, version: UInt16) throws(VectorError) {
        self.path = path
        self.version = version
        fd = open(path + ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path + ".tmp", operation: "create", errno: errno) }
        buffer.reserveCapacity(1 << 20)
        write(Array(magic.utf8))
        write(version)
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    public func write(_ raw: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: raw)
    }

    public func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    /// `count` values from `pointer`, in the host's (little-endian) layout.
    public func write<T: BitwiseCopyable>(_ pointer: UnsafePointer<T>, count: Int) {
        write(UnsafeRawBufferPointer(start: pointer, count: count * MemoryLayout<T>.stride))
    }

    /// Bytes from the start of the file to the next one written.
    public var position: Int { bytesWritten + buffer.count }

    /// Writes zero bytes up to the next multiple of `alignment` from the start of the file, so a
    /// reader that maps the file can use what follows in place.
    public func pad(toMultipleOf alignment: Int) {
        let pad = (alignment - position % alignment) % alignment
        buffer.append(contentsOf: repeatElement(0, count: pad))
    }

    /// Sends the buffer to the file once it is large.
    public func flushIfLarge() throws(VectorError) {
        if buffer.count >= 1 << 20 { try drain() }
    }

    private func drain() throws(VectorError) {
        crc = buffer.withUnsafeBytes { CRC32C.update(crc, $0) }
        var done = 0
        let total = buffer.count
        while done < total {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, total - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path + ".tmp", operation: "write", errno: errno)
            }
            done += n
        }
        bytesWritten += total
        buffer.removeAll(keepingCapacity: true)
    }

    /// Appends the checksum and publishes the file at `path`.
    public func finish() throws(VectorError) {
        precondition(fd >= 0, "index file \(path) finished or abandoned twice")
        try drain()
        write(crc)
        let tail = buffer
        buffer = []
        let n = tail.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        guard n == tail.count else { throw .io(path: path + ".tmp", operation: "write", errno: errno) }
        bytesWritten += n
        guard fsync(fd) == 0 else { throw .io(path: path + ".tmp", operation: "fsync", errno: errno) }
        close(fd)
        fd = -1
        guard rename(path + ".tmp", path) == 0 else { throw .io(path: path, operation: "rename", errno: errno) }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let dfd = open(dir, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Abandons the write and removes the temporary file (also done when an unfinished writer
    /// goes away).
    public func abandon() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(path + ".tmp")
    }

    deinit { abandon() }
}
