import BasaltCore
import BasaltProtocol

/// Values loaded from `system_auth`, kept for a validity period (Cassandra's
/// `credentials_validity` / `permissions_validity`): younger than `updateInterval` a value is
/// used as is; between `updateInterval` and `validity` it is used while a reload runs in the
/// background; older it is loaded again before use. Changes made through this node invalidate
/// its entries at once; other nodes see them within `validity`.
final class ValidityCache<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `entries` and `refreshing` are only touched under `lock`.
    struct Entry {
        var value: Value
        var loadedAt: UInt64
    }

    enum Hit {
        case fresh(Value)
        case stale(Value)
        case miss
    }

    let validityNanos: UInt64
    let updateIntervalNanos: UInt64
    let maxEntries: Int
    private let lock = Lock()
    private var entries: [String: Entry] = [:]
    private var refreshing: Set<String> = []

    init(validityNanos: UInt64, updateIntervalNanos: UInt64, maxEntries: Int = 10_000) {
        self.validityNanos = validityNanos
        self.updateIntervalNanos = min(updateIntervalNanos, validityNanos)
        self.maxEntries = maxEntries
    }

    /// The cached value, or a fresh one from `load`; `now` in monotonic nanoseconds.
    func get(_ key: String, now: UInt64, load: @escaping @Sendable () async throws(CQLError) -> Value) async throws(CQLError) -> Value {
        let hit: Hit = lock.withLock {
            guard validityNanos > 0, let e = entries[key], now >= e.loadedAt else { return .miss }
            let age = now - e.loadedAt
            if age < updateIntervalNanos { return .fresh(e.value) }
            if age < validityNanos, refreshing.insert(key).inserted { return .stale(e.value) }
            return age < validityNanos ? .fresh(e.value) : .miss
        }
        switch hit {
        case let .fresh(v): return v
        case let .stale(v):
            Task {
                if let fresh = try? await load() { self.put(key, fresh, now: now) }
                _ = self.lock.withLock { self.refreshing.remove(key) }
            }
            return v
        case .miss:
            let v = try await load()
            put(key, v, now: now)
            return v
        }
    }

    func put(_ key: String, _ value: Value, now: UInt64) {
        guard validityNanos > 0 else { return }
        lock.withLock {
            if entries.count >= maxEntries, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, loadedAt: now)
        }
    }

    func invalidateAll() { lock.withLock { entries.removeAll() } }
}
