#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BasaltCore

/// A node's data directory, created when missing and held with an exclusive lock (`flock` on
/// `basalt.lock`) for as long as this value is open, so two processes never share one directory.
/// The lock dies with the process, so a killed node never leaves a stale lock behind.
public final class DataDirectory: Sendable {
    public let path: String
    private let lockDescriptor: Int32

    /// Creates `path` (and its parents) if needed and locks it.
    public init(opening path: String) throws(FileError) {
        let clean = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        try Self.makeDirectories(clean)
        let lockPath = clean + "/basalt.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: lockPath, operation: "open", errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK {
                throw FileError(path: clean, operation: "lock", message: "another basalt process is using this data directory")
            }
            throw FileError(path: lockPath, operation: "lock", errno: e)
        }
        self.path = clean
        lockDescriptor = fd
    }

    deinit {
        flock(lockDescriptor, LOCK_UN)
        close(lockDescriptor)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws(FileError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw FileError(path: prefix, operation: "create directory", errno: errno)
            }
            prefix += "/"
        }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw FileError(path: path, operation: "use", message: "not a directory")
        }
    }
}
