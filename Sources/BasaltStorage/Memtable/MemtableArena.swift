/// Append-only memory for a memtable's keys and partition fragments: large chunks allocated once,
/// freed together when the memtable goes away. A reference is `chunk << 32 | offset`.
///
/// Not thread-safe; the owning ``Memtable`` serialises access.
struct MemtableArena {
    static let chunkSize = 1 << 20
    private(set) var chunks: [UnsafeMutableRawPointer] = []
    private var used = 0
    private var capacity = 0
    /// Bytes obtained from the allocator.
    private(set) var allocatedBytes = 0
    /// Bytes handed out (what the memtable's size limit counts).
    private(set) var usedBytes = 0

    /// Space for `n` bytes, 8-byte aligned; returns its reference.
    mutating func allocate(_ n: Int) -> Int {
        let size = (n + 7) & ~7
        if used + size > capacity {
            let cap = Swift.max(Self.chunkSize, size)
            chunks.append(UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 8))
            allocatedBytes += cap
            used = 0
            capacity = cap
        }
        let ref = (chunks.count - 1) << 32 | used
        used += size
        usedBytes += size
        return ref
    }

    @inline(__always)
    func pointer(_ ref: Int) -> UnsafeMutableRawPointer {
        chunks[ref >> 32] + (ref & 0xffff_ffff)
    }

    func free() {
        for c in chunks { c.deallocate() }
    }
}
