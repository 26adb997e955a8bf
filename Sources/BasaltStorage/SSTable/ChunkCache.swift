import BasaltCore

/// A bounded cache of decompressed SSTable chunks shared by all tables, keyed by (reader, chunk).
///
/// Eviction is CLOCK (second chance), an approximation of LRU with O(1) hits. The capacity bounds
/// the bytes of cached chunks; 0 disables the cache.
final class ChunkCache: @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`.
    struct Key: Hashable {
        var reader: Int
        var chunk: Int
    }

    private struct Slot {
        var key: Key
        var bytes: [UInt8]
        var referenced: Bool
    }

    private let lock = Lock()
    private var map: [Key: Int] = [:]
    private var slots: [Slot] = []
    private var hand = 0
    private var freeSlots: [Int] = []
    private(set) var sizeBytes = 0
    let capacityBytes: Int
    private(set) var hits = 0
    private(set) var misses = 0

    var statistics: (hits: Int, misses: Int) { lock.withLock { (hits, misses) } }

    init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    func get(_ key: Key) -> [UInt8]? {
        lock.withLock {
            guard let i = map[key] else {
                misses += 1
                return nil
            }
            hits += 1
            slots[i].referenced = true
            return slots[i].bytes
        }
    }

    func put(_ key: Key, _ bytes: [UInt8]) {
        guard capacityBytes > 0, !bytes.isEmpty, bytes.count <= capacityBytes / 4 else { return }
        lock.withLock {
            if map[key] != nil { return }
            while sizeBytes + bytes.count > capacityBytes && map.count > 0 { evictOne() }
            let slot = Slot(key: key, bytes: bytes, referenced: false)
            if let f = freeSlots.popLast() {
                slots[f] = slot
                map[key] = f
            } else {
                slots.append(slot)
                map[key] = slots.count - 1
            }
            sizeBytes += bytes.count
        }
    }

    private func evictOne() {
        while true {
            if hand >= slots.count { hand = 0 }
            let i = hand
            hand += 1
            guard map[slots[i].key] == i, !slots[i].bytes.isEmpty else { continue }
            if slots[i].referenced {
                slots[i].referenced = false
                continue
            }
            map[slots[i].key] = nil
            sizeBytes -= slots[i].bytes.count
            slots[i].bytes = []
            freeSlots.append(i)
            return
        }
    }

    /// Drops every chunk of a reader (its SSTable was deleted or quarantined).
    func invalidate(reader: Int) {
        lock.withLock {
            for (k, i) in map where k.reader == reader {
                map[k] = nil
                sizeBytes -= slots[i].bytes.count
                slots[i].bytes = []
                freeSlots.append(i)
            }
        }
    }
}
