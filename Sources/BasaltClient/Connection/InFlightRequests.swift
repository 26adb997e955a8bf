/// The requests outstanding on one connection, by stream id: a pure value (no I/O, time passed in).
///
/// Guarantees:
/// - At most ``capacity`` requests are outstanding; stream ids are `0 ..< capacity`, each used by
///   one request at a time, and a freed id is reused before a never-used one is taken.
/// - A response is matched to its request by stream id, in any order; a response on an id that
///   is not in use is ignored (returns nil).
/// - A request that passes its deadline is handed back once by ``expire(now:)``; its id stays
///   reserved (*orphaned*) until its late response arrives, because the server may still answer
///   on it and that answer must not be taken for a newer request's.
/// - ``failAll()`` hands back every waiting request once; the table is then empty.
struct InFlightRequests<Waiter> {
    private enum Slot {
        case free
        case waiting(Waiter, deadline: UInt64)
        case orphaned
    }

    let capacity: Int
    private var slots: [Slot]
    /// Free ids, the next one to use last.
    private var freeIDs: [Int16]
    private(set) var waitingCount = 0
    private(set) var orphanedCount = 0

    /// `capacity` is clamped to 1 ... 32 768, the positive stream ids of protocol v4.
    init(capacity: Int) {
        let n = min(max(capacity, 1), Int(Int16.max) + 1)
        self.capacity = n
        slots = Array(repeating: .free, count: n)
        freeIDs = (0 ..< n).reversed().map { Int16($0) }
    }

    /// Ids in use, waiting or orphaned.
    var inUse: Int { capacity - freeIDs.count }
    var isFull: Bool { freeIDs.isEmpty }

    /// Takes a stream id for `waiter`, nil when every id is in use.
    mutating func start(_ waiter: Waiter, deadline: UInt64) -> Int16? {
        guard let id = freeIDs.popLast() else { return nil }
        slots[Int(id)] = .waiting(waiter, deadline: deadline)
        waitingCount += 1
        return id
    }

    /// A response arrived on `id`: the request waiting for it, or nil (unknown id, or a late
    /// answer to an expired request). The id is free again either way if it was in use.
    mutating func complete(_ id: Int16) -> Waiter? {
        guard id >= 0, Int(id) < capacity else { return nil }
        switch slots[Int(id)] {
        case .free:
            return nil
        case .orphaned:
            orphanedCount -= 1
            release(id)
            return nil
        case let .waiting(waiter, _):
            waitingCount -= 1
            release(id)
            return waiter
        }
    }

    /// Requests whose deadline is before `now`, each handed back once; their ids become orphaned.
    mutating func expire(now: UInt64) -> [Waiter] {
        guard waitingCount > 0 else { return [] }
        var out: [Waiter] = []
        for i in slots.indices {
            if case let .waiting(waiter, deadline) = slots[i], deadline < now {
                slots[i] = .orphaned
                waitingCount -= 1
                orphanedCount += 1
                out.append(waiter)
            }
        }
        return out
    }

    /// Every waiting request, handed back once; every id is free again.
    mutating func failAll() -> [Waiter] {
        var out: [Waiter] = []
        out.reserveCapacity(waitingCount)
        for i in slots.indices {
            if case let .waiting(waiter, _) = slots[i] { out.append(waiter) }
            slots[i] = .free
        }
        freeIDs = (0 ..< capacity).reversed().map { Int16($0) }
        waitingCount = 0
        orphanedCount = 0
        return out
    }

    private mutating func release(_ id: Int16) {
        slots[Int(id)] = .free
        freeIDs.append(id)
    }
}
