#if canImport(Glibc)
import Glibc
#endif
import BasaltCore
import BasaltStorage
import Synchronization

/// Cassandra's audit log, as one line per event (logins, successful or not, and statements) in
/// `<directory>/audit.log`, rolled to `audit.log.1` … `audit.log.<maxFiles>` when it exceeds
/// `maxLogSize` bytes. Lines are written by one background thread from a bounded queue: a full
/// queue drops lines (counted in ``dropped``) rather than slowing clients.
///
/// Line format: `time=<µs since epoch>|category=<AUTH|QUERY|DDL|DCL>|type=<…>|user=<role>|client=<address>|operation=<text>`.
public final class AuditLog: Sendable {
    public struct Settings: Hashable, Sendable {
        public var directory: String
        public var maxLogSize: Int = 16 << 20
        public var maxFiles = 10
        public init(directory: String) { self.directory = directory }
    }

    public struct Event: Sendable {
        public var category: String
        public var type: String
        public var role: String
        public var address: String
        public var operation: String
    }

    public let settings: Settings
    public let dropped = Atomic<Int>(0)
    public let written = Atomic<Int>(0)
    let clock: any Clock
    let writer: BackgroundExecutor
    let file: Mutex<(fd: Int32, size: Int)>

    public init(settings: Settings, clock: any Clock) throws(FileError) {
        self.settings = settings
        self.clock = clock
        mkdir(settings.directory, 0o750)
        let fd = Self.openLog(settings.directory)
        guard fd >= 0 else { throw FileError(path: settings.directory + "/audit.log", operation: "open", errno: errno) }
        var st = stat()
        fstat(fd, &st)
        file = Mutex((fd, Int(st.st_size)))
        writer = BackgroundExecutor(name: "audit-log", threads: 1, queueLimit: 65_536)
    }

    static func openLog(_ directory: String) -> Int32 {
        open(directory + "/audit.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
    }

    /// Queues one line; never blocks on disk.
    public func record(_ e: Event) {
        let line = "time=\(clock.now().micros)|category=\(e.category)|type=\(e.type)|user=\(e.role)|client=\(e.address)|operation=\(Self.oneLine(e.operation))\n"
        if !writer.submit({ self.write(Array(line.utf8)) }) { dropped.add(1, ordering: .relaxed) }
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }

    func write(_ bytes: [UInt8]) {
        file.withLock { f in
            if f.size + bytes.count > settings.maxLogSize, f.size > 0 { roll(&f) }
            let n = bytes.withUnsafeBytes { Glibc.write(f.fd, $0.baseAddress, $0.count) }
            if n > 0 { f.size += n }
        }
        written.add(1, ordering: .relaxed)
    }

    /// audit.log → audit.log.1 → … ; the oldest beyond `maxFiles` is removed.
    func roll(_ f: inout (fd: Int32, size: Int)) {
        Glibc.close(f.fd)
        let base = settings.directory + "/audit.log"
        unlink("\(base).\(settings.maxFiles)")
        if settings.maxFiles > 1 {
            for i in stride(from: settings.maxFiles - 1, through: 1, by: -1) { rename("\(base).\(i)", "\(base).\(i + 1)") }
        }
        rename(base, "\(base).1")
        f = (Self.openLog(settings.directory), 0)
    }

    /// Writes what is queued and closes the file.
    public func close() {
        writer.shutdown(dropQueued: false)
        file.withLock { f in
            if f.fd >= 0 { Glibc.close(f.fd) }
            f.fd = -1
        }
    }
}
