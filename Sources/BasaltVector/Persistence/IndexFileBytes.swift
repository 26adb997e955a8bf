#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of one index file in memory: read into the heap, or mapped read-only from the file.
/// An ``IndexFileReader`` holds it while parsing; a graph that leaves its float vectors in a
/// mapped file holds it for as long as it lives, and the mapping goes when the last holder does.
///
/// A mapping stays valid while the file is replaced, because index files are only ever replaced
/// by renaming a new file over them (``IndexFileWriter/finish()``): the mapped inode lives on
/// until it is unmapped. Truncating a mapped file in place would make reads of the lost pages
/// fault; nothing in Basalt does that.
public final class IndexFileBytes: @unchecked Sendable {
    // @unchecked: immutable after init, and the memory it points to is never written once the
    // initialiser has filled it.
    public let base: UnsafeRawPointer
    public let count: Int
    /// Whether `base` is a mapping of the file (else a heap copy).
    public let isMapped: Bool

    /// Reads `count` bytes of `fd` into the heap (`path` names it in errors).
    init(reading fd: Int32, count: Int, path: String) throws(VectorError) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        var done = 0
        while done < count {
            let n = read(fd, buffer + done, count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                buffer.deallocate()
                throw n == 0 ? .damagedFile(path: path, reason: "truncated while reading") : .io(path: path, operation: "read", errno: errno)
            }
            done += n
        }
        base = UnsafeRawPointer(buffer)
        self.count = count
        isMapped = false
    }

    /// Maps `count` bytes of `fd` read-only.
    init(mapping fd: Int32, count: Int, path: String) throws(VectorError) {
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw .io(path: path, operation: "mmap", errno: errno)
        }
        base = UnsafeRawPointer(p)
        self.count = count
        isMapped = true
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}
