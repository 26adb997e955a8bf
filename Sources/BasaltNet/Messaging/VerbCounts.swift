import Synchronization

/// Counts per verb code (internode messages dropped or timed out), cheap enough for the loops: one
/// relaxed atomic add at a slot indexed by the code, with no lookup. Codes at or above ``slots``
/// share the last slot.
final class VerbCounts: @unchecked Sendable {
    // @unchecked: `counts` points at atomics allocated once in init and freed in deinit.
    static let slots = 128
    private let counts: UnsafeMutablePointer<Atomic<Int>>

    init() {
        counts = .allocate(capacity: Self.slots)
        for i in 0 ..< Self.slots { (counts + i).initialize(to: Atomic<Int>(0)) }
    }

    deinit {
        _ = counts.deinitialize(count: Self.slots)
        counts.deallocate()
    }

    @inline(__always)
    func bump(_ code: UInt16) {
        counts[min(Int(code), Self.slots - 1)].wrappingAdd(1, ordering: .relaxed)
    }

    /// Code → count, for the codes counted at least once.
    func snapshot() -> [UInt16: Int] {
        var out: [UInt16: Int] = [:]
        for slot in 0 ..< Self.slots {
            let n = counts[slot].load(ordering: .relaxed)
            if n > 0 { out[UInt16(slot)] = n }
        }
        return out
    }
}
