import BasaltCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX wrappers that turn failures into ``StorageError/io(path:operation:errno:)``.
enum FileSystem {
    static func fail(_ path: String, _ op: String) -> StorageError { .io(path: path, operation: op, errno: errno) }

    static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw fail(prefix, "mkdir") }
            prefix += "/"
        }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func fileSize(_ path: String) throws -> Int {
        var st = stat()
        if stat(path, &st) != 0 { throw fail(path, "stat") }
        return Int(st.st_size)
    }

    /// Names in a directory (without "." and ".."), sorted.
    static func list(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw fail(path, "opendir") }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw fail(path, "unlink") }
    }

    /// Removes a directory tree.
    static func removeTree(_ path: String) throws {
        guard isDirectory(path) else { try remove(path); return }
        for name in try list(path) { try removeTree(path + "/" + name) }
        if rmdir(path) != 0 && errno != ENOENT { throw fail(path, "rmdir") }
    }

    /// Size and hard-link count of a file.
    static func sizeAndLinks(_ path: String) throws -> (size: Int, links: Int) {
        var st = stat()
        if stat(path, &st) != 0 { throw fail(path, "stat") }
        return (Int(st.st_size), Int(st.st_nlink))
    }

    /// Makes `to` another name of the file `from` (both on the same file system).
    static func hardLink(_ from: String, _ to: String) throws {
        if link(from, to) != 0 { throw fail(from, "link to \(to)") }
    }

    static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw fail(from, "rename to \(to)") }
    }

    /// Total size of the file system holding `path`, bytes (nil when it cannot be found).
    static func fileSystemBytes(_ path: String) -> Int? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int(st.f_blocks) * Int(st.f_frsize)
    }

    /// Asks the kernel to read a file into the page cache ahead of use (asynchronous readahead);
    /// failures are ignored, since it is only a hint.
    static func prefetch(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED)
        close(fd)
    }

    /// Makes a directory's entries (creations, renames, deletions) durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        if fd < 0 { throw fail(path, "open directory") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw fail(path, "fsync directory") }
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw fail(path, "open") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw fail(path, "fstat") }
        let size = Int(st.st_size)
        var out = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 { if errno == EINTR { continue }; throw fail(path, "read") }
            if n == 0 { break }
            done += n
        }
        if done < size { out.removeLast(size - done) }
        return out
    }

    /// Writes a whole file, fsyncs it, and returns. Used for small components written at once.
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let f = try WritableFile(path: path)
        try bytes.withUnsafeBytes { b in try f.write(b) }
        try f.sync()
        try f.close()
    }

    /// Writes a checksummed component and syncs it: `header`, the pieces `body` hands to the
    /// writer it is given, then the CRC32C of all of them as a little-endian `UInt32`.
    static func writeChecksummed(
        _ path: String, header: [UInt8], body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        let f = try WritableFile(path: path)
        var crc = Checksum.crc32c(header)
        try f.write(header)
        try body { piece in
            crc = Checksum.update(crc, piece)
            try f.write(piece)
        }
        var trailer = ByteWriter(capacity: 4)
        trailer.writeUInt32LE(crc)
        try f.write(trailer.bytes)
        try f.sync()
        try f.close()
    }
}

/// A file opened for appending, written with `write(2)` and made durable with `fsync(2)`.
final class WritableFile {
    let path: String
    private var fd: Int32
    private(set) var size = 0
    /// With `trickleSyncBytes` set, the file is fdatasync'ed each time that many bytes were
    /// written since the last sync, so a large file reaches the disk in steps instead of one burst
    /// at its final sync; a burst would queue ahead of the commit log's small syncs and stall
    /// writes.
    private let trickleSyncBytes: Int
    private var unsyncedBytes = 0

    init(path: String, truncate: Bool = true, trickleSyncBytes: Int = 0) throws {
        self.path = path
        self.trickleSyncBytes = trickleSyncBytes
        fd = open(path, O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND) | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileSystem.fail(path, "open for writing") }
        if !truncate {
            var st = stat()
            fstat(fd, &st)
            size = Int(st.st_size)
        }
    }

    /// Opens an existing file to write it again from its start, over what it holds, without
    /// truncating it (a preallocated commit-log segment). `size` counts the bytes written.
    init(overwriting path: String) throws {
        self.path = path
        trickleSyncBytes = 0
        fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw FileSystem.fail(path, "open for writing") }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 { if errno == EINTR { continue }; throw FileSystem.fail(path, "write") }
            done += n
        }
        size += bytes.count
        if trickleSyncBytes > 0 {
            unsyncedBytes += bytes.count
            if unsyncedBytes >= trickleSyncBytes { try sync() }
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { b in try write(b) }
    }

    func sync() throws {
        if fdatasync(fd) != 0 { throw FileSystem.fail(path, "fdatasync") }
        unsyncedBytes = 0
    }

    func close() throws {
        guard fd >= 0 else { return }
        let rc = Glibc.close(fd)
        fd = -1
        if rc != 0 { throw FileSystem.fail(path, "close") }
    }
}

/// An immutable file read with `pread`: its pages stay in the kernel's page cache, not in the
/// process (what is read is copied into buffers the caller owns, such as the chunk cache), so
/// memory use follows configuration rather than the size of the data touched. The descriptor
/// stays valid after the file is unlinked, so readers holding it are unaffected by compaction
/// deleting the file.
final class ReadOnlyFile: @unchecked Sendable {
    // @unchecked: `fd` and `size` never change after init; pread is safe from any thread.
    let path: String
    let size: Int
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileSystem.fail(path, "open") }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = FileSystem.fail(path, "fstat")
            Glibc.close(fd)
            throw e
        }
        self.fd = fd
        size = Int(st.st_size)
    }

    /// Reads exactly `count` bytes at `offset` into `buffer` (which must hold them).
    func read(at offset: Int, _ count: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < count {
            let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystem.fail(path, "pread")
            }
            if n == 0 { throw StorageError.corrupt(path: path, offset: offset + done, reason: "file ends before \(offset + count)") }
            done += n
        }
    }

    /// Calls `body` with the file's bytes up to `end` (its size when nil) in order, at most a
    /// megabyte at a time, through one reused buffer (valid only during the call): a whole
    /// component is never held in memory.
    func forEachPiece(to end: Int? = nil, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let end = end ?? size
        guard end > 0 else { return }
        var piece = [UInt8](repeating: 0, count: min(end, 1 << 20))
        var at = 0
        while at < end {
            let n = min(piece.count, end - at)
            try piece.withUnsafeMutableBytes { b in
                let part = UnsafeMutableRawBufferPointer(rebasing: b[0 ..< n])
                try read(at: at, n, into: part)
                try body(UnsafeRawBufferPointer(part))
            }
            at += n
        }
    }

    /// The kernel may drop the cached pages of `[offset, offset + count)` (data read once, such as
    /// compaction inputs, so it does not push hotter pages out).
    func dropCachedPages(_ offset: Int, _ count: Int) {
        _ = posix_fadvise(fd, off_t(offset), off_t(count), POSIX_FADV_DONTNEED)
    }

    deinit { Glibc.close(fd) }
}
