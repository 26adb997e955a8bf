/// Append-only memory for a memtable's skiplist nodes, keys and partition fragments: large chunks
/// mapped from the OS once (so a flushed memtable's memory goes back to the OS at once, not into the
/// allocator's free lists) and unmapped together when the memtable goes away. Allocations never
/// move, so the skiplist links them with plain pointers.
///
/// Not thread-safe; the owning ``Memtable`` serialises access.
struct MemtableArena {
    static let chunkSize = 1 << 20
    private var chunks: [(UnsafeMutableRawPointer, Int)] = []
    private var next: UnsafeMutableRawPointer?
    private var left = 0
    /// Bytes handed out (what the memtable's size limit counts).
    private(set) var usedBytes = 0

    /// `n` bytes, 8-byte aligned, valid until `free()`.
    @inline(__always)
    mutating func allocate(_ n: Int) -> UnsafeMutableRawPointer {
        let size = (n + 7) & ~7
        if size > left {
            let cap = (Swift.max(Self.chunkSize, size) + 4095) & ~4095
            guard let m = mmap(nil, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), m != MAP_FAILED else {
                // Out of address space or memory: nothing sensible remains to be done.
                fatalError("memtable arena: mmap of \(cap) bytes failed (errno \(errno))")
            }
            let c = m
            chunks.append((c, cap))
            next = c
            left = cap
        }
        let p = next!
        next = p + size
        left -= size
        usedBytes += size
        return p
    }

    func free() {
        for (c, n) in chunks { munmap(c, n) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
