/// Append-only memory for a memtable's skiplist nodes, keys and partition fragments: large chunks
/// allocated once and freed together when the memtable goes away. Allocations never move, so the
/// skiplist links them with plain pointers.
///
/// Not thread-safe; the owning ``Memtable`` serialises access.
struct MemtableArena {
    static let chunkSize = 1 << 20
    private var chunks: [UnsafeMutableRawPointer] = []
    private var next: UnsafeMutableRawPointer?
    private var left = 0
    /// Bytes handed out (what the memtable's size limit counts).
    private(set) var usedBytes = 0

    /// `n` bytes, 8-byte aligned, valid until `free()`.
    @inline(__always)
    mutating func allocate(_ n: Int) -> UnsafeMutableRawPointer {
        let size = (n + 7) & ~7
        if size > left {
            let cap = Swift.max(Self.chunkSize, size)
            let c = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 8)
            chunks.append(c)
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
        for c in chunks { c.deallocate() }
    }
}
