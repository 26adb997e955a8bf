#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open hint segment file, written with `pwrite(2)` at explicit offsets and read with
/// `pread(2)`. The descriptor is closed only when the last reference goes away, so the sync
/// thread and readers holding a reference never see it closed or reused under them (an unlinked
/// file stays readable and syncable through it).
final class HintFile: Sendable {
    let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { _ = Glibc.close(fd) }

    /// Creates a new file; fails if one exists at `path`.
    static func create(_ path: String) throws(StorageError) -> HintFile {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileSystem.fail(path, "create") }
        return HintFile(path: path, fd: fd)
    }

    /// Opens an existing file for reading; nil when it does not exist (any more).
    static func openForReading(_ path: String) throws(StorageError) -> HintFile? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw FileSystem.fail(path, "open")
        }
        return HintFile(path: path, fd: fd)
    }

    func size() throws(StorageError) -> Int {
        var st = stat()
        if fstat(fd, &st) != 0 { throw FileSystem.fail(path, "fstat") }
        return Int(st.st_size)
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StorageError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystem.fail(path, "write")
            }
            done += n
        }
    }

    func write(_ bytes: [UInt8], at offset: Int) throws(StorageError) {
        var failure: StorageError?
        bytes.withUnsafeBytes { b in
            do throws(StorageError) { try write(b, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Up to `count` bytes from `offset`: fewer only where the file ends.
    func read(count: Int, at offset: Int) throws(StorageError) -> [UInt8] {
        var failure: StorageError?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            while initialized < count {
                let n = pread(fd, buffer.baseAddress! + initialized, count - initialized, off_t(offset + initialized))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = FileSystem.fail(path, "read")
                    return
                }
                if n == 0 { return }
                initialized += n
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Makes everything written so far durable (`fdatasync`, which covers the file's size).
    func sync() throws(StorageError) {
        if fdatasync(fd) != 0 { throw FileSystem.fail(path, "fdatasync") }
    }
}
