#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and crash-safe replacement of small files (identity, generation).
///
/// Guarantee of ``replace(_:with:)``: after a crash at any point the file holds either its old
/// contents or the new ones, never a mix — the bytes go to `path.tmp`, are fsynced, renamed over
/// `path`, and the directory is fsynced so the rename itself is durable.
public enum AtomicFile {
    /// The file's bytes, or nil when it does not exist. Files over `limit` bytes are an error.
    public static func read(_ path: String, limit: Int = 1 << 20) throws(FileError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw FileError(path: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0 ..< n])
            if out.count > limit { throw FileError(path: path, operation: "read", message: "larger than \(limit) bytes") }
        }
        return out
    }

    /// Replaces `path` with `bytes` atomically and durably.
    public static func replace(_ path: String, with bytes: [UInt8]) throws(FileError) {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: tmp, operation: "create", errno: errno) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                throw FileError(path: tmp, operation: "write", errno: e)
            }
            written += n
        }
        if fsync(fd) != 0 {
            let e = errno
            close(fd)
            throw FileError(path: tmp, operation: "fsync", errno: e)
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw FileError(path: path, operation: "rename", errno: errno) }
        try syncDirectory(of: path)
    }

    /// Fsyncs the directory holding `path`, making a rename or creation in it durable.
    public static func syncDirectory(of path: String) throws(FileError) {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: dir, operation: "open directory", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError(path: dir, operation: "fsync directory", errno: errno) }
    }
}

/// A file operation that failed, naming the file.
public struct FileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var message: String

    public init(path: String, operation: String, message: String) {
        self.path = path
        self.operation = operation
        self.message = message
    }

    public init(path: String, operation: String, errno code: Int32) {
        self.init(path: path, operation: operation, message: String(cString: strerror(code)))
    }

    public var description: String { "cannot \(operation) \(path): \(message)" }
}
