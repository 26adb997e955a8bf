import BasaltCore

/// Why a storage operation failed. Every case names what a user needs to act: the file and offset,
/// the table, the reason.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed on a file or directory.
    case io(path: String, operation: String, errno: Int32)
    /// A file's content is damaged or truncated: checksum mismatch, bad length, bad encoding.
    case corrupt(path: String, offset: Int, reason: String)
    /// The table id is not (or no longer) known to the engine.
    case unknownTable(UUIDValue)
    /// A bound was reached (memtable flush backlog, commit-log buffer); retry later.
    case overloaded(String)
    /// The mutation or command cannot be applied as given.
    case invalid(String)
    /// The engine was closed.
    case closed
    /// The commit log cannot be written (disk full, I/O error): writes are refused while it stays
    /// so (``CommitFailurePolicy``); `reason` says why, reads are not affected.
    case commitLogUnavailable(String)

    public var description: String {
        switch self {
        case let .io(path, op, e): "\(op) failed on \(path): \(String(cString: strerror(e))) (errno \(e))"
        case let .corrupt(path, offset, reason): "corrupt file \(path) at offset \(offset): \(reason)"
        case let .unknownTable(id): "unknown table id \(id)"
        case let .overloaded(why): "overloaded: \(why)"
        case let .invalid(why): "invalid request: \(why)"
        case .closed: "storage engine is closed"
        case let .commitLogUnavailable(reason): "writes refused: the commit log cannot be written: \(reason)"
        }
    }

    /// The failure in words a log line or a client message can start with: for a system call,
    /// the error first (`no space left on device (write on …, errno 28)`).
    public var summary: String {
        switch self {
        case let .io(path, op, e):
            let text = String(cString: strerror(e))
            return text.prefix(1).lowercased() + text.dropFirst() + " (\(op) on \(path), errno \(e))"
        default:
            return description
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
